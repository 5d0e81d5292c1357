"""The formulas of gesbench.ges.theory against Monte Carlo runs of GuidedES on a quadratic."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.core.budget import Budget
from gesbench.core.oracle import Oracle
from gesbench.core.registry import problems
from gesbench.ges import theory
from gesbench.ges.guided_es import GuidedES

N_DIM = 20


@pytest.fixture(scope="module")
def quadratic():
    """A random least-squares quadratic (the Fig. 1 family at n = 20) and its oracle."""
    problem = problems.create("perturbed_quadratic", {"n": N_DIM, "m": 40}, rng=1)
    oracle = Oracle(problem, Budget("iterations", 1), np.random.default_rng(2))
    x = np.random.default_rng(3).standard_normal(N_DIM)
    return oracle, x, problem.true_grad(x)


def estimates(quadratic, *, rho, alpha, beta, k, P, draws, seed=0):
    """``draws`` GES estimates at ``x`` with a guiding subspace of alignment ``rho``.

    The subspace is spanned by one surrogate at angle ``arccos(rho)`` to the true gradient
    and ``k - 1`` directions orthogonal to it and to the gradient, pushed through
    ``remember`` like real surrogates. The same ``seed`` gives the same normal draws for
    every alpha and beta (common random numbers, so settings compare with little noise).
    """
    oracle, x, d = quadratic
    basis = np.linalg.qr(
        np.column_stack([d, np.random.default_rng(10).standard_normal((N_DIM, k))])
    )[0]
    ges = GuidedES(rng=seed, alpha=alpha, beta=beta, k=k, pairs=P, sigma=0.1)
    ges.start(x)
    ges.remember(rho * basis[:, 0] + np.sqrt(1 - rho**2) * basis[:, 1])
    for j in range(2, k + 1):
        ges.remember(basis[:, j])
    U = ges.basis()
    assert U.shape == (N_DIM, k)
    assert np.linalg.norm(U.T @ d) / np.linalg.norm(d) == pytest.approx(rho)
    return np.array([ges.estimate(oracle, ges.sample(P)) for _ in range(draws)]), d


CASES = [
    # rho, alpha, beta, k, P
    (0.5, 0.5, 2.0, 1, 1),
    (0.3, 0.25, 1.0, 3, 2),
    (0.8, 0.9, 4.0, 2, 1),
]


@pytest.mark.parametrize(("rho", "alpha", "beta", "k", "P"), CASES)
def test_bias_variance_mse_and_optimal_beta_match_monte_carlo(quadratic, rho, alpha, beta, k, P):
    G, d = estimates(quadratic, rho=rho, alpha=alpha, beta=beta, k=k, P=P, draws=5000)
    dd = d @ d
    mean = G.mean(axis=0)
    var_mc = ((G - mean) ** 2).sum(axis=1).mean() / dd
    # ||mean - d||^2 overestimates the squared bias by the variance of the mean, V/N.
    bias_mc = ((mean - d) @ (mean - d)) / dd - var_mc / len(G)
    mse_mc = ((G - d) ** 2).sum(axis=1).mean() / dd
    # The estimate is linear in beta, so the MSE over beta is a parabola with these moments.
    beta_mc = beta * (G @ d).mean() / (G * G).sum(axis=1).mean()
    # Tolerances: about twice the largest deviation seen over seeds at 5000 draws.
    args = (rho, alpha, beta, k, N_DIM)
    assert var_mc == pytest.approx(theory.variance(*args, P), rel=0.1)
    assert mse_mc == pytest.approx(theory.mse(*args, P), rel=0.06)
    assert bias_mc == pytest.approx(theory.bias_squared(*args), abs=0.02)
    assert beta_mc == pytest.approx(theory.optimal_beta(rho, alpha, k, N_DIM, P), rel=0.08)
    assert theory.mse(*args, P) == pytest.approx(
        theory.bias_squared(*args) + theory.variance(*args, P)
    )


def mc_optimal_mse(quadratic, rho, alpha, k, P, draws=4000):
    """Monte Carlo MSE at the best beta, ``1 - (E[g.d])^2 / (E||g||^2 ||d||^2)`` (beta = 1)."""
    G, d = estimates(quadratic, rho=rho, alpha=alpha, beta=1.0, k=k, P=P, draws=draws)
    return 1 - (G @ d).mean() ** 2 / ((G * G).sum(axis=1).mean() * (d @ d))


@pytest.mark.parametrize(
    ("rho", "k", "P", "regime"),
    [(0.15, 1, 10, "isotropic"), (0.5, 1, 10, "middle"), (0.9, 1, 2, "subspace")],
)
def test_optimal_alpha_minimises_monte_carlo_error(quadratic, rho, k, P, regime):
    a_star = float(theory.optimal_alpha(rho, k, N_DIM, P))
    expected = {"isotropic": 1.0, "subspace": 0.0}
    if regime in expected:
        assert a_star == expected[regime]
    else:
        assert 0.5 < a_star < 1
    others = {float(np.clip(a_star + s, 0, 1)) for s in (-0.5, -0.2, 0.2)} - {a_star}
    at_star = mc_optimal_mse(quadratic, rho, a_star, k, P)
    assert at_star == pytest.approx(theory.optimal_mse(rho, a_star, k, N_DIM, P), rel=0.03)
    # The MSE gaps to the other alphas (>= 0.02) are several times the Monte Carlo error.
    for alpha in others:
        assert at_star < mc_optimal_mse(quadratic, rho, alpha, k, P), alpha


def test_optimal_alpha_is_the_minimiser_and_continuous():
    alphas = np.linspace(0, 1, 20001)
    rho = np.linspace(0.01, 0.99, 99)[:, None]
    for k, n, P in [(1, 1000, 1), (4, 100, 3), (10, 50, 1)]:
        brute = alphas[np.argmin(theory.optimal_mse(rho, alphas, k, n, P), axis=1)]
        assert np.allclose(theory.optimal_alpha(rho[:, 0], k, n, P), brute, atol=1e-3)
    # The regimes meet continuously at both boundaries.
    k, n, P = 2, 100, 3
    for r2, value in [(k / n, 1.0), ((k + 2 * P + 2) / (n + 2 * P + 2), 0.0)]:
        inside = theory.optimal_alpha(np.sqrt(r2 * np.array([1.0 + 1e-9, 1 - 1e-9])), k, n, P)
        assert np.allclose(inside, value, atol=1e-5)


def test_functions_broadcast():
    rho = np.linspace(0, 1, 5)[:, None, None]
    alpha = np.linspace(0, 1, 4)[None, :, None]
    k = np.array([1, 2, 4])[None, None, :]
    assert theory.mse(rho, alpha, 2.0, k, 100, 1).shape == (5, 4, 3)
    assert theory.optimal_alpha(rho[:, :, 0], k[0], 100, 1).shape == (5, 3)
