"""Figures drawn from summary curves (see :mod:`gesbench.curves`); no name-keyed special cases."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

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


def method_colors(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour-blind-safe colour per method, stable across every figure of a report."""
    palette = sns.color_palette("colorblind", max(len(labels), 1))
    return dict(zip(labels, palette, strict=False))


def curve_grid(
    curves: pd.DataFrame,
    x_names: Sequence[str],
    colors: dict[str, tuple[float, float, float]],
    *,
    log_y: bool,
    log_x: bool = False,
    title: str = "",
) -> Figure:
    """Median lines with 95% bootstrap bands: one row per problem, one column per x axis."""
    problems = list(dict.fromkeys(curves["problem_label"]))
    fig, axes = plt.subplots(
        len(problems),
        len(x_names),
        figsize=(5.2 * len(x_names), 3.8 * len(problems)),
        squeeze=False,
        constrained_layout=True,
    )
    for row, problem in enumerate(problems):
        for col, x_name in enumerate(x_names):
            ax = axes[row][col]
            sub = curves[(curves["problem_label"] == problem) & (curves["x_name"] == x_name)]
            for label in colors:
                c = sub[sub["label"] == label]
                if c.empty:
                    continue
                ax.plot(c["x"], c["median"], color=colors[label], label=f"{label} (n={c['n'].iloc[0]})")
                ax.fill_between(c["x"], c["low"], c["high"], color=colors[label], alpha=0.25, lw=0)
            y_name = sub["y_name"].iloc[0] if len(sub) else ""
            ax.set_xlabel(AXIS_LABELS.get(x_name, x_name))
            ax.set_ylabel(AXIS_LABELS.get(y_name, y_name))
            ax.set_title(problem, fontsize=10)
            if log_y:
                ax.set_yscale("log")
            if log_x:
                ax.set_xscale("log")
            ax.grid(True, which="major", alpha=0.3)
            ax.legend(fontsize=8, title="median, 95% bootstrap CI", title_fontsize=8)
    if title:
        fig.suptitle(title)
    return fig
