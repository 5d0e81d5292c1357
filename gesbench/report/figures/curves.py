"""Median curves with order-statistic bands (convergence, alignment), from
:func:`gesbench.analysis.curves.summarize` tables.

On a log y axis the range is set by where the methods start and how low they get, never by a
method that blows up: a curve that leaves the top of the axis (or diverges, +inf) is cut
there, with a triangle on the top edge where it left. Wall time is drawn on a log axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gesbench.analysis.stats import format_coverage
from gesbench.report.figures.style import (
    AXIS_LABELS,
    FONT,
    MANY_METHODS,
    MAX_WIDTH,
    Colors,
    figure_legend,
    line_style,
    new_figure,
    style_axes,
    wrapped,
)

LOG_X = frozenset({"wall_time"})
"""x axes drawn on a log scale."""
HEADROOM = 10**0.5
"""How far above the highest starting value a log y axis reaches (half a decade)."""
PANEL_HEIGHT = 2.4
LOG_RANGE = (1e-200, 1e200)
"""The widest log y axis drawn; values beyond it leave the axis like a diverging curve."""


def band_description(curves: pd.DataFrame) -> str:
    """What the band is, from the ranks and coverage stored with the curves:
    'band: [min, max] of 5 repetitions (93.75% coverage of the median)'."""
    if curves.empty or "low_rank" not in curves:
        return "median over repetitions"
    kinds = curves.drop_duplicates(["n", "low_rank", "high_rank"])
    parts = []
    for r in kinds.head(3).to_dict("records"):
        n, low, high = int(r["n"]), int(r["low_rank"]), int(r["high_rank"])
        bounds = "[min, max]" if low == 1 else f"[x({low}), x({high})]"
        if n == 1:
            parts.append("no band for 1 repetition")
        else:
            parts.append(f"{bounds} of {n}, a {format_coverage(r['coverage'])} CI")
    more = " ..." if len(kinds) > 3 else ""
    return "median over repetitions; band: " + "; ".join(parts) + more + " of the median"


def y_limits(panel: pd.DataFrame) -> tuple[float, float] | None:
    """Log-axis limits from the panel's curves: the highest starting median plus headroom,
    and the lowest positive finite median or band value, kept within :data:`LOG_RANGE`
    (matplotlib cannot tick a log axis near the ends of the float range). None if nothing
    positive is finite."""
    median = panel["median"].to_numpy(dtype=float)
    finite = panel[np.isfinite(median) & (median > 0)]
    if finite.empty:
        return None
    starts = finite.sort_values("x").groupby("label", sort=False)["median"].first()
    top = min(float(starts.max()) * HEADROOM, LOG_RANGE[1])
    values = np.concatenate([finite["median"].to_numpy(), panel["low"].to_numpy(dtype=float)])
    values = values[np.isfinite(values) & (values > 0) & (values <= top)]
    bottom = float(values.min()) / 10**0.15 if len(values) else float(starts.min()) / 10
    bottom = max(min(bottom, top / 10), LOG_RANGE[0])
    return (bottom, max(top, bottom * 10))


def inside(y: np.ndarray, top: float | None) -> int:
    """How many leading points of ``y`` stay on the axis (finite and at most ``top``)."""
    out = ~np.isfinite(y) if top is None else ~(np.isfinite(y) & (y <= top))
    hits = np.flatnonzero(out)
    return int(hits[0]) if len(hits) else len(y)


def draw_curve(
    ax: Axes,
    c: pd.DataFrame,
    seeds: pd.DataFrame,
    color: Any,
    dash: str,
    *,
    top: float | None,
    band: bool,
) -> None:
    """One method's median, band and per-seed lines on ``ax``, cut where they leave it."""
    x = c["x"].to_numpy(dtype=float)
    median = c["median"].to_numpy(dtype=float)
    keep = inside(median, top)
    for _, s in seeds.groupby("repetition", sort=False):
        sy = s["value"].to_numpy(dtype=float)
        k = inside(sy, top)
        ax.plot(s["x"].to_numpy()[:k], sy[:k], color=color, lw=0.6, alpha=0.35, zorder=1)
    if band and keep > 0:
        low = c["low"].to_numpy(dtype=float)[:keep]
        high = c["high"].to_numpy(dtype=float)[:keep]
        if top is not None:
            high = np.where(np.isfinite(high), np.minimum(high, top), top)
        else:
            high = np.where(np.isfinite(high), high, np.nan)
        ax.fill_between(x[:keep], low, high, color=color, alpha=0.18, lw=0, zorder=2)
    ax.plot(x[:keep], median[:keep], color=color, ls=dash, lw=1.7, zorder=3)
    if keep < len(x):  # it leaves the axis (or diverges) here: mark where
        y_mark = top if top is not None else (median[keep - 1] if keep else np.nan)
        if np.isfinite(y_mark):
            ax.plot([x[keep]], [y_mark], marker="^", ms=7, color=color, clip_on=False, zorder=4)


