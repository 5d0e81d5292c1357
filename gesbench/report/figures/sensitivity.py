"""Sensitivity of a tuned method to its tuned parameters, from
:func:`gesbench.analysis.tuning.tuning_points` tables.

One figure per method: a panel per (tuned parameter, problem) with the final value of every
tuning trial (one point per tuning seed; diverged or failed trials as crosses along the top),
the median per value (a line per rung for successive halving), the selected value (solid line)
and the optimizer's declared default (dashed line; named in the title when it lies far
outside the values tried).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from gesbench.report.figures.style import new_figure

MAX_COLUMNS = 4
FONT = 9.0
"""Text size in points (labels and legends), as in the other report figures."""


def _numeric(values: pd.Series) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def _log_x(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and max(positive) / min(positive) >= 10


def _near(value: Any, tried: Sequence[float], log: bool) -> bool:
    """Whether a default value fits on an axis spanning ``tried`` (within a factor 3 beyond
    either end on a log axis, a third of the span on a linear one)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    low, high = min(tried), max(tried)
    if log:
        return value > 0 and low / 3 <= value <= high * 3
    pad = (high - low) / 3 or abs(high) or 1.0
    return low - pad <= value <= high + pad


def _top(finite: pd.Series, medians: pd.Series, log: bool) -> float:
    """Where the y axis ends: above every finite value, but on a log axis at most 10^6 times
    the lowest median (and not below 1), so that a diverging value does not flatten the rest."""
    if not len(finite):
        return 1.0
    highest = float(finite.max()) * (3 if log else 1.1)
    best = medians[np.isfinite(medians)]
    if log and len(best) and best.min() > 0:
        return min(highest, max(float(best.min()) * 1e6, 1.0))
    return highest


def sensitivity_figure(
    points: pd.DataFrame,
    params: Sequence[str],
    problems: Sequence[str],
    selected: Mapping[str, Mapping[str, Any]],
    default: Mapping[str, Any],
    value_label: str,
    color: Any,
    method: str,
) -> Figure | None:
    """The sensitivity figure of one method (``points``: its rows of ``tuning_points``;
    ``selected``: per problem label, the selected value of each parameter; ``default``: the
    declared defaults). None when there is nothing to draw."""
    panels = [(p, q) for p in params for q in problems if f"param_{p}" in points]
    if points.empty or not panels:
        return None
    columns = min(MAX_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = new_figure(max(5.5, 3.2 * columns + 0.6), 2.8 * rows + 0.9)
    axes = fig.subplots(rows, columns, squeeze=False)
    rungs = sorted(points["rung"].unique())
    budgets = points.groupby("rung")["budget"].first() if "budget" in points else None
    for index, (ax, (param, problem)) in enumerate(zip(axes.flat, panels, strict=False)):
        mine = points[points["problem_label"] == problem]
        column = f"param_{param}"
        if mine.empty or not _numeric(mine[column]):
            ax.set_title(f"{problem}\n(no numeric {param} to plot)", fontsize=FONT - 1)
            continue
        x_all = mine[column].astype(float)
        log_x = _log_x(list(x_all))
        medians = mine.groupby(["rung", column])["final"].median()
        finite = mine["final"][np.isfinite(mine["final"])]
        log_y = len(finite) > 0 and bool((finite > 0).all())
        top = _top(finite, medians, log_y)
        for i, rung in enumerate(rungs):
            at = mine[mine["rung"] == rung]
            shade = 0.35 + 0.65 * (i + 1) / len(rungs)
            shown = at[np.isfinite(at["final"]) & (at["final"] <= top)]
            above = at[np.isfinite(at["final"]) & (at["final"] > top)]
            bad = at[~np.isfinite(at["final"])]
            ax.scatter(shown[column], shown["final"], s=12, color=color, alpha=0.45 * shade, lw=0)
            ax.scatter(above[column], [top] * len(above), marker="^", s=16, color=color, lw=0)
            ax.scatter(bad[column], [top] * len(bad), marker="x", s=22, color="#D55E00")
            med = medians[rung].sort_index()
            med = med.where(med <= top, top)
            name = "median" if len(rungs) == 1 else f"median, rung {rung + 1}"
            if budgets is not None and len(rungs) > 1:
                name += f" (budget {budgets[rung]:g})"
            ax.plot(med.index, med.to_numpy(), "-o", ms=3, color=color, alpha=shade, label=name)
        chosen = selected.get(problem, {}).get(param)
        title = problem
        if isinstance(chosen, int | float):
            ax.axvline(float(chosen), color=color, lw=1.6, label="selected")
            title += f"\nselected {param} = {chosen:g}"
        value = default.get(param)
        if isinstance(value, int | float) and _near(value, list(x_all), log_x):
            ax.axvline(float(value), color="0.4", ls="--", lw=1.2, label="declared default")
        elif value is not None:
            title += f" (default {value} is off the axis)"
        if log_x:
            ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
        tried = sorted(set(x_all))
        ax.set_xticks(tried, [f"{v:g}" for v in tried])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(param, fontsize=FONT)
        ax.set_ylabel(f"final {value_label}", fontsize=FONT - 1)
        ax.set_title(title, fontsize=FONT - 1)
        ax.tick_params(which="both", labelsize=FONT - 2)
        if index == 0:
            ax.legend(fontsize=FONT - 2, frameon=False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"{method}: final value on the tuning seeds (dots: seeds; x: diverged; "
        "triangles: far above the best, drawn at the top)",
        fontsize=FONT,
    )
    return fig
