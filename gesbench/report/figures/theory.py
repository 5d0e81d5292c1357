"""Figures of Guided ES's theory (:mod:`gesbench.ges.theory`, closed forms exact for
quadratics): the bias-variance trade-off over alpha and the phase diagram of alpha*."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from gesbench.ges import theory
from gesbench.report.figures.style import Colors, new_figure, palette


def bias_variance_figure(rhos: Sequence[float], n: int, k: int, P: int, beta: float) -> Figure:
    """Squared bias, variance and MSE of the GES estimate against alpha, one panel per rho.

    Solid lines use the given ``beta``; the dashed line is the MSE at ``beta*(alpha)`` and
    the dot marks ``alpha*``. All values are relative to ``||grad f||^2`` (log y).
    """
    alpha = np.linspace(0, 1, 401)
    fig = new_figure(4.3 * len(rhos), 3.8)
    axes = fig.subplots(1, len(rhos), squeeze=False, sharey=True)
    colors = palette(4)
    for ax, rho in zip(axes[0], rhos, strict=True):
        ax.plot(
            alpha,
            theory.bias_squared(rho, alpha, beta, k, n),
            color=colors[0],
            label="squared bias",
        )
        ax.plot(
            alpha, theory.variance(rho, alpha, beta, k, n, P), color=colors[1], label="variance"
        )
        ax.plot(
            alpha,
            theory.mse(rho, alpha, beta, k, n, P),
            color=colors[2],
            lw=2,
            label=f"MSE (beta = {beta:g})",
        )
        ax.plot(
            alpha,
            theory.optimal_mse(rho, alpha, k, n, P),
            color=colors[3],
            ls="--",
            label="MSE at beta*(alpha)",
        )
        a_star = float(theory.optimal_alpha(rho, k, n, P))
        ax.plot(
            [a_star],
            [theory.optimal_mse(rho, a_star, k, n, P)],
            "o",
            color=colors[3],
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
    fig = new_figure(6.6, 4.6)
    ax = fig.subplots()
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