def curve_grid(
    curves: pd.DataFrame,
    x_names: Sequence[str],
    colors: Colors,
    *,
    log_y: bool,
    seeds: pd.DataFrame | None = None,
    title: str = "",
) -> Figure:
    """Median lines with order-statistic bands: one row per problem, one column per x axis,
    one legend for the figure (above it, with what the band is).

    Methods that never spend a counter (e.g. no loss evaluations) have no curve against it;
    the panel says so instead of drawing a vertical line at zero. With more than
    ``MANY_METHODS`` methods (a sweep) bands and per-seed lines are left out.
    """
    seeds = seeds if seeds is not None else curves.iloc[:0].assign(repetition=0, value=0.0)
    problems = list(dict.fromkeys(curves["problem_label"]))
    labels = [label for label in colors if label in set(curves["label"])]
    many = len(labels) > MANY_METHODS
    panels = [(p, x) for p in problems for x in x_names]
    # One row per problem with several x axes; a single axis wraps problems into columns.
    ncols = len(x_names) if len(x_names) > 1 else min(3, len(problems))
    nrows = -(-len(panels) // ncols)
    width = min(2.65 * ncols + 0.5, MAX_WIDTH)
    fig = new_figure(width, PANEL_HEIGHT * nrows + 0.9 + 0.2 * (len(labels) // 4))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_visible(False)
    for index, (problem, x_name) in enumerate(panels):
        row, col = divmod(index, ncols)
        ax = axes[row][col]
        in_problem = curves[curves["problem_label"] == problem]
        seeds_problem = seeds[seeds["problem_label"] == problem] if len(seeds) else seeds
        panel = in_problem[in_problem["x_name"] == x_name]
        if x_name in LOG_X:
            panel = panel[panel["x"] > 0]
        limits = y_limits(panel) if log_y else None
        top = limits[1] if limits else None
        missing = []
        for label in labels:
            c = panel[panel["label"] == label]
            if c.empty:
                if label in set(in_problem["label"]):
                    missing.append(label)
                continue
            s = seeds_problem
            if len(s) and not many:
                s = s[(s["x_name"] == x_name) & (s["label"] == label)]
                if x_name in LOG_X:
                    s = s[s["x"] > 0]
            else:
                s = s.iloc[:0]
            draw_curve(ax, c, s, colors[label], line_style(label, colors), top=top, band=not many)
        if missing:
            names = "\n".join(missing) if len(missing) <= 3 else f"{len(missing)} methods"
            note = ax.text(
                0.03,
                0.03,
                f"no curve (never spent):\n{names}",
                transform=ax.transAxes,
                fontsize=FONT - 2,
                va="bottom",
                alpha=0.8,
            )
            note.set_in_layout(False)
        y_name = in_problem["y_name"].iloc[0] if len(in_problem) else ""
        ax.set_xlabel(AXIS_LABELS.get(x_name, x_name), fontsize=FONT)
        if col == 0:
            ax.set_ylabel(AXIS_LABELS.get(y_name, y_name), fontsize=FONT)
        if col == 0 or len(x_names) == 1:
            # A problem's title runs over the panels to its right, if there are any.
            room = width / ncols * (ncols - col if len(x_names) > 1 else 1) - 0.45
            ax.set_title(wrapped(str(problem), room, FONT + 0.5), fontsize=FONT + 0.5, loc="left")
        if log_y and limits is not None:
            ax.set_ylim(*limits)  # before the scale: a single point has no log range
            ax.set_yscale("log")
        if x_name in LOG_X and len(panel):
            ax.set_xscale("log")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        style_axes(ax)
    handles = [
        Line2D([], [], color=colors[label], ls=line_style(label, colors), lw=1.8)
        for label in labels
    ]
    described = band_description(curves) if not many else "median (bands left out: many methods)"
    figure_legend(fig, handles, labels, f"{title}\n{described}" if title else described)
    return fig
