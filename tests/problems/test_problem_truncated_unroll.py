"""Truncated unrolled optimization: forward unroll, exact and truncated backpropagation."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.core.errors import HyperparameterError
from gesbench.problems.truncated_unroll import TruncatedUnroll


def naive_final_loss(p: TruncatedUnroll, x: np.ndarray) -> float:
    """Reference: the inner gradient descent written out plainly, one step at a time."""
    eta = p.params["max_lr"] / (1 + np.exp(-x))
    w = np.zeros(p.params["n_features"])
    for t in range(p.params["T"]):
        rate = eta[t] if p.params["meta"] == "per_step" else eta
        w = w - rate * (p.A.T @ (p.A @ w - p.y)) / len(p.y)
    return float(np.sum((p.A @ w - p.y) ** 2) / (2 * len(p.y)))


@pytest.mark.parametrize("meta", ["per_step", "per_parameter"])
def test_batched_unroll_matches_plain_gradient_descent(meta: str) -> None:
    p = TruncatedUnroll(0, meta=meta, T=30, K=5)
    X = p.x0 + np.random.default_rng(1).standard_normal((4, p.dim))
    np.testing.assert_allclose(p.loss(X), [naive_final_loss(p, x) for x in X], rtol=1e-12)


@pytest.mark.parametrize("meta", ["per_step", "per_parameter"])
def test_true_grad_matches_central_differences(meta: str) -> None:
    p = TruncatedUnroll(0, meta=meta, T=40, K=5, n_features=8, n_samples=40)
    x = p.x0 + 0.5 * np.random.default_rng(2).standard_normal(p.dim)
    h = 1e-5
    steps = h * np.eye(p.dim)
    fd = (p.loss(x + steps) - p.loss(x - steps)) / (2 * h)
    g = p.true_grad(x)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7 * np.abs(g).max())


@pytest.mark.parametrize("meta", ["per_step", "per_parameter"])
def test_surrogate_through_all_steps_is_the_true_gradient(meta: str) -> None:
    p = TruncatedUnroll(0, meta=meta, T=25, K=25)
    x = p.x0 + 0.3 * np.random.default_rng(3).standard_normal(p.dim)
    np.testing.assert_allclose(p.surrogate_grad(x, np.random.default_rng()), p.true_grad(x))


def test_per_step_truncation_drops_the_early_steps_only() -> None:
    p = TruncatedUnroll(0, T=50, K=10)
    x = p.x0 + 0.3 * np.random.default_rng(4).standard_normal(p.dim)
    s, g = p.surrogate_grad(x, np.random.default_rng()), p.true_grad(x)
    np.testing.assert_array_equal(s[:40], 0.0)
    np.testing.assert_allclose(s[40:], g[40:], rtol=1e-12)


def test_documented_alignment_at_x0() -> None:
    # per_step: every step's rate matters equally at a constant schedule, so the cosine between
    # the truncated and the full gradient is sqrt(K / T).
    p = TruncatedUnroll(0)
    s, g = p.surrogate_grad(p.x0, np.random.default_rng()), p.true_grad(p.x0)
    cos = s @ g / (np.linalg.norm(s) * np.linalg.norm(g))
    assert cos == pytest.approx(np.sqrt(10 / 100), rel=1e-6)
    # per_parameter: informative but not exact (documented range 0.95-0.999).
    q = TruncatedUnroll(0, meta="per_parameter")
    s, g = q.surrogate_grad(q.x0, np.random.default_rng()), q.true_grad(q.x0)
    cos = s @ g / (np.linalg.norm(s) * np.linalg.norm(g))
    assert 0.95 < cos < 0.999


def test_inner_hessian_has_the_requested_conditioning() -> None:
    p = TruncatedUnroll(0, condition=100.0, n_features=10, n_samples=1000)
    eig = np.linalg.eigvalsh(p.hessian)
    assert eig.max() == pytest.approx(1.0)
    # The column scaling sets it; the Gaussian draw perturbs it by a modest factor.
    assert 30 < eig.max() / eig.min() < 300


def test_bounded_rates_never_diverge() -> None:
    # With max_lr = 2 = 2 / lambda_max, no schedule can make the inner run blow up.
    p = TruncatedUnroll(0)
    extreme = np.stack([np.full(p.dim, 50.0), np.full(p.dim, -50.0), p.x0])
    values = p.loss(extreme)
    assert np.isfinite(values).all()
    zero_step_loss = p.inner_loss(np.zeros((1, p.params["n_features"])))[0]
    assert values.max() <= zero_step_loss + 1e-12


def test_learning_rates_improve_over_the_start() -> None:
    # The meta-problem is worth solving: larger stable rates beat the initial schedule.
    p = TruncatedUnroll(0)
    assert p.loss(np.full((1, p.dim), 2.0))[0] < p.loss(p.x0[None, :])[0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"K": 0}, "K"),
        ({"K": 200}, "K"),
        ({"meta": "per_layer"}, "meta"),
        ({"init_lr": 3.0}, "init_lr"),
        ({"condition": 0.1}, "condition"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        TruncatedUnroll(0, **params)


def test_inner_floor_bounds_the_meta_loss() -> None:
    p = TruncatedUnroll(0)
    X = p.x0 + 3 * np.random.default_rng(5).standard_normal((50, p.dim))
    assert (p.loss(X) >= p.inner_floor).all()
    # The best constant rate comes close to the floor (the meta-problem is solvable).
    constant = np.linspace(-6, 8, 100)[:, None] * np.ones(p.dim)
    assert p.loss(constant).min() < 1.1 * p.inner_floor
