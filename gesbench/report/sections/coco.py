"""Runtime measures as COCO and IOHanalyzer report them: runtime ECDFs (all problems pooled,
then each problem), the area under each ECDF, and the expected running time (ERT) with
success rates per target, every trial counted (failed ones as unsuccessful)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench import analysis as metrics
from gesbench.report import formatting as fmt
from gesbench.report.content import ReportTable, Section
from gesbench.report.figures.ecdf import ecdf_figure
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.sections.verdict import best_labels
from gesbench.report.writer import Writer

DECADES, PER_DECADE = 3.0, 5
SHOWN_TARGETS = (1e-1, 1e-2, 1e-3)
"""Targets (relative to the initial gap) shown in the ERT table; the CSV has all of them."""

TEXT = (
    "Targets per problem: {targets} log-spaced fractions of the initial gap, from {top:.2g} to "
    "{bottom:.2g} (the gap is the excess loss where f* is known, else the loss above the best "
    "any method logged). A (trial, target) pair is reached at the first logged budget where "
    "the best-so-far gap is at or below the target; failed and diverged trials reach no "
    "target (a diverged run ends with no usable point) and stay in the denominator. "
    "Area: the area under the ECDF over the log budget axis, normalised to [0, 1] (higher "
    "is better). ERT (expected running time): the budget all runs spent (successful ones "
    "until they reached the target) divided by the number that reached it, i.e. the "
    "expected budget of restarting until a run succeeds; its interval is a seeded 95% "
    "bootstrap over runs, the success rate's is Clopper-Pearson."
)


def area_table(ecdf: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, frozenset]:
    """Areas as a problem x method table (bold: the largest per row)."""
    areas = metrics.ecdf_area(ecdf)
    wide = areas.pivot_table(
        index="problem_label", columns="label", values="area", aggfunc="first", sort=False
    )
    columns = [x for x in labels if x in wide.columns]
    rows, bold = [], set()
    for i, (problem, row) in enumerate(wide[columns].iterrows()):
        values = row.to_numpy(dtype=float)
        top = np.nanmax(values) if np.isfinite(values).any() else np.nan
        rows.append([problem, *("" if np.isnan(v) else f"{v:.2f}" for v in values)])
        bold |= {(i, j + 1) for j, v in enumerate(values) if np.isfinite(top) and v == top}
    return pd.DataFrame(rows, columns=["problem", *columns]), frozenset(bold)


def ert_table(ert: pd.DataFrame, labels: list[str]) -> tuple[pd.DataFrame, frozenset]:
    """ERT at the shown targets as a (problem, target) x method table (bold: the lowest)."""
    shown = ert[np.isclose(ert["relative"].to_numpy(dtype=float)[:, None],
                           np.array(SHOWN_TARGETS)[None, :]).any(axis=1)]  # fmt: skip
    columns = [x for x in labels if x in set(shown["label"])]
    rows, bold = [], set()
    keys = shown[["problem_label", "relative"]].drop_duplicates().to_numpy().tolist()
    for i, (problem, relative) in enumerate(keys):
        part = shown[(shown["problem_label"] == problem) & (shown["relative"] == relative)]
        by_label = {r["label"]: r for r in part.to_dict("records")}
        cells = [problem, f"{relative:g}"]
        best = best_labels(part.rename(columns={"ert": "median"}))
        for j, label in enumerate(columns, start=2):
            r = by_label.get(label)
            if r is None:
                cells.append("")
                continue
            runs = f"{int(r['successes'])}/{int(r['runs'])}"
            if r["ert"] == np.inf:
                cells.append(f"∞ ({runs})")
            else:
                ci = fmt.interval(r["ert_low"], r["ert_high"])
                cells.append(f"{fmt.number(r['ert'])} {ci} ({runs})")
            if label in best:
                bold.add((i, j))
        rows.append(cells)
    return pd.DataFrame(rows, columns=["problem", "target", *columns]), frozenset(bold)


def draw(run: RunData, out: Writer) -> Section | None:
    traces = run.trace_data
    references = {
        p: v
        for p, v in metrics.best_logged(traces, "value").items()
        if run.y_names.get(p) == "loss"
    }
    goals = metrics.targets(traces, "value", references=references, decades=DECADES,
                            per_decade=PER_DECADE)  # fmt: skip
    if goals.empty:
        return Section(
            "Runtimes (COCO)",
            notice="Not drawn: no problem has a positive finite initial gap to set targets by.",
        )
    hits = metrics.hitting_times(traces, goals, "cost", "value", trials=run.trials)
    out.csv("ecdf_hits", hits)
    finite = hits["hit"][np.isfinite(hits["hit"]) & (hits["hit"] > 0)]
    spent = hits["spent"][np.isfinite(hits["spent"]) & (hits["spent"] > 0)]
    top = float(spent.max()) if len(spent) else 1.0
    low = float(finite.min()) if len(finite) else min(1.0, top)
    grid = np.unique(np.concatenate([[0.0], np.geomspace(low, max(top, low), 200)]))
    pooled = metrics.runtime_ecdf(hits, grid)
    per_problem = metrics.runtime_ecdf(hits, grid, per_problem=True)
    several = hits["problem_label"].nunique() > 1
    ecdf = pd.concat([pooled, per_problem] if several else [per_problem], ignore_index=True)
    subtitle = (
        f"{goals['relative'].nunique()} targets per problem, {goals['relative'].max():.2g} "
        f"to {goals['relative'].min():.2g} of the initial gap"
    )
    figure = out.figure(
        "ecdf",
        ecdf_figure(ecdf, run.colors, run.budget_label, subtitle),
        "Runtime ECDFs: all problems pooled, then each problem.",
        ecdf,
    )
    areas, area_bold = area_table(ecdf, run.labels)
    area_csv = out.csv("ecdf_area", metrics.ecdf_area(ecdf))
    ert = metrics.expected_running_time(hits, seed=SEED)
    ert_csv = out.csv("ert", ert)
    erts, ert_bold = ert_table(ert, run.labels)
    text = TEXT.format(
        targets=goals["relative"].nunique(),
        top=goals["relative"].max(),
        bottom=goals["relative"].min(),
    )
    tables = (
        ReportTable(
            "Area under the runtime ECDF (log budget; higher is better)",
            areas,
            area_csv,
            bold=area_bold,
        ),
        ReportTable(
            f"ERT in {run.budget_label} [95% CI] (runs that reached the target / runs), at "
            "targets relative to the initial gap (lowest in bold)",
            erts,
            ert_csv,
            bold=ert_bold,
        ),
    )
    return Section("Runtimes (COCO)", (text,), tables, figures=(figure,))


SECTION = ReportSection("runtimes", "Runtimes (COCO)", draw, needs=(FINISHED,))
