"""ASEBO against its definition (the authors' code): the explained-variance rule for the
subspace and the number of pairs, the warm-up, the adaptive mix, and the budget."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from gesbench import Budget, HyperparameterError
from gesbench.baselines.asebo import ASEBO
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem


def sphere_oracle(n: int, budget: Budget, center: float = 1.0) -> Oracle:
    problem = FunctionProblem(
        lambda X: np.sum((X - center) ** 2, axis=1), None, np.zeros(n), vectorized=True
    )
    return Oracle(problem, budget, np.random.default_rng(0))


def history_with_spectrum(rng, n: int, scales: np.ndarray, rows: int = 60) -> np.ndarray:
    """Rows spread along len(scales) orthonormal directions with the given standard deviations."""
    basis = np.linalg.qr(rng.standard_normal((n, len(scales))))[0]
    return (rng.standard_normal((rows, len(scales))) * scales) @ basis.T


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.99, 0.995])
def test_subspace_dimension_follows_the_explained_variance_rule(rng, threshold):
    n = 40
    scales = np.array([10.0, 6.0, 4.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    opt = ASEBO(rng=0, threshold=threshold, min_samples=1)
    opt.start(np.zeros(n))
    opt._history = history_with_spectrum(rng, n, scales)
    U, U_perp, r = opt.principal()
    # independent check: scikit-learn's PCA, as the reference uses it
    pca = PCA().fit(opt._history)
    expected = int(np.argmax(np.cumsum(pca.explained_variance_ratio_) > threshold)) + 1
    assert r == expected
    assert U.shape == (r, n)
    # U spans the same subspace as scikit-learn's leading components, U_perp the rest
    lead = pca.components_[:r]
    np.testing.assert_allclose(U.T @ U @ lead.T, lead.T, atol=1e-8)
    np.testing.assert_allclose(U @ U.T, np.eye(r), atol=1e-10)
    np.testing.assert_allclose(U @ U_perp.T, 0, atol=1e-10)
    # more variance kept means more components
    assert r <= len(scales)


def test_pairs_are_the_subspace_dimension_but_at_least_min_samples(rng):
    n = 30
    opt = ASEBO(rng=1, warmup=0, min_samples=3, threshold=0.95)
    opt.start(np.zeros(n))
    opt.iteration = 1  # past the first post-warm-up iteration, which draws `samples` pairs
    opt._history = history_with_spectrum(rng, n, np.array([5.0, 5.0, 5.0, 5.0, 5.0, 0.01]))
    r = opt.principal()[2]
    assert r == 5
    oracle = sphere_oracle(n, Budget("iterations", 10))
    opt.step(oracle)
    assert oracle.evaluations == 2 * r and opt.pairs == r and opt.subspace_dim == r

    # a history along one direction: r = 1, so min_samples pairs along min_samples components
    opt = ASEBO(rng=1, warmup=0, min_samples=3)
    opt.start(np.zeros(n))
    opt.iteration = 1
    opt._history = history_with_spectrum(rng, n, np.array([1.0]))
    assert opt.principal()[2] == 1
    oracle = sphere_oracle(n, Budget("iterations", 10))
    opt.step(oracle)
    assert oracle.evaluations == 2 * 3 and opt.subspace_dim == 3


def test_warm_up_is_isotropic_with_the_warm_up_pairs_then_pca():
    n, warmup = 20, 5
    opt = ASEBO(rng=2, warmup=warmup, samples=7, min_samples=2, lr=0.01)
    opt.start(np.zeros(n))
    oracle = sphere_oracle(n, Budget("iterations", 100))
    spent = []
    for _ in range(warmup + 2):
        before = oracle.evaluations
        opt.step(oracle)
        spent.append(oracle.evaluations - before)
        if opt.iteration <= warmup:
            assert opt.subspace_dim == 0 and opt.alpha == 1.0
    # warm-up and the first PCA iteration draw `samples` pairs (the reference does too)
    assert spent[: warmup + 1] == [14] * (warmup + 1)
    assert opt.subspace_dim > 0
    assert len(opt._history) == warmup + 2


def test_history_is_decayed_and_capped():
    n = 6
    opt = ASEBO(rng=3, warmup=100, samples=2, decay=0.5, history=3)
    opt.start(np.zeros(n))
    oracle = sphere_oracle(n, Budget("iterations", 100))
    estimates = []
    for _ in range(5):
        opt.step(oracle)
        estimates.append(opt._history[-1].copy())
    expected = np.array([0.25 * estimates[2], 0.5 * estimates[3], estimates[4]])
    np.testing.assert_allclose(opt._history, expected)


def test_alpha_is_the_share_of_the_new_estimate_outside_the_subspace():
    n = 30
    opt = ASEBO(rng=4, warmup=5, samples=20, min_samples=2, lr=0.01)
    opt.start(np.zeros(n))
    oracle = sphere_oracle(n, Budget("iterations", 100))
    for _ in range(12):
        U, U_perp, _ = opt.principal() if opt.iteration >= 5 else (None, None, 0)
        opt.step(oracle)
        if U is None:
            assert opt.alpha == 1.0
            continue
        g = opt._history[-1]
        ratio = np.linalg.norm(U_perp @ g) / np.linalg.norm(U @ g)
        assert opt.alpha == pytest.approx(min(ratio, 1.0), rel=1e-12)


def test_the_uncentred_subspace_leads_with_the_gradient_direction():
    # a linear function: every estimate is the same gradient plus sampling noise, so the
    # leading direction of the uncentred history (the paper's Cov_t) is the gradient's
    n = 60
    c = np.random.default_rng(1).standard_normal(n)
    problem = FunctionProblem(lambda X: X @ c, None, np.zeros(n), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 200), np.random.default_rng(0))
    opt = ASEBO(rng=4, warmup=15, samples=100, min_samples=1, lr=0.01, center=False)
    opt.start(np.zeros(n))
    for _ in range(15):
        opt.step(oracle)
    U = opt.principal()[0]
    assert abs(U[0] @ c) / np.linalg.norm(c) > 0.95


def test_centring_is_what_separates_the_code_from_the_paper():
    n = 10
    row = np.arange(1.0, n + 1)
    for center, dims in ((True, 0), (False, 1)):
        opt = ASEBO(rng=0, min_samples=1, center=center)
        opt.start(np.zeros(n))
        opt._history = np.tile(row, (5, 1))  # identical estimates: no spread about their mean
        U, _, r = opt.principal()
        assert r == dims and len(U) == dims
        if dims:
            np.testing.assert_allclose(abs(U[0] @ row) / np.linalg.norm(row), 1.0)


def test_perturbations_have_norm_sigma_and_the_estimate_points_downhill():
    n = 50
    opt = ASEBO(rng=5, sigma=0.3, warmup=10, samples=200, update="sgd", lr=1e-3)
    opt.start(np.zeros(n))
    seen: list[Array] = []

    def loss(X: Array) -> Array:
        seen.append(X.copy())
        return np.sum((X - 1.0) ** 2, axis=1)

    problem = FunctionProblem(loss, None, np.zeros(n), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 1), np.random.default_rng(0))
    opt.step(oracle)
    (X,) = seen
    np.testing.assert_allclose(np.linalg.norm(X[:200], axis=1), 0.3)
    np.testing.assert_allclose(X[:200], -X[200:])
    # the step moves towards the minimiser (all coordinates at 1)
    cosine = opt.x @ np.ones(n) / (np.linalg.norm(opt.x) * np.sqrt(n))
    assert cosine > 0.8


def test_an_iteration_that_does_not_fit_the_budget_is_not_run():
    opt = ASEBO(rng=6, samples=10)
    opt.start(np.zeros(8))
    oracle = sphere_oracle(8, Budget("evaluations", 55))
    drive(opt, oracle)
    assert oracle.evaluations == 40 and oracle.iterations == 2  # the third would need 20
    # but a first iteration runs with what fits
    opt.start(np.zeros(8))
    oracle = sphere_oracle(8, Budget("evaluations", 15))
    drive(opt, oracle)
    assert oracle.evaluations == 14 and opt.pairs == 7 and oracle.iterations == 1


def test_parameters_are_checked():
    with pytest.raises(HyperparameterError, match="threshold"):
        ASEBO(threshold=1.0)
    with pytest.raises(HyperparameterError, match="history"):
        ASEBO(history=1)
    ASEBO(history=1, center=False)
