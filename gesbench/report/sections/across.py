"""Across problems: the runtime ECDF (COCO style), Dolan-More performance profiles and
pairwise win rates, each pooling every problem of the run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench import analysis as metrics
from gesbench.report.content import Section
from gesbench.report.figures.ecdf import ecdf_figure
from gesbench.report.figures.profile import profile_figure
from gesbench.report.figures.win_rate import win_rate_figure
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer

PROFILE_TAUS = (0.5, 0.1, 0.01)

TEXT = (
    "Runtime ECDF (COCO style): for each problem, targets are log-spaced fractions of the "
    "initial gap (excess loss where f* is known, else the gap to the best loss any method "
    "logged); a (trial, target) pair counts as reached at the first logged budget where "
    "the best-so-far gap is at or below the target. Performance profiles (Dolan-More): an "
    "instance (problem x repetition) is solved once f <= f_L + tau (f_0 - f_L), f_L the "
    "best value any method logged on it; the profile is the share of instances solved "
    "within a factor of the fastest method's budget. Win rate: share of instances where "
    "the row method ends lower than the column method (ties 1/2), with a 95% bootstrap CI "
    "over instances."
)


def draw(run: RunData, out: Writer) -> Section:
    traces = run.traces
    references = {
        p: v
        for p, v in metrics.best_logged(traces, "value").items()
        if run.y_names.get(p) == "loss"
    }
    goals = metrics.targets(traces, "value", references=references)
    hits = metrics.hitting_times(traces, goals, "cost", "value")
    finite = hits["hit"][np.isfinite(hits["hit"]) & (hits["hit"] > 0)]
    top = float(traces["cost"].max())
    low = float(finite.min()) if len(finite) else 1.0
    grid = np.unique(np.concatenate([[0.0], np.geomspace(low, max(top, low), 300)]))
    ecdf = metrics.runtime_ecdf(hits, grid)
    subtitle = (
        f"{goals['relative'].nunique()} targets per problem, log-spaced from "
        f"{goals['relative'].max():.2g} to {goals['relative'].min():.2g} of the initial gap"
    )
    figures = [
        out.figure(
            "ecdf",
            ecdf_figure(ecdf, run.colors, run.budget_label, subtitle),
            "Runtime ECDF over all problems, trials and targets.",
            ecdf,
        )
    ]
    out.csv("ecdf_hits", hits)
    costs = pd.concat(
        [metrics.solve_costs(traces, "cost", "value", tau) for tau in PROFILE_TAUS],
        ignore_index=True,
    )
    ratios = np.geomspace(1, 1000, 300)
    profiles = pd.concat(
        [
            metrics.performance_profile(c, ratios).assign(tau=tau)
            for tau, c in costs.groupby("tau", sort=False)
        ],
        ignore_index=True,
    )
    figures.append(
        out.figure(
            "performance_profile",
            profile_figure(profiles, run.colors, run.budget_label),
            "Dolan-More performance profiles.",
            profiles,
        )
    )
    rates = metrics.win_rate(run.finals, seed=SEED)
    figures.append(
        out.figure("win_rate", win_rate_figure(rates, run.labels), "Pairwise win rates.", rates)
    )
    return Section("Across problems", (TEXT,), figures=tuple(figures))


SECTION = ReportSection("across_problems", "Across problems", draw, needs=(FINISHED,))
