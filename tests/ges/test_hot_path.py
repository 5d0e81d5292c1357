"""Guided ES's buffered iteration: the same numbers as the plain formulas, and a basis that
stays an orthonormal basis of the surrogates when it is updated instead of recomputed."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from gesbench import Budget, GuidedES
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem


def reference_run(f, surrogate, x0, iterations, seed, *, sigma, alpha, beta, pairs, update, lr):
    """Guided ES for k = 1 written as the plain formulas (fresh arrays, a fresh basis)."""
    rng = np.random.default_rng(seed)
    x = np.array(x0, dtype=float)
    n = x.size
    m = np.zeros(n)
    v = np.zeros(n)
    for t in range(1, iterations + 1):
        s = surrogate(x)
        u = s[:, None] / np.linalg.norm(s[:, None])
        z = rng.standard_normal((pairs, n + 1))
        eps = (sigma * np.sqrt(alpha / n)) * z[:, :n]
        eps += (sigma * np.sqrt(1 - alpha)) * (z[:, n:] @ u.T)
        values = f(np.concatenate([x + eps, x - eps]))
        g = (beta / (2 * sigma**2 * pairs)) * ((values[:pairs] - values[pairs:]) @ eps)
        if update == "sgd":
            x = x - lr * g
        elif update in ("momentum", "nesterov"):
            m = 0.9 * m + g
            x = x - lr * (m if update == "momentum" else g + 0.9 * m)
        else:
            m = 0.9 * m + (1 - 0.9) * g
            v = 0.999 * v + (1 - 0.999) * g * g
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            x = x - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
    return x


@pytest.mark.parametrize("update", ["sgd", "momentum", "nesterov", "adam"])
def test_buffered_iterations_equal_the_plain_formulas_bit_for_bit(update):
    rng = np.random.default_rng(0)
    n = 40
    M = rng.standard_normal((n, n))
    H, c = M @ M.T / n, rng.standard_normal(n)
    f = lambda X: 0.5 * np.einsum("ij,ij->i", X @ H, X) - X @ c  # noqa: E731
    surrogate = lambda x: H @ x - c + np.sin(x)  # noqa: E731
    settings = dict(sigma=0.3, alpha=0.4, beta=1.5, pairs=3, update=update, lr=0.01)
    expected = reference_run(f, surrogate, np.ones(n), 60, 7, **settings)
    ges = GuidedES(rng=7, k=1, **settings)
    result = ges.minimize(f, surrogate, np.ones(n), 60, vectorized=True)
    np.testing.assert_array_equal(result.x, expected)


def fresh_basis(G):
    return scipy.linalg.qr(G, mode="economic")[0]


def test_updated_basis_spans_the_surrogates_and_stays_orthonormal(rng):
    """Against a fresh QR after every push, over 1,500 pushes: no drift beyond rounding."""
    n, k = 60, 4
    ges = GuidedES(rng=0, k=k)
    ges.start(np.zeros(n))
    drift = direction = 0.0
    for t in range(1500):
        # slowly turning surrogates, as along a run: successive ones are strongly correlated
        ges.remember(np.sin(0.01 * t * np.arange(1, n + 1)) + 0.1 * rng.standard_normal(n))
        U, G = ges.basis(), ges._surrogates[:, : ges._held]
        Q = fresh_basis(G)
        drift = max(drift, np.abs(U.T @ U - np.eye(U.shape[1])).max())
        direction = max(direction, np.abs(U @ U.T - Q @ Q.T).max())
        np.testing.assert_allclose(U @ ges._R[: U.shape[1], : U.shape[1]], G, atol=1e-12)
    assert drift < 1e-13
    assert direction < 1e-10


def test_a_surrogate_inside_the_span_keeps_the_basis_orthonormal(rng):
    """Pushing a vector the kept columns already span (here, an old one again) falls back to
    a fresh QR instead of normalising a vector of rounding errors."""
    n, k = 30, 3
    ges = GuidedES(rng=0, k=k)
    ges.start(np.zeros(n))
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    for v in (a, b, a + b, 2 * b):
        ges.remember(v)
        U = ges.basis()
        assert np.isfinite(U).all()
        np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-12)
        G = ges._surrogates[:, : ges._held]
        np.testing.assert_allclose(U @ (U.T @ G), G, atol=1e-12)


@pytest.mark.parametrize("scale", [1e-170, 3e-161, 1e170])
@pytest.mark.parametrize("k", [1, 3])
def test_a_basis_direction_is_a_unit_vector_whatever_the_surrogate_scale(rng, scale, k):
    """The squares of these vectors underflow to 0 (overflow to inf): a plain sqrt(v @ v) made
    the basis NaN (0) and every later perturbation with it."""
    n = 20
    ges = GuidedES(rng=0, k=k)
    ges.start(np.zeros(n))
    vectors = [scale * rng.standard_normal(n) for _ in range(k + 1)]
    for v in vectors:
        ges.remember(v)
    U = ges.basis()
    np.testing.assert_allclose(U.T @ U, np.eye(k), atol=1e-12)
    last = vectors[-1] / np.linalg.norm(vectors[-1] / scale) / scale
    assert np.linalg.norm(U.T @ last) == pytest.approx(1.0)
    assert np.isfinite(ges.sample(2)).all()


def test_the_points_handed_to_the_loss_are_the_iterate_plus_and_minus_each_perturbation():
    """One batch of 2P rows, x + eps_i then x - eps_i; the buffer is reused across
    iterations, so what the loss saw is copied here."""
    seen = []

    def f(X):
        seen.append(X.copy())
        return np.sum(X**2, axis=1)

    n, pairs = 5, 2
    problem = FunctionProblem(f, lambda x: 2 * x + 1, np.ones(n), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 3), np.random.default_rng(0))
    ges = GuidedES(rng=1, pairs=pairs)
    ges.start(problem.x0)
    xs = []
    drive(ges, oracle, lambda: xs.append(ges.x.copy()))
    starts = [np.ones(n), *xs[:-1]]
    assert len(seen) == 3
    for X, x in zip(seen, starts, strict=True):
        eps = X[:pairs] - x
        np.testing.assert_allclose(X[pairs:], x - eps, atol=1e-15)
        assert np.all(np.linalg.norm(eps, axis=1) > 0)
    assert not np.shares_memory(xs[0], xs[1])  # each iterate is a new array
