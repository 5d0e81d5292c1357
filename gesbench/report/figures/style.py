"""What every figure of a report shares: method colours and dash patterns, axis names,
legends, a fresh figure, and the step lines of ECDFs and profiles.

A method's colour and dash come from a hash of its label, not from its position in the
spec, so "Guided ES" looks the same in every figure of every report. Two labels of one run
that hash to the same colour are told apart: the later one in label order takes the next free
colour (and, past the palette's ten colours, a free dash). Figures are
:class:`matplotlib.figure.Figure` objects made here, never through pyplot, so drawing a report
leaves matplotlib's global state (backend, open figures, rcParams) alone.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

Colors = Mapping[str, tuple[float, float, float]]

PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
    "#56B4E9", "#000000", "#882255", "#999933", "#777777",
)  # fmt: skip
"""Okabe and Ito's colour-blind-safe colours (yellow left out: unreadable on white) and
three of Paul Tol's (wine, olive, grey)."""

LINE_STYLES = ("-", "--", "-.", ":")
HASH_SALT = "39"
"""Salt of the label hash, chosen so that the built-in specs' method labels (Guided ES,
Vanilla ES, Gradient descent, CMA-ES, Separable CMA-ES, ...) get distinct colours."""
MANY_METHODS = 10
"""Beyond this many methods, bands and per-seed lines are left out (they could not be read)."""

FONT = 9.0
"""Legend and label size in points; figures are sized so that the HTML shows them at about
their natural size, where 9 pt is as legible as the page's own text."""
DPI = 130
MAX_WIDTH = 10.5
"""Widest figure in inches: at :data:`DPI` it fits the HTML page (1400 px) unscaled."""

AXIS_LABELS = {
    "iteration": "iterations",
    "evaluations": "loss evaluations",
    "gradient_calls": "surrogate-gradient calls",
    "cost": "budget spent (cost)",
    "wall_time": "wall time (s, log scale)",
    "loss": "loss f(x)",
    "excess_loss": "excess loss f(x) - f*",
    "value": "loss (excess loss where f* known)",
    "alignment": "cosine(surrogate, true gradient)",
}


def _hash(label: str, salt: str) -> int:
    return int(hashlib.sha256(f"{salt}:{label}".encode()).hexdigest(), 16)


def method_styles(labels: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(colour, dash) per label from a hash of the label: the same in every report, distinct
    within one (colours first, then dashes past ten methods)."""
    out: dict[str, tuple[str, str]] = {}
    used: set[tuple[str, str]] = set()
    for label in sorted(dict.fromkeys(labels)):
        h = _hash(label, HASH_SALT)
        colours = [PALETTE[(h + i) % len(PALETTE)] for i in range(len(PALETTE))]
        dashes = [LINE_STYLES[(h // 7 + i) % len(LINE_STYLES)] for i in range(len(LINE_STYLES))]
        taken = {c for c, _ in used}
        free = [c for c in colours if c not in taken]
        if free:
            choice = (free[0], dashes[0])
        else:  # more methods than colours: a free (colour, dash) pair, near the hashed one
            choice = next(
                ((c, d) for d in dashes for c in colours if (c, d) not in used),
                (colours[0], dashes[0]),
            )
        used.add(choice)
        out[label] = choice
    return out


def method_colors(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """The colour of each method (see :func:`method_styles`), in the given order (the spec's),
    so figures list methods in that order."""
    styles = method_styles(labels)
    return {label: to_rgb(styles[label][0]) for label in labels}


def line_style(label: str, colors: Colors) -> str:
    """The dash pattern of a method (see :func:`method_styles`): a second cue besides colour."""
    return method_styles(colors)[label][1] if label in colors else "-"


def palette(n: int) -> list[tuple[float, float, float]]:
    """``n`` colours of :data:`PALETTE` (cycled past ten) as RGB tuples, for figures whose
    lines are not methods (theory curves)."""
    return [to_rgb(PALETTE[i % len(PALETTE)]) for i in range(n)]


def wrapped(text: str, width: float, fontsize: float = FONT) -> str:
    """``text`` broken into lines of at most ``width`` inches at ``fontsize`` (a generous
    0.6 em per character): constrained layout makes room for a tall title, not a wide one."""
    return textwrap.fill(text, width=max(8, int(width * 72 / (0.6 * fontsize))))


def new_figure(width: float, height: float) -> Figure:
    """A figure of the given size in inches (width capped at :data:`MAX_WIDTH`) with
    constrained layout, outside pyplot."""
    return Figure(figsize=(min(width, MAX_WIDTH), height), layout="constrained", dpi=DPI)


def figure_legend(
    fig: Figure, handles: list[Any], labels: list[str], title: str, *, where: str = "top"
) -> None:
    """One legend for the whole figure, above the panels (or beside them), in as many columns
    as fit the width, at :data:`FONT` points."""
    if not handles:
        return
    if where == "top":
        longest = max(len(x) for x in labels)
        per_row = max(1, int(fig.get_figwidth() * 72 / (FONT * 0.62 * longest + 40)))
        fig.legend(
            handles,
            labels,
            loc="outside upper center",
            fontsize=FONT,
            title=title or None,
            title_fontsize=FONT,
            ncols=min(len(handles), per_row),
            frameon=False,
        )
    else:
        rows = max(6, int(fig.get_figheight() * 5))
        fig.legend(
            handles,
            labels,
            loc="outside right upper",
            fontsize=FONT - 1,
            title=title or None,
            title_fontsize=FONT - 1,
            ncols=-(-len(handles) // rows),
        )


def legend(ax: Axes, title: str = "") -> None:
    """A legend inside the axes, or beside the figure when there are many methods."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    fig = ax.figure
    if len(handles) > MANY_METHODS and isinstance(fig, Figure):  # keep long legends off curves
        figure_legend(fig, handles, labels, title, where="right")
    else:
        ax.legend(fontsize=FONT - 1, title=title or None, title_fontsize=FONT - 1)


def style_axes(ax: Axes) -> None:
    """Tick labels at a legible size, a light grid, and on a log y axis plain numbers
    (0.2, 0.5) where it spans under two decades, powers of ten only where it spans more."""
    ax.tick_params(which="both", labelsize=FONT - 1)
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_yscale() == "log":
        low, high = ax.get_ylim()
        if low > 0 and np.log10(high) - np.log10(low) < 2:  # ticks at 1, 2 and 5 per decade
            ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
        else:
            ax.yaxis.set_minor_formatter(NullFormatter())


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
