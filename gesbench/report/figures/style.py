"""What every figure of a report shares: method colours and dash patterns, axis names,
legends, a fresh figure, and the step lines of ECDFs and profiles.

Figures are :class:`matplotlib.figure.Figure` objects made here, never through pyplot, so
drawing a report leaves matplotlib's global state (backend, open figures, rcParams) alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

Colors = Mapping[str, tuple[float, float, float]]

PALETTE = (
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)  # fmt: skip
"""Seaborn's 'colorblind' palette (Okabe-Ito-like), spelled out so no figure needs seaborn."""

LINE_STYLES = ("-", "--", "-.", ":")
MANY_METHODS = 10
"""Beyond this many methods, bands and in-axes legends are left out (they could not be read)."""

AXIS_LABELS = {
    "iteration": "iterations",
    "evaluations": "loss evaluations",
    "gradient_calls": "surrogate-gradient calls",
    "cost": "budget spent",
    "wall_time": "wall time (s)",
    "loss": "loss f(x)",
    "excess_loss": "excess loss f(x) - f*",
    "alignment": "cosine(surrogate, true gradient)",
}


def palette(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours of :data:`PALETTE` (cycled past ten) as RGB tuples."""
    return [to_rgb(PALETTE[i % len(PALETTE)]) for i in range(n)]


def method_colors(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour-blind-safe colour per method, in the given order, so a method keeps its
    colour across every figure of a report."""
    return dict(zip(labels, palette(len(labels)), strict=True))


def line_style(label: str, colors: Colors) -> str:
    """A dash pattern per method, a second cue besides colour (overlapping curves, similar
    hues, greyscale print); colour and dash together stay unique for 20 methods."""
    return LINE_STYLES[list(colors).index(label) % len(LINE_STYLES)]


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size in inches with constrained layout, outside pyplot."""
    return Figure(figsize=(width, height), layout="constrained")


def figure_legend(fig: Figure, handles: list[Any], labels: list[str], title: str) -> None:
    """A legend beside the figure, in as many columns as its height needs."""
    rows = max(6, int(fig.get_figheight() * 6))
    fig.legend(
        handles,
        labels,
        loc="outside right upper",
        fontsize=6,
        title=title,
        title_fontsize=7,
        ncols=-(-len(handles) // rows),
    )


def legend(ax: Axes, title: str = "") -> None:
    """A legend inside the axes, or beside the figure when there are many methods."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    fig = ax.figure
    if len(handles) > MANY_METHODS and isinstance(fig, Figure):  # keep long legends off curves
        figure_legend(fig, handles, labels, title)
    else:
        ax.legend(fontsize=8, title=title, title_fontsize=8)


def step_lines(ax: Axes, frame: pd.DataFrame, x_name: str, colors: Colors) -> None:
    """One post-step line of ``fraction`` against ``x_name`` per method (ECDFs, profiles)."""
    for label in colors:
        c = frame[frame["label"] == label]
        if not c.empty:
            ax.step(
                c[x_name],
                c["fraction"],
                where="post",
                color=colors[label],
                ls=line_style(label, colors),
                lw=1.6,
                label=label,
            )
