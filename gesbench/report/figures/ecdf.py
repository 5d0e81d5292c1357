"""The COCO-style runtime ECDF, from :func:`gesbench.analysis.runtime_ecdf` tables."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from gesbench.report.figures.style import MANY_METHODS, Colors, legend, new_figure, step_lines


def ecdf_figure(ecdf: pd.DataFrame, colors: Colors, x_label: str, subtitle: str) -> Figure:
    """Share of (trial, target) pairs reached against budget (log x), one line per method."""
    fig = new_figure(6.4 + (2.2 if len(colors) > MANY_METHODS else 0), 4.2)
    ax = fig.subplots()
    step_lines(ax, ecdf, "x", colors)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel("fraction of (trial, target) pairs reached")
    ax.set_title(f"Runtime ECDF\n{subtitle}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    legend(ax)
    return fig
