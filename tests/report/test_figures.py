"""Figures: stable method styles, y ranges a diverging method cannot stretch, log wall time,
legends legible at the size the HTML shows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from gesbench.report.figures.curves import HEADROOM, curve_grid
from gesbench.report.figures.ecdf import ecdf_figure
from gesbench.report.figures.style import (
    DPI,
    MAX_WIDTH,
    PALETTE,
    method_colors,
    method_styles,
)

BUILT_IN = ["Guided ES", "Vanilla ES", "Gradient descent", "CMA-ES", "Separable CMA-ES"]


def test_a_method_keeps_its_colour_and_dash_whatever_else_the_run_compares():
    # The built-in specs' labels never collide, so each has its own colour in every report.
    assert len({c for c, _ in method_styles(BUILT_IN).values()}) == len(BUILT_IN)
    alone = method_styles(["Guided ES", "Vanilla ES"])
    free = method_styles(BUILT_IN)
    colliding = [f"method {i}" for i in range(40)]
    taken = {c for c, _ in free.values()}
    extra = next(x for x in colliding if method_styles([x])[x][0] not in taken)
    with_others = method_styles([*BUILT_IN, extra][::-1])
    for label in ("Guided ES", "Vanilla ES"):
        assert alone[label] == free[label] == with_others[label]
    # Spec order decides the legend order, never the colour.
    assert method_colors(BUILT_IN)["CMA-ES"] == method_colors(BUILT_IN[::-1])["CMA-ES"]
    # Two labels that hash to one colour are moved apart (the later one in label order).
    a = "Guided ES"
    twin = next(x for x in colliding if method_styles([x])[x][0] == free[a][0])
    pair = method_styles([a, twin])
    assert pair[a][0] != pair[twin][0]


def test_styles_stay_distinct_and_colour_blind_safe_for_many_methods():
    labels = [f"method {i}" for i in range(25)]
    styles = method_styles(labels)
    assert len(set(styles.values())) == 25  # (colour, dash) pairs, all different
    assert len({c for c, _ in list(styles.values())}) == len(PALETTE)  # every colour used
    assert {to_hex(c).upper() for c in method_colors(labels[:10]).values()} == {
        c.upper() for c in PALETTE
    }


def curves(problems: int, x_names: list[str]) -> pd.DataFrame:
    x = np.geomspace(1e-3, 100, 50)
    frames = []
    for p in range(problems):
        for x_name in x_names:
            for label, values in (
                ("steady", 1.0 * np.exp(-x / 20)),
                ("exploding", np.where(x < 10, 1.0, 1e180)),
            ):
                frames.append(
                    pd.DataFrame(
                        {
                            "problem_label": f"P{p}",
                            "label": label,
                            "x_name": x_name,
                            "x": x,
                            "y_name": "excess_loss",
                            "median": values,
                            "low": values / 2,
                            "high": values * 2,
                            "n": 5,
                            "coverage": 0.9375,
                            "low_rank": 1,
                            "high_rank": 5,
                            "diverged": 0,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def test_a_diverging_method_neither_sets_the_y_range_nor_leaves_a_line_off_the_axis():
    fig = curve_grid(curves(1, ["iteration"]), ["iteration"], method_colors(["steady",
                     "exploding"]), log_y=True)  # fmt: skip
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert high == HEADROOM * 1.0  # from where the methods start, not from 1e180
    assert low < np.exp(-100 / 20) / 2  # the steady method's band fits
    lines = [line for line in ax.get_lines() if np.size(line.get_xdata()) > 1]
    assert max(float(np.max(line.get_ydata())) for line in lines) <= high
    markers = [line for line in ax.get_lines() if line.get_marker() == "^"]
    assert len(markers) == 1 and np.asarray(markers[0].get_ydata())[0] == high  # where it left


def test_wall_time_is_on_a_log_axis_and_a_three_by_four_grid_stays_legible():
    x_names = ["iteration", "evaluations", "gradient_calls", "wall_time"]
    fig = curve_grid(curves(3, x_names), x_names, method_colors(["steady", "exploding"]),
                     log_y=True)  # fmt: skip
    axes = fig.axes
    assert [ax.get_xscale() for ax in axes[:4]] == ["linear", "linear", "linear", "log"]
    width_px = fig.get_figwidth() * DPI
    assert fig.get_figwidth() <= MAX_WIDTH and width_px <= 1400  # shown unscaled in the HTML
    legend = fig.legends[0]
    size_pt = float(legend.get_texts()[0].get_fontsize())  # (typed float | str: it is points)
    shown_px = size_pt * DPI / 72 * min(1.0, 1370 / width_px)
    assert shown_px >= 12  # was about 6 px with a 4.6 in panel per axis
    assert "[min, max] of 5, a 93.75% CI" in legend.get_title().get_text()


def titles_inside(fig, names) -> None:
    """Every panel's left title shows one of ``names`` (wrapped, not cut) within the figure."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    width = fig.get_figwidth() * fig.dpi
    for ax in fig.axes:
        title = ax._left_title  # the artist of ax.set_title(..., loc="left")
        assert title.get_text().replace("\n", " ") in names
        box = title.get_window_extent(canvas.get_renderer())
        assert box.x0 >= 0 and box.x1 <= width, (title.get_text(), box.x1, width)


LONG = {f"P{p}": f"Synthetic (1000 x 20), clean minibatches, variant {p}" for p in range(3)}


def test_long_problem_titles_stay_inside_the_curve_figures():
    data = curves(3, ["iteration"])
    data["problem_label"] = data["problem_label"].map(LONG)
    fig = curve_grid(data, ["iteration"], method_colors(["steady", "exploding"]), log_y=True)
    titles_inside(fig, set(LONG.values()))


def test_long_problem_titles_stay_inside_the_ecdf_figure():
    x = np.logspace(0, 3, 20)
    ecdf = pd.concat(
        pd.DataFrame({"problem_label": name, "label": label, "x": x, "runs": 15,
                      "fraction": np.linspace(0, 1, 20)})
        for name in LONG.values() for label in ("steady", "exploding")
    )  # fmt: skip
    fig = ecdf_figure(ecdf, method_colors(["steady", "exploding"]), "evaluations", "")
    titles_inside(fig, {f"{name} (15 pairs per method)" for name in LONG.values()})
