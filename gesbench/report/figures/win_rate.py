"""The pairwise win-rate matrix, from :func:`gesbench.analysis.win_rate` tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gesbench.report.figures.style import FONT, MANY_METHODS, new_figure


def win_rate_figure(rates: pd.DataFrame, labels: Sequence[str]) -> Figure:
    """Matrix of how often the row method ends lower than the column method, with 95% CIs."""
    labels = [x for x in labels if x in set(rates["label"])]
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.full((len(labels), len(labels)), np.nan)
    text = np.full(matrix.shape, "", dtype=object)
    for r in rates.to_dict("records"):
        i, j = index[r["label"]], index[r["opponent"]]
        matrix[i, j] = r["rate"]
        if not np.isnan(r["rate"]):
            text[i, j] = f"{r['rate']:.2f}\n[{r['low']:.2f}, {r['high']:.2f}]"
    annotate = len(labels) <= MANY_METHODS  # beyond that, cells are too small for text
    size = min(1.0 * len(labels) + 2.5, 9.0)
    fig = new_figure(size + 1.2, size)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="cividis", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        if annotate and not np.isnan(value):
            ax.text(
                j,
                i,
                str(text[i, j]),
                ha="center",
                va="center",
                fontsize=FONT - 1.5,
                color="black" if value > 0.5 else "white",
            )
    tick_size = FONT if annotate else FONT - 2
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=tick_size)
    ax.set_yticks(range(len(labels)), labels, fontsize=tick_size)
    ax.set_xlabel("opponent")
    ax.set_ylabel("method")
    fig.colorbar(image, ax=ax, label="win rate (ties count 1/2)", shrink=0.8)
    kinds = set(rates["interval"].dropna()) - {""} if "interval" in rates else set()
    how = ", ".join(sorted(kinds)) or "95% CI"
    note = f"[95% CI: {how}]" if annotate else "(CIs in win_rate.csv)"
    ax.set_title(f"Win rate of row over column, paired instances\n{note}", fontsize=FONT)
    return fig
