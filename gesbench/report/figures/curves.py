"""Median curves with bootstrap bands (convergence, alignment), from
:func:`gesbench.analysis.curves.summarize` tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gesbench.report.figures.style import (
    AXIS_LABELS,
    MANY_METHODS,
    Colors,
    figure_legend,
    legend,
    line_style,
    new_figure,
)


def curve_grid(
    curves: pd.DataFrame,
    x_names: Sequence[str],
    colors: Colors,
    *,
    log_y: bool,
    log_x: bool = False,
    title: str = "",
) -> Figure:
    """Median lines with 95% bootstrap bands: one row per problem, one column per x axis.

    Methods that never spend a counter (e.g. no loss evaluations) have no curve against it;
    the panel says so instead of drawing a vertical line at zero. With more than
    ``MANY_METHODS`` methods (a sweep) the bands are left out, or nothing could be read.
    """
    problems = list(dict.fromkeys(curves["problem_label"]))
    many = curves["label"].nunique() > MANY_METHODS
    fig = new_figure(4.6 * len(x_names) + (6.0 if many else 0), 3.6 * len(problems))
    axes = fig.subplots(len(problems), len(x_names), squeeze=False)
    handles: dict[str, Any] = {}
    for row, problem in enumerate(problems):
        in_problem = curves[curves["problem_label"] == problem]
        for col, x_name in enumerate(x_names):
            ax = axes[row][col]
            sub = in_problem[in_problem["x_name"] == x_name]
            missing = []
            for label in colors:
                c = sub[sub["label"] == label]
                if c.empty:
                    if label in set(in_problem["label"]):
                        missing.append(label)
                    continue
                (handles[label],) = ax.plot(
                    c["x"],
                    c["median"],
                    color=colors[label],
                    ls=line_style(label, colors),
                    lw=1.6,
                    label=f"{label} (n={c['n'].iloc[0]})",
                )
                if not many:
                    ax.fill_between(
                        c["x"], c["low"], c["high"], color=colors[label], alpha=0.2, lw=0
                    )
            if missing:
                names = ", ".join(missing) if len(missing) <= 3 else f"{len(missing)} methods"
                ax.text(
                    0.02,
                    0.02,
                    f"no curve (counter stays 0): {names}",
                    transform=ax.transAxes,
                    fontsize=7,
                    va="bottom",
                )
            y_name = in_problem["y_name"].iloc[0] if len(in_problem) else ""
            ax.set_xlabel(AXIS_LABELS.get(x_name, x_name))
            ax.set_ylabel(AXIS_LABELS.get(y_name, y_name))
            ax.set_title(problem, fontsize=10)
            if log_y and (sub["median"] > 0).any():
                ax.set_yscale("log")
            if log_x:
                ax.set_xscale("symlog", linthresh=1)
            ax.grid(True, which="major", alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            if col == 0 and not many:
                legend(ax, "median, 95% bootstrap CI")
    if many:
        ordered = [handles[label] for label in colors if label in handles]
        figure_legend(
            fig,
            ordered,
            [str(h.get_label()) for h in ordered],
            "median (bands left out: many methods)",
        )
    if title:
        fig.suptitle(title)
    return fig
