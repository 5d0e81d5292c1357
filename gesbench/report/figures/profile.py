"""Dolan-More performance profiles, from :func:`gesbench.analysis.performance_profile`
tables."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from gesbench.report.figures.style import Colors, legend, new_figure, step_lines


def profile_figure(profiles: pd.DataFrame, colors: Colors, x_label: str) -> Figure:
    """One panel per convergence tolerance ``tau``: share of instances solved within a factor
    of the fastest method's budget."""
    taus = sorted(profiles["tau"].unique(), reverse=True)
    fig = new_figure(4.6 * len(taus) + 1.5, 3.9)
    axes = fig.subplots(1, len(taus), squeeze=False)
    for ax, tau in zip(axes[0], taus, strict=True):
        sub = profiles[profiles["tau"] == tau]
        step_lines(ax, sub, "ratio", colors)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"performance ratio (budget / best budget; {x_label})")
        ax.set_ylabel("fraction of instances solved")
        instances = int(sub["instances"].iloc[0]) if len(sub) else 0
        ax.set_title(f"tau = {tau:g} ({instances} instances)", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    legend(axes[0][-1])
    fig.suptitle("Performance profiles: solved when f <= f_L + tau (f_0 - f_L)")
    return fig
