"""COCO-style runtime ECDFs, from :func:`gesbench.analysis.runtime_ecdf` tables: all
problems pooled, then one panel per problem."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gesbench.report.figures.style import (
    FONT,
    MAX_WIDTH,
    Colors,
    figure_legend,
    line_style,
    new_figure,
    step_lines,
    style_axes,
    wrapped,
)


def ecdf_figure(ecdf: pd.DataFrame, colors: Colors, x_label: str, subtitle: str) -> Figure:
    """Share of (trial, target) pairs reached against budget (log x), one line per method,
    one panel per ``problem_label`` of ``ecdf`` ('all problems' first), up to 3 per row."""
    panels = list(dict.fromkeys(ecdf["problem_label"]))
    if "all problems" in panels:
        panels.remove("all problems")
        panels.insert(0, "all problems")
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    labels = [x for x in colors if x in set(ecdf["label"])]
    width = min(3.4 * ncols + 0.3, MAX_WIDTH)
    fig = new_figure(width, 2.6 * nrows + 1.0)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for i, problem in enumerate(panels):
        ax = axes.ravel()[i]
        sub = ecdf[(ecdf["problem_label"] == problem) & (ecdf["x"] > 0)]
        step_lines(ax, sub, "x", colors)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        runs = sub.groupby("label")["runs"].first()
        counts = f" ({int(runs.iloc[0])} pairs per method)" if runs.nunique() == 1 else ""
        ax.set_title(wrapped(f"{problem}{counts}", width / ncols - 0.45), fontsize=FONT, loc="left")
        if i % ncols == 0:
            ax.set_ylabel("fraction of (trial, target)\npairs reached", fontsize=FONT)
        if i >= len(panels) - ncols:
            ax.set_xlabel(f"{x_label} (log scale)", fontsize=FONT)
        style_axes(ax)
    handles = [Line2D([], [], color=colors[x], ls=line_style(x, colors), lw=1.8) for x in labels]
    figure_legend(fig, handles, labels, f"Runtime ECDF: {subtitle}")
    return fig
