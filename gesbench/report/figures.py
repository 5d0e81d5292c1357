"""Figures of a report, drawn from metric tables; no special cases keyed on method names.

Every figure takes a ``colors`` mapping from :func:`method_colors`, built once per report
from the spec's method order, so a method has the same colour in every figure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gesbench.ges import theory

Colors = Mapping[str, tuple[float, float, float]]

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
LINE_STYLES = ("-", "--", "-.", ":")
MANY_METHODS = 10


def method_colors(labels: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    """One colour-blind-safe colour per method (seaborn's 'colorblind', i.e. Okabe-Ito-like),
    in the given order, so a method keeps its colour across every figure of a report."""
    palette = sns.color_palette("colorblind", max(len(labels), 1))
    return dict(zip(labels, palette, strict=False))


def line_style(label: str, colors: Colors) -> str:
    """A dash pattern per method, a second cue besides colour (overlapping curves, similar
    hues, greyscale print); colour and dash together stay unique for 20 methods."""
    return LINE_STYLES[list(colors).index(label) % len(LINE_STYLES)]


def _figure_legend(fig: Any, handles: list[Any], labels: list[str], title: str) -> None:
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


def _legend(ax: Axes, title: str = "") -> None:
    """A legend inside the axes, or beside the figure when there are many methods."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if len(handles) > MANY_METHODS:  # keep long legends off the curves
        _figure_legend(ax.figure, handles, labels, title)
    else:
        ax.legend(fontsize=8, title=title, title_fontsize=8)


def curve_grid(
    curves: pd.DataFrame,
    x_names: Sequence[str],
    colors: Colors,
    *,
    log_y: bool,
    log_x: bool = False,
    title: str = "",
) -> Figure:
    """Median lines with 95% bootstrap bands: one row per problem, one column per x axis.

    Methods that never spend a counter (e.g. no loss evaluations) have no curve against it;
    the panel says so instead of drawing a vertical line at zero. With more than
    ``MANY_METHODS`` methods (a sweep) the bands are left out, or nothing could be read.
    """
    problems = list(dict.fromkeys(curves["problem_label"]))
    many = curves["label"].nunique() > MANY_METHODS
    fig, axes = plt.subplots(
        len(problems),
        len(x_names),
        figsize=(4.6 * len(x_names) + (6.0 if many else 0), 3.6 * len(problems)),
        squeeze=False,
        layout="constrained",
    )
    handles: dict[str, Any] = {}
    for row, problem in enumerate(problems):
        in_problem = curves[curves["problem_label"] == problem]
        for col, x_name in enumerate(x_names):
            ax = axes[row][col]
            sub = in_problem[in_problem["x_name"] == x_name]
            missing = []
            for label in colors:
                c = sub[sub["label"] == label]
                if c.empty:
                    if label in set(in_problem["label"]):
                        missing.append(label)
                    continue
                (handles[label],) = ax.plot(
                    c["x"],
                    c["median"],
                    color=colors[label],
                    ls=line_style(label, colors),
                    lw=1.6,
                    label=f"{label} (n={c['n'].iloc[0]})",
                )
                if not many:
                    ax.fill_between(
                        c["x"], c["low"], c["high"], color=colors[label], alpha=0.2, lw=0
                    )
            if missing:
                names = ", ".join(missing) if len(missing) <= 3 else f"{len(missing)} methods"
                ax.text(
                    0.02,
                    0.02,
                    f"no curve (counter stays 0): {names}",
                    transform=ax.transAxes,
                    fontsize=7,
                    va="bottom",
                )
            y_name = in_problem["y_name"].iloc[0] if len(in_problem) else ""
            ax.set_xlabel(AXIS_LABELS.get(x_name, x_name))
            ax.set_ylabel(AXIS_LABELS.get(y_name, y_name))
            ax.set_title(problem, fontsize=10)
            if log_y and (sub["median"] > 0).any():
                ax.set_yscale("log")
            if log_x:
                ax.set_xscale("symlog", linthresh=1)
            ax.grid(True, which="major", alpha=0.3)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
            if col == 0 and not many:
                _legend(ax, "median, 95% bootstrap CI")
    if many:
        ordered = [handles[label] for label in colors if label in handles]
        _figure_legend(
            fig,
            ordered,
            [str(h.get_label()) for h in ordered],
            "median (bands left out: many methods)",
        )
    if title:
        fig.suptitle(title)
    return fig


def _fraction_steps(ax: Axes, frame: pd.DataFrame, x_name: str, colors: Colors) -> None:
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


def ecdf_figure(ecdf: pd.DataFrame, colors: Colors, x_label: str, subtitle: str) -> Figure:
    """COCO-style runtime ECDF: share of (trial, target) pairs reached against budget (log x)."""
    fig, ax = plt.subplots(
        figsize=(6.4 + (2.2 if len(colors) > MANY_METHODS else 0), 4.2), constrained_layout=True
    )
    _fraction_steps(ax, ecdf, "x", colors)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel("fraction of (trial, target) pairs reached")
    ax.set_title(f"Runtime ECDF\n{subtitle}", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    _legend(ax)
    return fig


def profile_figure(profiles: pd.DataFrame, colors: Colors, x_label: str) -> Figure:
    """Dolan-More performance profiles, one panel per convergence tolerance ``tau``."""
    taus = sorted(profiles["tau"].unique(), reverse=True)
    fig, axes = plt.subplots(
        1, len(taus), figsize=(4.6 * len(taus) + 1.5, 3.9), squeeze=False, constrained_layout=True
    )
    for ax, tau in zip(axes[0], taus, strict=True):
        sub = profiles[profiles["tau"] == tau]
        _fraction_steps(ax, sub, "ratio", colors)
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"performance ratio (budget / best budget; {x_label})")
        ax.set_ylabel("fraction of instances solved")
        instances = int(sub["instances"].iloc[0]) if len(sub) else 0
        ax.set_title(f"tau = {tau:g} ({instances} instances)", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
    _legend(axes[0][-1])
    fig.suptitle("Performance profiles: solved when f <= f_L + tau (f_0 - f_L)")
    return fig


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
    size = min(1.1 * len(labels) + 2.5, 16.0)
    fig, ax = plt.subplots(figsize=(size + 1.2, size), constrained_layout=True)
    image = ax.imshow(matrix, cmap="cividis", vmin=0, vmax=1)
    for (i, j), value in np.ndenumerate(matrix):
        if annotate and not np.isnan(value):
            ax.text(
                j,
                i,
                str(text[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="black" if value > 0.5 else "white",
            )
    tick_size = 8 if annotate else 6
    ax.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize=tick_size)
    ax.set_yticks(range(len(labels)), labels, fontsize=tick_size)
    ax.set_xlabel("opponent")
    ax.set_ylabel("method")
    fig.colorbar(image, ax=ax, label="win rate (ties count 1/2)", shrink=0.8)
    note = "[95% bootstrap CI]" if annotate else "(CIs in win_rate.csv)"
    ax.set_title(f"Win rate of row over column, paired instances\n{note}", fontsize=10)
    return fig


def _short(value: Any) -> str:
    """A parameter value as a tick label: numbers compactly (1.0 -> '1'), others as text."""
    return f"{value:g}" if isinstance(value, int | float | np.number) else str(value)


def _text_color(image: Any, value: float) -> str:
    """Black on light cells, white on dark ones (by the cell colour's luminance)."""
    if not np.isfinite(value):
        return "black"
    r, g, b, _ = image.cmap(image.norm(value))
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


def sweep_figure(
    grid: pd.DataFrame, defaults: Mapping[str, Any], value_label: str
) -> Figure | None:
    """Heatmaps of the median final value over two swept parameters, one per other setting.

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
    fig, axes = plt.subplots(
        1,
        len(panels),
        figsize=(4.8 * len(panels) + 1.0, 4.2),
        squeeze=False,
        constrained_layout=True,
    )
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
                    plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", ec="0.5", lw=0)
                )
        at_defaults = all(defaults.get(f) == v for f, v in zip(facets, key[1:], strict=True))
        if at_defaults and defaults.get(y_param) in ys and defaults.get(x_param) in xs:
            i, j = ys.index(defaults[y_param]), xs.index(defaults[x_param])
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=2.5))
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


def bias_variance_figure(rhos: Sequence[float], n: int, k: int, P: int, beta: float) -> Figure:
    """Squared bias, variance and MSE of the GES estimate against alpha, one panel per rho.

    Solid lines use the given ``beta``; the dashed line is the MSE at ``beta*(alpha)`` and
    the dot marks ``alpha*``. All values are relative to ``||grad f||^2`` (log y).
    """
    alpha = np.linspace(0, 1, 401)
    fig, axes = plt.subplots(
        1,
        len(rhos),
        figsize=(4.3 * len(rhos), 3.8),
        squeeze=False,
        sharey=True,
        constrained_layout=True,
    )
    palette = sns.color_palette("colorblind", 4)
    for ax, rho in zip(axes[0], rhos, strict=True):
        ax.plot(
            alpha,
            theory.bias_squared(rho, alpha, beta, k, n),
            color=palette[0],
            label="squared bias",
        )
        ax.plot(
            alpha, theory.variance(rho, alpha, beta, k, n, P), color=palette[1], label="variance"
        )
        ax.plot(
            alpha,
            theory.mse(rho, alpha, beta, k, n, P),
            color=palette[2],
            lw=2,
            label=f"MSE (beta = {beta:g})",
        )
        ax.plot(
            alpha,
            theory.optimal_mse(rho, alpha, k, n, P),
            color=palette[3],
            ls="--",
            label="MSE at beta*(alpha)",
        )
        a_star = float(theory.optimal_alpha(rho, k, n, P))
        ax.plot(
            [a_star],
            [theory.optimal_mse(rho, a_star, k, n, P)],
            "o",
            color=palette[3],
            label=f"alpha* = {a_star:.2f}",
        )
        ax.set_yscale("log")
        ax.set_xlabel("alpha (share of variance in the full space)")
        ax.set_title(f"rho = {rho:.2f}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("error / ||grad f||^2")
    fig.suptitle(f"GES gradient estimate: bias-variance trade-off (n = {n}, k = {k}, P = {P})")
    return fig


def phase_figure(
    n: int, P: int, paths: Mapping[str, tuple[float, Sequence[float]]], colors: Colors
) -> Figure:
    """``alpha*`` over (k/n, rho) at dimension ``n``; ``paths`` overlays runs' alignment.

    ``paths`` maps a method label to ``(k/n, rho values along its run)``, drawn as a
    vertical track from the first to the last value (arrow in the direction of time).
    """
    ratio = np.logspace(np.log10(1 / n), 0, 300)
    rho = np.linspace(0, 1, 301)
    a_star = theory.optimal_alpha(rho[:, None], ratio[None, :] * n, n, P)
    fig, ax = plt.subplots(figsize=(6.6, 4.6), constrained_layout=True)
    mesh = ax.pcolormesh(
        ratio, rho, a_star, cmap="viridis", vmin=0, vmax=1, shading="auto", rasterized=True
    )
    for r2_boundary in (ratio, (ratio * n + 2 * P + 2) / (n + 2 * P + 2)):
        ax.plot(ratio, np.sqrt(r2_boundary), color="white", lw=1, ls="--")
    ax.text(ratio[-1] * 0.6, 0.06, "alpha* = 1\n(isotropic)", color="black", fontsize=8, ha="right")
    ax.text(2.0 / n, 0.9, "alpha* = 0 (subspace only)", color="white", fontsize=8)
    for label, (x, track) in paths.items():
        values = np.asarray(track, dtype=float)
        values = values[np.isfinite(values)]
        if len(values) < 2:
            continue
        ax.annotate(
            "",
            xy=(x, values[-1]),
            xytext=(x, values[0]),
            arrowprops={"arrowstyle": "->", "color": colors.get(label, "red"), "lw": 2},
        )
        ax.plot([x], [values[0]], "o", color=colors.get(label, "red"), label=label)
    ax.set_xscale("log")
    ax.set_xlim(0.7 / n, 1.0)  # a margin left of k = 1 so a run's track is not on the frame
    ax.set_xlabel("k / n (subspace size over dimension)")
    ax.set_ylabel("alignment rho")
    ax.set_title(f"Optimal alpha (beta optimised too), n = {n}, P = {P}", fontsize=10)
    fig.colorbar(mesh, ax=ax, label="alpha*")
    if paths:
        ax.legend(
            fontsize=7, loc="upper right", title="run: start -> end alignment", title_fontsize=7
        )
    return fig
