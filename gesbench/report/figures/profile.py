"""Dolan-More performance profiles, from :func:`gesbench.analysis.performance_profile`
tables."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gesbench.report.figures.style import (
    FONT,
    Colors,
    figure_legend,
    line_style,
    new_figure,
    step_lines,
    style_axes,
)


def profile_figure(profiles: pd.DataFrame, colors: Colors, x_label: str) -> Figure:
    """One panel per convergence tolerance ``tau``: share of instances solved within a factor
    of the fastest method's budget."""
    taus = sorted(profiles["tau"].unique(), reverse=True)
    labels = [x for x in colors if x in set(profiles["label"])]
    fig = new_figure(3.4 * len(taus) + 0.3, 3.6)
    axes = fig.subplots(1, len(taus), squeeze=False, sharey=True)
    for i, (ax, tau) in enumerate(zip(axes[0], taus, strict=True)):
        sub = profiles[profiles["tau"] == tau]
        step_lines(ax, sub, "ratio", colors)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"budget / fastest method's\n({x_label}, log scale)", fontsize=FONT)
        if i == 0:
            ax.set_ylabel("fraction of instances solved", fontsize=FONT)
        instances = int(sub["instances"].iloc[0]) if len(sub) else 0
        ax.set_title(f"tau = {tau:g} ({instances} instances)", fontsize=FONT, loc="left")
        style_axes(ax)
    handles = [Line2D([], [], color=colors[x], ls=line_style(x, colors), lw=1.8) for x in labels]
    figure_legend(fig, handles, labels, "solved when f <= f_L + tau (f_0 - f_L)")
    return fig
