"""Hyperparameter sweep: for each optimizer run at several settings, a heatmap of the median
final value per setting, its declared defaults outlined (defaults as stored with the run)."""

from __future__ import annotations

from gesbench import analysis as metrics
from gesbench.report.content import Section
from gesbench.report.figures.sweep import sweep_figure
from gesbench.report.model import RunData
from gesbench.report.sections.base import FINISHED, Need, ReportSection
from gesbench.report.writer import Writer

TEXT = (
    "Median final value over repetitions of each swept setting; the optimizer's default "
    "setting is outlined in red; hatched cells had diverged runs (counted as +inf)."
)

SWEPT = Need(
    lambda run: not metrics.sweep_grid(run.trials, run.finals).empty,
    "no optimizer was run at several settings.",
    quiet=True,
)


def draw(run: RunData, out: Writer) -> Section | None:
    grid = metrics.sweep_grid(run.trials, run.finals)
    figures = []
    for optimizer, sub in grid.groupby("optimizer", sort=False):
        sub = sub.dropna(axis=1, how="all")
        defaults = run.optimizer_info(str(optimizer)).get("defaults", {})
        fig = sweep_figure(sub, defaults, run.value_label)
        if fig is not None:
            caption = f"Median final {run.value_label} of each {optimizer} setting."
            figures.append(out.figure(f"sweep_{optimizer}", fig, caption, sub))
    if not figures:
        return None
    return Section("Hyperparameter sweep", (TEXT,), figures=tuple(figures))


SECTION = ReportSection("sweep", "Hyperparameter sweep", draw, needs=(FINISHED, SWEPT))
