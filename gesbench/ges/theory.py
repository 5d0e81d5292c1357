"""Bias, variance and optimal hyperparameters of the Guided ES gradient estimate.

The formulas of the GES paper (Maheswaranathan et al., 2019, section 3), exact for quadratics
and to leading order in sigma otherwise. All quantities are relative to ``||grad f||^2``.
Every function broadcasts over its arguments (numpy arrays of any compatible shapes):

- ``rho``: alignment, ``rho^2 = ||U^T d||^2 / ||d||^2`` (for k = 1 the cosine between the
  surrogate and the true gradient ``d``);
- ``alpha``: share of the search variance in the full space; ``beta``: estimate scale;
- ``k``: guiding-subspace size; ``n``: dimension; ``P``: antithetic pairs.

With ``l_par = alpha/n + (1-alpha)/k`` and ``l_perp = alpha/n`` (the eigenvalues of the search
covariance along and across the subspace), ``E[g] = beta Sigma d`` and the mean squared error
is ``A beta^2 - 2 B beta + 1``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def eigenvalues(alpha: ArrayLike, k: ArrayLike, n: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(l_par, l_perp)``: search-covariance eigenvalues along and across the subspace."""
    alpha, k, n = (np.asarray(v, dtype=float) for v in (alpha, k, n))
    return alpha / n + (1 - alpha) / k, alpha / n


def _terms(
    rho: ArrayLike, alpha: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``(rho^2, A, B, V)`` with ``V`` the variance per unit ``beta^2``."""
    r2 = np.asarray(rho, dtype=float) ** 2
    l_par, l_perp = eigenvalues(alpha, k, n)
    V = (r2 * (l_par + l_par**2) + (1 - r2) * (l_perp + l_perp**2)) / np.asarray(P, dtype=float)
    A = r2 * l_par**2 + (1 - r2) * l_perp**2 + V
    B = r2 * l_par + (1 - r2) * l_perp
    return r2, A, B, V


def bias_squared(
    rho: ArrayLike, alpha: ArrayLike, beta: ArrayLike, k: ArrayLike, n: ArrayLike
) -> FloatArray:
    """``||E[g] - d||^2 / ||d||^2 = rho^2 (beta l_par - 1)^2 + (1 - rho^2)(beta l_perp - 1)^2``."""
    r2 = np.asarray(rho, dtype=float) ** 2
    l_par, l_perp = eigenvalues(alpha, k, n)
    beta = np.asarray(beta, dtype=float)
    return r2 * (beta * l_par - 1) ** 2 + (1 - r2) * (beta * l_perp - 1) ** 2


def variance(
    rho: ArrayLike, alpha: ArrayLike, beta: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike
) -> FloatArray:
    """``E||g - E[g]||^2 / ||d||^2`` (trace of the estimate's covariance)."""
    _, _, _, V = _terms(rho, alpha, k, n, P)
    return np.asarray(beta, dtype=float) ** 2 * V


def mse(
    rho: ArrayLike, alpha: ArrayLike, beta: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike
) -> FloatArray:
    """``E||g - d||^2 / ||d||^2 = A beta^2 - 2 B beta + 1`` (squared bias plus variance)."""
    _, A, B, _ = _terms(rho, alpha, k, n, P)
    beta = np.asarray(beta, dtype=float)
    return A * beta**2 - 2 * B * beta + 1


def optimal_beta(
    rho: ArrayLike, alpha: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike
) -> FloatArray:
    """``beta*(alpha) = B / A``, the scale minimising the MSE at a given alpha."""
    _, A, B, _ = _terms(rho, alpha, k, n, P)
    return B / A


def optimal_mse(
    rho: ArrayLike, alpha: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike
) -> FloatArray:
    """The MSE at ``beta*(alpha)``: ``1 - B^2 / A``."""
    _, A, B, _ = _terms(rho, alpha, k, n, P)
    return 1 - B**2 / A


def optimal_alpha(rho: ArrayLike, k: ArrayLike, n: ArrayLike, P: ArrayLike) -> FloatArray:
    """``alpha*`` minimising the MSE when beta is optimised too (three continuous regimes).

    1 (isotropic search) when ``rho^2 <= k/n``; 0 (subspace only) when
    ``rho^2 >= (k + 2P + 2) / (n + 2P + 2)``; in between, the closed form of the paper.
    """
    r2 = np.asarray(rho, dtype=float) ** 2
    k, n, P = (np.asarray(v, dtype=float) for v in (k, n, P))
    c = 2 * (P + 1)
    num = n * r2 * (n * r2 - k - c * (1 - r2))
    den = (n * r2 - k) ** 2 - c * n * r2 * (1 - r2)
    with np.errstate(divide="ignore", invalid="ignore"):
        middle = num / den
    lower, upper = k / n, (k + c) / (n + c)
    out = np.where(r2 <= lower, 1.0, np.where(r2 >= upper, 0.0, middle))
    return np.clip(out, 0.0, 1.0)
