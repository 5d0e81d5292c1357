"""Convergence: the value of each method against the run's budget axis first, then the other
counters and wall time (median over repetitions with its order-statistic band, each
repetition's own curve beneath when there are at most ten)."""

from __future__ import annotations

import pandas as pd

from gesbench.analysis.curves import SEED_CURVES, summarize
from gesbench.report.content import ReportFigure, Section
from gesbench.report.figures.curves import curve_grid
from gesbench.report.figures.style import AXIS_LABELS
from gesbench.report.model import RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer

PROBLEMS_PER_FIGURE = 4
"""Problems per convergence figure; more problems make convergence_2, convergence_3, ..."""

TEXT = (
    "Median over repetitions, with the distribution-free order-statistic interval of the "
    "median as the band (its ranks and actual coverage at this repetition count are in the "
    f"legend); with at most {SEED_CURVES} repetitions each one is drawn as a thin line. "
    "Each repetition's current value (the true loss at the optimizer's recommendation when "
    "last logged) is read off a fixed log-spaced grid per axis; a finished repetition keeps "
    "its final value after its last logged point, a diverged one is +inf from where it "
    "diverged. A curve that leaves the top of the axis, or diverges, is cut there and "
    "marked with a triangle; the y range never follows it. Failed trials are left out (see "
    "Trials)."
)


def curves_of(run: RunData, x_names: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Summary and per-seed curves of the run's value against each of ``x_names``."""
    data = run.trace_data
    parts = [summarize(data, x, "value") for x in x_names]
    summary = pd.concat([p.summary for p in parts], ignore_index=True)
    seeds = pd.concat([p.seeds for p in parts], ignore_index=True)
    names = summary["problem_label"].map(run.y_names)
    summary["y_name"] = names.where(names.notna(), "value")
    if len(seeds):
        names = seeds["problem_label"].map(run.y_names)
        seeds["y_name"] = names.where(names.notna(), "value")
    return summary, seeds


def draw(run: RunData, out: Writer) -> Section | None:
    x_names = run.x_axes
    summary, seeds = curves_of(run, x_names)
    if summary.empty:
        return None
    out.csv("convergence_seeds", seeds)
    problems = list(dict.fromkeys(summary["problem_label"]))
    figures: list[ReportFigure] = []
    for start in range(0, len(problems), PROBLEMS_PER_FIGURE):
        chunk = problems[start : start + PROBLEMS_PER_FIGURE]
        part = summary[summary["problem_label"].isin(chunk)]
        fig = curve_grid(
            part,
            x_names,
            run.colors,
            log_y=True,
            seeds=seeds[seeds["problem_label"].isin(chunk)] if len(seeds) else seeds,
        )
        name = "convergence" if start == 0 else f"convergence_{start // PROBLEMS_PER_FIGURE + 1}"
        axes = ", ".join(AXIS_LABELS.get(x, x).split(" (")[0] for x in x_names)
        which = f" ({', '.join(chunk)})" if len(problems) > PROBLEMS_PER_FIGURE else ""
        caption = f"Convergence of the {run.value_label} against {axes}{which}."
        data = part if len(problems) > PROBLEMS_PER_FIGURE else summary
        figures.append(out.figure(name, fig, caption, data))
    return Section("Convergence", (TEXT,), figures=tuple(figures))


SECTION = ReportSection("convergence", "Convergence", draw, needs=(FINISHED,))
