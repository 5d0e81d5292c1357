"""Across problems: Dolan-More performance profiles and pairwise win rates, each pooling
every problem of the run."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench import analysis as metrics
from gesbench.report.content import Section
from gesbench.report.figures.profile import profile_figure
from gesbench.report.figures.win_rate import win_rate_figure
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer

PROFILE_TAUS = (0.5, 0.1, 0.01)

TEXT = (
    "Performance profiles (Dolan-More): an instance (problem x repetition) is solved once "
    "f <= f_L + tau (f_0 - f_L), f_L the best value any method logged on it; the profile is "
    "the share of instances solved within a factor of the fastest method's budget. Win "
    "rate: share of instances where the row method ends lower than the column method (ties "
    "1/2); on one problem its 95% interval is Clopper-Pearson (exact), across several it "
    "comes from a seeded bootstrap that resamples problems, then repetitions within them "
    "(never narrower than Clopper-Pearson over all instances)."
)


def draw(run: RunData, out: Writer) -> Section:
    traces = run.trace_data
    costs = pd.concat(
        [metrics.solve_costs(traces, "cost", "value", tau) for tau in PROFILE_TAUS],
        ignore_index=True,
    )
    figures = []
    if len(costs):
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
    if len(rates):
        figures.append(
            out.figure("win_rate", win_rate_figure(rates, run.labels), "Pairwise win rates.", rates)
        )
    return Section("Across problems", (TEXT,), figures=tuple(figures))


SECTION = ReportSection("across_problems", "Across problems", draw, needs=(FINISHED,))
