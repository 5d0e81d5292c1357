"""Convergence: the value of each method against iterations, loss evaluations, surrogate
calls and wall time (median over repetitions, seeded 95% bootstrap band)."""

from __future__ import annotations

import pandas as pd

from gesbench.analysis.curves import summarize
from gesbench.report.content import Section
from gesbench.report.figures.curves import curve_grid
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer

X_AXES = ("iteration", "evaluations", "gradient_calls", "wall_time")

TEXT = (
    "Median over repetitions with a seeded 95% percentile-bootstrap band. Repetitions are "
    "aligned on the union of their logged x values by step interpolation of the current "
    "value (the true loss at the optimizer's recommendation when last logged), and shown "
    "only where every repetition has been logged. Failed trials are left out (see above)."
)


def draw(run: RunData, out: Writer) -> Section | None:
    traces = run.traces
    curves = pd.concat(
        [
            summarize(traces[traces["problem_label"] == p], x, y, seed=SEED)
            for p, y in run.y_names.items()
            for x in X_AXES
        ],
        ignore_index=True,
    )
    if curves.empty:
        return None
    fig = curve_grid(curves, X_AXES, run.colors, log_y=True, title="Convergence")
    caption = "Convergence against iterations, loss evaluations, surrogate calls, wall time."
    return Section(
        "Convergence", (TEXT,), figures=(out.figure("convergence", fig, caption, curves),)
    )


SECTION = ReportSection("convergence", "Convergence", draw, needs=(FINISHED,))
