"""Guided ES with adaptive alpha and beta: the alignment estimator against the true alignment,
and alpha and beta against the paper's closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench import Budget, HyperparameterError
from gesbench.core.oracle import Oracle
from gesbench.core.registry import optimizers, problems
from gesbench.ges.adaptive import AlignmentEstimator, GuidedESAuto
from gesbench.ges.theory import optimal_alpha, optimal_beta


def synthetic_stream(
    rng, rho2: float, n: int, iterations: int, alpha: float | tuple[float, float] = 0.5, decay=0.0
):
    """Half differences from the exact model: y = sqrt(alpha/n) z_n.d + sqrt(1-alpha) z u (k = 1),
    with a gradient norm that may shrink over time and a per-step alignment that fluctuates."""
    for t in range(iterations):
        a = rng.uniform(*alpha) if isinstance(alpha, tuple) else alpha
        D = np.exp(-decay * t)
        u = np.sqrt(rng.exponential(rho2) * D)
        z = rng.standard_normal()
        y = np.sqrt(a / n) * np.sqrt(D) * rng.standard_normal() + np.sqrt(1 - a) * z * u
        yield np.array([y]), a / n, np.array([(1 - a) * z * z])


@pytest.mark.parametrize("rho2", [0.002, 0.02, 0.2])
def test_estimator_recovers_the_squared_alignment_from_its_model(rho2):
    rng = np.random.default_rng(0)
    ratios = []
    for _ in range(5):
        est = AlignmentEstimator(memory=200)
        stream = synthetic_stream(rng, rho2, n=500, iterations=800, alpha=(0.3, 0.9), decay=3e-3)
        for sample in stream:
            est.add(*sample)
        ratios.append(est.rho2 / rho2)
    # unbiased to within the spread of 5 estimates (a typical error is ~30%), although the
    # gradient shrinks 10-fold over the stream and alpha changes at every step
    assert 0.7 < np.median(ratios) < 1.4
    assert np.mean((np.array(ratios) > 0.5) & (np.array(ratios) < 2)) >= 3 / 5


def test_estimator_is_none_before_data_and_ratio_stays_in_0_1():
    est = AlignmentEstimator(memory=10)
    assert est.rho2 is None
    rng = np.random.default_rng(1)
    for _ in range(30):  # samples with no isotropic part: the fit sits on rho = 1
        z = rng.standard_normal(3)
        est.add(z * 2.0, 0.5 / 100, 0.5 * z * z)
    assert est.rho2 == pytest.approx(1.0)
    est = AlignmentEstimator(memory=10)
    for _ in range(30):  # no subspace part: rho = 0
        est.add(rng.standard_normal(3), 0.5 / 100, 0.5 * rng.standard_normal(3) ** 2)
    assert est.rho2 is not None and 0.0 <= est.rho2 < 0.01


def run_with_truth(alignment, iterations, seed, n=100, **params):
    """Run guided_es_auto on a biased quadratic; return the true rho^2 of each step's subspace,
    the estimates and the alphas used."""
    problem = problems.create(
        "biased_quadratic", {"n": n, "condition": 10.0, "alignment": alignment}, rng=seed
    )
    opt = GuidedESAuto(rng=100 + seed, **params)
    oracle = Oracle(problem, Budget("iterations", iterations), np.random.default_rng(200 + seed))
    opt.start(problem.x0)
    true, est, alphas = [], [], []
    for _ in range(iterations):
        d = problem.true_grad(opt.x)
        opt.step(oracle)
        U = opt.basis()
        true.append(np.sum((U.T @ d) ** 2) / (d @ d))
        est.append(opt.estimator.rho2)
        alphas.append(opt.alpha)
    return np.array(true), np.array(est, dtype=float), np.array(alphas)


def test_rho_estimate_tracks_the_true_alignment_on_quadratics():
    # The surrogate's alignment is set directly by the problem; the iterate is held near x0
    # (tiny steps) so the true alignment is stationary, and alpha is fixed at 0.5 (no adaptation)
    medians = []
    for alignment in (0.2, 0.5, 0.8):
        ratios = []
        for seed in range(3):
            true, est, _ = run_with_truth(
                alignment, 1000, seed, lr=1e-9, warmup=10**6, memory=250.0
            )
            ratios.append(est[-1] / true[-500:].mean())
        medians.append(np.median(ratios))
    assert all(0.65 < m < 1.5 for m in medians), medians


def test_alpha_goes_to_one_for_a_useless_surrogate_and_to_zero_for_an_exact_one():
    n = 100
    mean_alpha = {}
    for alignment in (0.02, 0.15, 1.0):
        _, _, alphas = run_with_truth(alignment, 600, 0, n=n, lr=1e-9, memory=100.0)
        mean_alpha[alignment] = alphas[200:].mean()
    # rho^2 = 4e-4 < k/n = 0.01: alpha* = 1 (clipped to alpha_max = 0.95)
    assert mean_alpha[0.02] > 0.85
    # rho = 1: alpha* = 0 (clipped to alpha_min = 0.05)
    assert mean_alpha[1.0] < 0.1
    # in between, in between
    assert mean_alpha[1.0] < mean_alpha[0.15] < mean_alpha[0.02]


def test_alpha_and_beta_are_the_closed_forms_at_the_estimate():
    n, k, pairs = 200, 2, 3
    opt = GuidedESAuto(rng=0, k=k, pairs=pairs, warmup=0)
    opt.start(np.zeros(n))
    for rho2 in (1e-4, 0.02, 0.3, 1.0):
        opt.estimator.theta = np.array([1.0, rho2])  # (D, S)
        alpha, beta = opt._choose(k)
        expected = float(np.clip(optimal_alpha(np.sqrt(rho2), k, n, pairs), 0.05, 0.95))
        assert alpha == pytest.approx(expected)
        assert beta == pytest.approx(float(optimal_beta(np.sqrt(rho2), alpha, k, n, pairs)))
    # warm-up: the given alpha and beta
    opt = GuidedESAuto(rng=0, alpha=0.3, beta=1.5, warmup=5)
    opt.start(np.zeros(n))
    opt.estimator.theta = np.array([1.0, 0.5])
    assert opt._choose(1) == (0.3, 1.5)


def test_step_uses_the_chosen_alpha_and_beta_and_feeds_the_estimator():
    n = 50
    problem = problems.create("biased_quadratic", {"n": n, "alignment": 0.5}, rng=0)
    opt = GuidedESAuto(rng=1, warmup=3, pairs=2)
    oracle = Oracle(problem, Budget("iterations", 100), np.random.default_rng(0))
    opt.start(problem.x0)
    for t in range(10):
        opt.step(oracle)
        if t < 3:
            assert (opt.alpha, opt.beta) == (0.5, 0.5)
        else:
            assert 0.05 <= opt.alpha <= 0.95
    assert opt.estimator.iteration == 10
    assert oracle.evaluations == 40 and oracle.gradient_calls == 10


def test_parameters_are_checked():
    with pytest.raises(HyperparameterError, match="alpha_min"):
        GuidedESAuto(alpha_min=0.9, alpha_max=0.5)
    with pytest.raises(HyperparameterError, match="alpha_max"):
        GuidedESAuto(alpha_max=1.0)  # the subspace must keep being probed
    assert optimizers.get("guided_es_auto") is GuidedESAuto
