"""Alignment: the cosine between a fresh surrogate draw and the true gradient along each
method's own trajectory (problems with a true gradient only)."""

from __future__ import annotations

from gesbench.analysis.curves import summarize
from gesbench.report.content import Section
from gesbench.report.figures.curves import curve_grid
from gesbench.report.model import RunData
from gesbench.report.sections.base import ALIGNMENT, FINISHED, ReportSection
from gesbench.report.writer import Writer


def draw(run: RunData, out: Writer) -> Section | None:
    curves = summarize(run.trace_data, run.budget_axis, "alignment", kind="alignment")
    if curves.summary.empty:
        return None
    fig = curve_grid(
        curves.summary,
        [run.budget_axis],
        run.colors,
        log_y=False,
        title="Alignment along each method's own trajectory",
    )
    caption = "Cosine between a fresh surrogate draw and the true gradient at x_t."
    return Section("Alignment", figures=(out.figure("alignment", fig, caption, curves.summary),))


SECTION = ReportSection("alignment", "Alignment", draw, needs=(FINISHED, ALIGNMENT))
