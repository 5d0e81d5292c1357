"""Figures of Guided ES's theory (:mod:`gesbench.ges.theory`, closed forms exact for
quadratics): the bias-variance trade-off over alpha and the phase diagram of alpha*."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import QuadMesh
from matplotlib.figure import Figure

from gesbench.ges import theory
from gesbench.report.figures.style import FONT, Colors, new_figure, palette, style_axes


def draw_bias_variance(ax: Axes, rho: float, n: int, k: int, P: int, beta: float) -> None:
    """Squared bias, variance and MSE of the GES estimate against alpha at alignment ``rho``.

    Solid lines use the given ``beta``; the dashed line is the MSE at ``beta*(alpha)`` and
    the dot marks ``alpha*``. All values are relative to ``||grad f||^2`` (log y).
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # rho = 0 at alpha = 0: 0/0
        _bias_variance(ax, rho, n, k, P, beta)


def _bias_variance(ax: Axes, rho: float, n: int, k: int, P: int, beta: float) -> None:
    alpha = np.linspace(0, 1, 401)
    colors = palette(4)
    ax.plot(alpha, theory.bias_squared(rho, alpha, beta, k, n), color=colors[0],
            label="squared bias")  # fmt: skip
    ax.plot(alpha, theory.variance(rho, alpha, beta, k, n, P), color=colors[1], label="variance")
    ax.plot(alpha, theory.mse(rho, alpha, beta, k, n, P), color=colors[2], lw=2,
            label=f"MSE (beta = {beta:g})")  # fmt: skip
    ax.plot(alpha, theory.optimal_mse(rho, alpha, k, n, P), color=colors[3], ls="--",
            label="MSE at beta*(alpha)")  # fmt: skip
    a_star = float(theory.optimal_alpha(rho, k, n, P))
    ax.plot([a_star], [theory.optimal_mse(rho, a_star, k, n, P)], "o", color=colors[3],
            label=f"alpha* = {a_star:.2f}")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("alpha (share of variance in the full space)", fontsize=FONT)
    ax.set_title(f"rho = {rho:.3g}", fontsize=FONT, loc="left")
    style_axes(ax)
    ax.legend(fontsize=FONT - 2)


def draw_phase(
    ax: Axes, n: int, P: int, paths: Mapping[str, tuple[float, Sequence[float]]], colors: Colors
) -> QuadMesh:
    """``alpha*`` over (k/n, rho) at dimension ``n`` on ``ax``; ``paths`` overlays runs'
    alignment: a method label to ``(k/n, rho values along its run)``, drawn as a vertical
    track from the first to the last value (arrow in the direction of time). Returns the
    mesh (for a colour bar)."""
    ratio = np.logspace(np.log10(1 / n), 0, 160)
    rho = np.linspace(0, 1, 161)
    a_star = theory.optimal_alpha(rho[:, None], ratio[None, :] * n, n, P)
    mesh = ax.pcolormesh(
        ratio, rho, a_star, cmap="viridis", vmin=0, vmax=1, shading="auto", rasterized=True
    )
    for r2_boundary in (ratio, (ratio * n + 2 * P + 2) / (n + 2 * P + 2)):
        ax.plot(ratio, np.sqrt(r2_boundary), color="white", lw=1, ls="--")
    ax.text(ratio[-1] * 0.6, 0.06, "alpha* = 1\n(isotropic)", color="black", fontsize=FONT - 2,
            ha="right")  # fmt: skip
    ax.text(2.0 / n, 0.9, "alpha* = 0 (subspace only)", color="white", fontsize=FONT - 2)
    for label, (x, track) in paths.items():
        values = np.asarray(track, dtype=float)
        values = values[np.isfinite(values)]
        if len(values) < 2:
            continue
        color = colors.get(label, (1.0, 0.0, 0.0))
        ax.annotate("", xy=(x, values[-1]), xytext=(x, values[0]),
                    arrowprops={"arrowstyle": "->", "color": color, "lw": 2})  # fmt: skip
        ax.plot([x], [values[0]], "o", color=color, label=label)
    ax.set_xscale("log")
    ax.set_xlim(0.7 / n, 1.0)  # a margin left of k = 1 so a run's track is not on the frame
    ax.set_xlabel("k / n (subspace size over dimension)", fontsize=FONT)
    ax.set_ylabel("alignment rho", fontsize=FONT)
    ax.set_title(f"optimal alpha (beta optimised too), n = {n}, P = {P}", fontsize=FONT,
                 loc="left")  # fmt: skip
    ax.tick_params(labelsize=FONT - 1)
    if len(paths) > 1:
        ax.legend(fontsize=FONT - 2, loc="lower right", title="start -> end alignment",
                  title_fontsize=FONT - 2)  # fmt: skip
    return mesh


def theory_figure(
    rhos: Sequence[float],
    n: int,
    k: int,
    P: int,
    beta: float,
    paths: Mapping[str, tuple[float, Sequence[float]]],
    colors: Colors,
    title: str,
) -> Figure:
    """The bias-variance trade-off at each alignment in ``rhos`` (the measured start and
    end), then the alpha* phase diagram with the measured track, in one row."""
    fig = new_figure(3.4 * (len(rhos) + 1) + 0.6, 3.5)
    axes = fig.subplots(1, len(rhos) + 1, squeeze=False)[0]
    for ax, rho in zip(axes[:-1], rhos, strict=True):
        draw_bias_variance(ax, rho, n, k, P, beta)
    axes[0].set_ylabel("error / ||grad f||^2", fontsize=FONT)
    mesh = draw_phase(axes[-1], n, P, paths, colors)
    fig.colorbar(mesh, ax=axes[-1], label="alpha*")
    fig.suptitle(title, fontsize=FONT + 1)
    return fig


def bias_variance_figure(rhos: Sequence[float], n: int, k: int, P: int, beta: float) -> Figure:
    """Squared bias, variance and MSE against alpha, one panel per rho."""
    fig = new_figure(3.4 * len(rhos) + 0.4, 3.5)
    axes = fig.subplots(1, len(rhos), squeeze=False, sharey=True)
    for ax, rho in zip(axes[0], rhos, strict=True):
        draw_bias_variance(ax, rho, n, k, P, beta)
    axes[0][0].set_ylabel("error / ||grad f||^2", fontsize=FONT)
    fig.suptitle(f"GES gradient estimate: bias-variance trade-off (n = {n}, k = {k}, P = {P})")
    return fig


def phase_figure(
    n: int, P: int, paths: Mapping[str, tuple[float, Sequence[float]]], colors: Colors
) -> Figure:
    """``alpha*`` over (k/n, rho) at dimension ``n`` (see :func:`draw_phase`)."""
    fig = new_figure(6.6, 4.6)
    ax = fig.subplots()
    mesh = draw_phase(ax, n, P, paths, colors)
    fig.colorbar(mesh, ax=ax, label="alpha*")
    return fig
