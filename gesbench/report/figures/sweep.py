"""Heatmaps of a hyperparameter sweep, from :func:`gesbench.analysis.sweep_grid` tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from gesbench.report.figures.style import new_figure


def _short(value: Any) -> str:
    """A parameter value as a tick label: numbers compactly (1.0 -> '1'), others as text."""
    return f"{value:g}" if isinstance(value, int | float | np.number) else str(value)


def _text_color(image: Any, value: float) -> str:
    """Black on light cells, white on dark ones (by the cell colour's luminance)."""
    if not np.isfinite(value):
        return "black"
    rgba = np.asarray(image.to_rgba(np.array([[value]], dtype=float)), dtype=float)
    r, g, b = rgba.reshape(-1, 4)[0, :3]
    if rgba.max() > 1:  # bytes
        r, g, b = r / 255, g / 255, b / 255
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def sweep_figure(
    grid: pd.DataFrame, defaults: Mapping[str, Any], value_label: str
) -> Figure | None:
    """Heatmaps of the median final value over two swept parameters, one per other setting
    (None when fewer than two parameters vary).

    Rows and columns are the first two parameters that vary; every further varying
    parameter and every problem gets its own panel. The cell matching the optimizer's
    defaults is outlined; cells where a run diverged are hatched.
    """
    params = [
        c
        for c in grid.columns
        if c not in ("optimizer", "label", "problem_label", "median", "n", "diverged")
    ]
    if len(params) < 2:
        return None
    y_param, x_param, facets = params[0], params[1], params[2:]
    panels = list(grid.groupby(["problem_label", *facets], sort=False))
    finite = grid["median"][np.isfinite(grid["median"]) & (grid["median"] > 0)]
    norm = LogNorm(finite.min(), finite.max()) if len(finite) else None
    fig = new_figure(4.8 * len(panels) + 1.0, 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False)
    image = None
    for ax, (key, sub) in zip(axes[0], panels, strict=True):
        ys, xs = sorted(sub[y_param].unique()), sorted(sub[x_param].unique())
        table = sub.pivot_table(index=y_param, columns=x_param, values="median", aggfunc="first")
        table = table.reindex(index=ys, columns=xs)
        diverged = sub.pivot_table(index=y_param, columns=x_param, values="diverged")
        shown = np.where(np.isfinite(table.to_numpy()), table.to_numpy(), np.nan)
        image = ax.imshow(shown, cmap="viridis", norm=norm, aspect="auto", origin="lower")
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            failed = diverged.reindex(index=ys, columns=xs).to_numpy()[i, j]
            label = "diverged" if not np.isfinite(value) else f"{value:.3g}"
            if np.isfinite(value) and failed > 0:
                label += f"\n({int(failed)} div.)"
            ax.text(
                j, i, label, ha="center", va="center", fontsize=7, color=_text_color(image, value)
            )
            if not np.isfinite(value) or failed > 0:
                ax.add_patch(
                    Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", ec="0.5", lw=0)
                )
        at_defaults = all(defaults.get(f) == v for f, v in zip(facets, key[1:], strict=True))
        if at_defaults and defaults.get(y_param) in ys and defaults.get(x_param) in xs:
            i, j = ys.index(defaults[y_param]), xs.index(defaults[x_param])
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
            ax.text(j, i + 0.38, "default", ha="center", va="center", fontsize=6, color="red")
        ax.set_xticks(range(len(xs)), [_short(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_short(v) for v in ys])
        ax.set_xlabel(x_param)
        ax.set_ylabel(y_param)
        parts = [str(key[0])] + [f"{f} = {_short(v)}" for f, v in zip(facets, key[1:], strict=True)]
        ax.set_title("\n".join(parts), fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), label=f"median final {value_label} (log scale)")
    fig.suptitle(f"{grid['optimizer'].iloc[0]} hyperparameter sweep (defaults outlined in red)")
    return fig
