"""The critical-difference diagram (Demsar 2006), from :func:`gesbench.analysis.friedman`."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from gesbench.report.figures.style import FONT, Colors, new_figure


def cd_figure(
    ranks: pd.DataFrame, groups: list[list[str]], critical: float, colors: Colors, title: str
) -> Figure:
    """Methods at their mean ranks on a line (1 = best, left), labels left and right, and a
    thick bar under every group of methods with no significant difference inside (Holm).
    The Nemenyi critical difference is drawn above the axis for reference."""
    labels = ranks["label"].tolist()
    mean = dict(zip(ranks["label"], ranks["mean_rank"], strict=True))
    k = len(labels)
    half = (k + 1) // 2
    rows = max(half, k - half)
    fig = new_figure(8.0, 1.5 + 0.28 * rows + 0.16 * len(groups))
    ax = fig.subplots()
    lo, hi = 1.0, float(max(k, 2))
    ax.set_xlim(lo - 0.9 * (hi - lo) / 2.2, hi + 0.9 * (hi - lo) / 2.2)
    bottom = -(0.45 + 0.16 * len(groups) + 0.28 * rows)
    ax.set_ylim(bottom - 0.1, 0.75)
    ax.axis("off")
    ax.plot([lo, hi], [0, 0], color="black", lw=1)
    for r in range(1, k + 1):
        ax.plot([r, r], [0, 0.07], color="black", lw=1)
        ax.text(r, 0.12, str(r), ha="center", va="bottom", fontsize=FONT)
    if critical > 0 and critical < hi - lo + 1e-9:
        ax.plot([lo, lo + critical], [0.5, 0.5], color="0.3", lw=1.5)
        for end in (lo, lo + critical):
            ax.plot([end, end], [0.46, 0.54], color="0.3", lw=1.5)
        ax.text(lo + critical + 0.05, 0.5, f"Nemenyi CD = {critical:.2f}", va="center",
                fontsize=FONT - 1, color="0.3")  # fmt: skip
    for g, group in enumerate(groups):
        y = -0.15 - 0.16 * g
        xs = [mean[x] for x in group]
        ax.plot([min(xs) - 0.03, max(xs) + 0.03], [y, y], color="black", lw=3.5,
                solid_capstyle="round")  # fmt: skip
    start = -(0.3 + 0.16 * len(groups))
    for i, label in enumerate(labels):
        x = mean[label]
        color = colors.get(label, (0, 0, 0))
        if i < half:
            y, tx, ha = start - 0.28 * i, ax.get_xlim()[0] + 0.05, "left"
        else:
            y, tx, ha = start - 0.28 * (k - 1 - i), ax.get_xlim()[1] - 0.05, "right"
        ax.plot([x, x, tx + (0.6 if ha == "left" else -0.6) * 0], [0, y, y], color=color, lw=1.2)
        ax.plot([x], [0], "o", color=color, ms=5)
        ax.text(tx, y + 0.03, f"{label} ({x:.2f})", ha=ha, va="bottom", fontsize=FONT,
                color=color)  # fmt: skip
    ax.set_title(title, fontsize=FONT + 0.5)
    return fig
