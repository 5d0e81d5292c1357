"""SGES against its definition (the authors' black-box code): warm-up, the historical subspace,
the mixture of perturbations, the direction of the probability's adaptation, the surrogate
variant."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest

from gesbench import Budget, HyperparameterError
from gesbench.baselines.sges import SGES
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import optimizers

SGESSurrogate = cast(type[SGES], optimizers.get("sges_surrogate"))


def quadratic_oracle(n: int, target: np.ndarray | None = None, surrogate=None) -> Oracle:
    target = np.ones(n) if target is None else target
    problem = FunctionProblem(
        lambda X: 0.5 * np.sum((X - target) ** 2, axis=1), surrogate, np.zeros(n), vectorized=True
    )
    return Oracle(problem, Budget("iterations", 10**6), np.random.default_rng(0))


def recording_oracle(n: int, seen: list, target: np.ndarray) -> Oracle:
    def f(X):
        seen.append(X.copy())
        return 0.5 * np.sum((X - target) ** 2, axis=1)

    problem = FunctionProblem(f, None, np.zeros(n), vectorized=True)
    return Oracle(problem, Budget("iterations", 10**6), np.random.default_rng(0))


def test_warm_up_searches_isotropically_and_fills_the_archive():
    n, k = 30, 4
    opt = SGES(rng=0, k=k, pairs=5)
    opt.start(np.zeros(n))
    oracle = quadratic_oracle(n)
    for t in range(k):
        opt.step(oracle)
        assert opt.subspace_draws == 0 and opt.alpha == 0.5
        assert opt._held == t + 1
    opt.step(oracle)
    assert opt.subspace_draws > 0


def test_archive_is_a_fifo_of_the_last_k_estimates():
    n, k = 10, 3
    opt = SGES(rng=1, k=k, pairs=2)
    opt.start(np.zeros(n))
    oracle = quadratic_oracle(n)
    estimates = []
    for _ in range(6):
        before = opt.x.copy()
        opt.step(oracle)
        estimates.append((before - opt.x) / opt.params.lr)  # SGD: g = (x - x') / lr
    np.testing.assert_allclose(opt._estimates, np.column_stack(estimates[-k:]), atol=1e-12)


def test_perturbations_mix_subspace_and_full_space_draws():
    n, k, pairs = 40, 3, 4000
    opt = SGES(rng=2, k=k, pairs=pairs, alpha=0.3, alpha_min=0.3, alpha_max=0.7, sigma=0.5)
    opt.start(np.zeros(n))
    rng = np.random.default_rng(5)
    for _ in range(k):
        opt.remember(rng.standard_normal(n))
    U = opt.basis(quadratic_oracle(n))
    seen: list = []
    opt.step(recording_oracle(n, seen, np.ones(n)))
    eps = seen[0][:pairs]  # x = 0, so the first half of the batch are the perturbations
    inside = np.linalg.norm(eps - (eps @ U) @ U.T, axis=1) < 1e-9
    assert inside.sum() == opt.subspace_draws
    assert inside.mean() == pytest.approx(0.3, abs=0.03)  # drawn with probability alpha
    # both kinds have E||eps||^2 = sigma^2
    for part in (eps[inside], eps[~inside]):
        assert np.mean(np.sum(part**2, axis=1)) == pytest.approx(0.25, rel=0.05)


def test_mean_estimate_is_the_mixture_covariance_times_the_gradient():
    n, k, pairs = 12, 2, 50_000
    rng = np.random.default_rng(3)
    opt = SGES(rng=3, k=k, pairs=pairs, alpha=0.6, alpha_max=0.7, lr=1e-9)
    opt.start(np.zeros(n))
    for _ in range(k):
        opt.remember(rng.standard_normal(n))
    U = opt.basis(quadratic_oracle(n))
    target = rng.standard_normal(n)
    opt.step(quadratic_oracle(n, target))
    g = opt._estimates[:, -1]  # the newest estimate, of d = grad f(0) = -target
    d = -target
    expected = (0.6 / k) * U @ (U.T @ d) + (0.4 / n) * d
    # each pair's term eps (eps . d) / sigma^2 has coordinates of size ~||d|| / sqrt(k)
    stderr = np.linalg.norm(d) / np.sqrt(pairs)
    assert np.max(np.abs(g - expected)) < 5 * stderr
    assert np.linalg.norm(g - expected) < 0.1 * np.linalg.norm(expected)


@pytest.mark.parametrize("aligned", [True, False])
def test_alpha_rises_when_the_subspace_finds_lower_losses(aligned):
    # The archive is pinned to one direction: along the gradient, subspace perturbations find
    # lower losses than isotropic ones and alpha rises to alpha_max; orthogonal to it they
    # find none and alpha falls to alpha_min.
    n = 50
    target = np.zeros(n)
    target[0] = 1.0
    direction = np.zeros(n)
    direction[0 if aligned else 1] = 1.0
    opt = SGES(rng=4, k=1, pairs=50, lr=1e-9, sigma=0.1)
    opt.start(np.zeros(n))
    oracle = quadratic_oracle(n, target)
    alphas = [opt.alpha]
    for _ in range(300):
        opt._estimates[:, 0] = direction  # pin the subspace
        opt._held = 1
        opt.step(oracle)
        alphas.append(opt.alpha)
    steps = np.diff(alphas)
    moved = steps[steps != 0]  # zero once clipped at a bound
    if aligned:
        assert np.mean(moved > 0) > 0.9 and alphas[-1] == pytest.approx(0.7)
    else:
        assert np.mean(moved < 0) > 0.9 and alphas[-1] == pytest.approx(0.3)


def test_alpha_rises_on_a_sphere_where_past_estimates_point_the_way():
    n = 100
    opt = SGES(rng=5, k=5, pairs=20, lr=2.0, sigma=0.01)
    opt.start(np.zeros(n))
    oracle = quadratic_oracle(n)
    alphas = []
    for _ in range(200):
        opt.step(oracle)
        alphas.append(opt.alpha)
    assert np.mean(alphas[-100:]) > 0.65  # from 0.5 towards the upper bound 0.7


def test_surrogate_variant_adds_the_surrogate_to_the_subspace_from_the_start():
    n = 20
    s = np.arange(1.0, n + 1)
    opt = SGESSurrogate(rng=6, k=3, pairs=4)
    opt.start(np.zeros(n))
    oracle = quadratic_oracle(n, surrogate=lambda x: s)
    U = opt.basis(oracle)
    assert U.shape == (n, 1)
    np.testing.assert_allclose(abs(U[:, 0] @ s) / np.linalg.norm(s), 1.0)
    calls = oracle.gradient_calls
    for _ in range(5):
        opt.step(oracle)
    assert oracle.gradient_calls - calls == 5  # one surrogate call per iteration
    U = opt.basis(oracle)
    assert U.shape == (n, 4)  # k estimates + the surrogate
    np.testing.assert_allclose(U @ (U.T @ s), s, atol=1e-9)
    # plain SGES never calls the surrogate
    plain = SGES(rng=6, k=3, pairs=4)
    plain.start(np.zeros(n))
    oracle = quadratic_oracle(n, surrogate=lambda x: s)
    for _ in range(5):
        plain.step(oracle)
    assert oracle.gradient_calls == 0


def test_k_is_capped_at_the_dimension():
    opt = SGES(rng=7, k=20, pairs=3)
    opt.start(np.zeros(4))
    oracle = quadratic_oracle(4)
    for _ in range(6):
        opt.step(oracle)
    assert opt.k == 4 and opt.subspace_draws >= 0


def test_parameters_are_checked():
    with pytest.raises(HyperparameterError, match="alpha"):
        SGES(alpha=0.9)  # outside [alpha_min, alpha_max] = [0.3, 0.7]
    with pytest.raises(HyperparameterError, match="alpha_min"):
        SGES(alpha_min=0.8, alpha_max=0.7, alpha=0.75)
    with pytest.raises(HyperparameterError, match="alpha_factor"):
        SGES(alpha_factor=0.9)
