"""Guided ES against its definition and analysis in the paper (Maheswaranathan et al., 2019)."""

from __future__ import annotations

from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gesbench import Budget, GuidedES, HyperparameterError
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import optimizers

VanillaES = cast(type[GuidedES], optimizers.get("vanilla_es"))

N = 20


def ges_with_subspace(rng, n=N, k=3, alpha=0.3, sigma=0.7, **params):
    ges = GuidedES(rng=rng, alpha=alpha, sigma=sigma, k=k, **params)
    ges.start(np.zeros(n))
    for _ in range(k):
        ges.remember(rng.standard_normal(n))
    U = ges.basis()
    cov = sigma**2 * (alpha / n * np.eye(n) + (1 - alpha) / k * U @ U.T)
    return ges, U, cov


def quadratic_oracle(rng, n=N):
    """f(x) = x'Hx/2 + c'x: antithetic differences are exact, so E[g] = beta Sigma d exactly."""
    M = rng.standard_normal((n, n))
    H = M @ M.T / n + np.eye(n)
    c = rng.standard_normal(n)
    f = lambda X: 0.5 * np.einsum("ij,jk,ik->i", X, H, X) + X @ c  # noqa: E731
    problem = FunctionProblem(f, None, np.zeros(n), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 1), np.random.default_rng(0))
    return oracle, H, c


def test_basis_is_orthonormal_and_spans_the_surrogates(rng):
    ges, U, _ = ges_with_subspace(rng)
    assert U.shape == (N, 3)
    np.testing.assert_allclose(U.T @ U, np.eye(3), atol=1e-12)
    G = ges._surrogates
    np.testing.assert_allclose(U @ (U.T @ G), G, atol=1e-10)


def test_sample_covariance_matches_sigma_squared_Sigma(rng):
    ges, _, cov = ges_with_subspace(rng)
    samples = 200_000
    eps = ges.sample(samples)
    empirical = eps.T @ eps / samples
    # E||C_hat - C||_F^2 = (tr(C)^2 + ||C||_F^2) / N for Gaussian samples.
    expected_error = np.sqrt((np.trace(cov) ** 2 + np.sum(cov**2)) / samples)
    assert np.linalg.norm(empirical - cov) < 4 * expected_error
    # Trace 1 covariance: E||eps||^2 = sigma^2 whatever alpha, k, n.
    assert np.mean(np.sum(eps**2, axis=1)) == pytest.approx(0.7**2, rel=0.01)


def test_mean_estimate_is_beta_Sigma_grad(rng):
    ges, _, cov = ges_with_subspace(rng, beta=2.0)
    oracle, H, c = quadratic_oracle(rng)
    ges.x = rng.standard_normal(N)
    d = H @ ges.x + c
    samples = 100_000
    eps = ges.sample(samples)
    mean = ges.estimate(oracle, eps)  # the estimate with P = samples is the Monte Carlo mean
    per_sample = (2.0 / 0.7**2) * eps * (eps @ d)[:, None]
    stderr = per_sample.std(axis=0) / np.sqrt(samples)
    expected = 2.0 * (cov / 0.7**2) @ d
    z = (mean - expected) / stderr
    assert np.max(np.abs(z)) < 4.5
    np.testing.assert_allclose(per_sample.mean(axis=0), mean, rtol=1e-9, atol=1e-12)


def test_pairs_reduce_variance_by_one_over_p(rng):
    oracle, _, _ = quadratic_oracle(rng)
    variances = {}
    for pairs in (1, 4):
        ges, _, _ = ges_with_subspace(np.random.default_rng(7), pairs=pairs)
        ges.x = np.ones(N)
        draws = np.array([ges.estimate(oracle, ges.sample(pairs)) for _ in range(6000)])
        variances[pairs] = draws.var(axis=0).sum()
    assert variances[1] / variances[4] == pytest.approx(4.0, rel=0.12)


def test_alpha_one_is_vanilla_es_and_never_queries_the_surrogate():
    calls = []

    def surrogate(x):
        calls.append(1)
        return 2 * x

    f = lambda x: float(np.sum((x - 1.0) ** 2))  # noqa: E731
    x0 = np.zeros(8)
    ges = GuidedES(rng=3, alpha=1.0, beta=1.0).minimize(f, surrogate, x0, budget=50)
    es = VanillaES(rng=3).minimize(f, None, x0, budget=50)
    np.testing.assert_array_equal(ges.x, es.x)
    assert calls == [] and es.gradient_calls == 0 and es.evaluations == 100


def test_vanilla_es_is_a_preset_whose_alpha_and_k_are_fixed():
    assert issubclass(VanillaES, GuidedES) and not VanillaES.uses_surrogate
    assert dict(VanillaES.fixed) == {"alpha": 1.0, "k": 1}
    assert VanillaES.defaults["beta"] == 1.0 and "alpha" not in VanillaES.defaults
    es = VanillaES(rng=0)
    assert (es.params.alpha, es.params.k, es.guided) == (1.0, 1, False)
    for fixed in ({"alpha": 0.5}, {"k": 2}):
        with pytest.raises(HyperparameterError, match="is fixed to"):
            VanillaES(**fixed)


def test_vanilla_es_searches_isotropically(rng):
    es = VanillaES(rng=rng, sigma=0.5)
    es.start(np.zeros(N))
    eps = es.sample(100_000)
    np.testing.assert_allclose(eps.T @ eps / len(eps), 0.25 / N * np.eye(N), atol=6e-4)


def test_warm_up_uses_only_the_gradients_held(rng):
    """With k = 3 but one surrogate held, extra variance lies along that surrogate only."""
    n, alpha, sigma = 10, 0.5, 1.0
    ges = GuidedES(rng=rng, k=3, alpha=alpha, sigma=sigma)
    ges.start(np.zeros(n))
    ges.remember(np.zeros(n))  # an all-zero surrogate carries no direction and is skipped
    assert ges.basis().shape == (n, 0)
    u = rng.standard_normal(n)
    ges.remember(u)
    u /= np.linalg.norm(u)
    np.testing.assert_allclose(np.abs(ges.basis()[:, 0]), np.abs(u), atol=1e-12)
    eps = ges.sample(200_000)
    cov = eps.T @ eps / len(eps)
    # Trace 1 with k' = 1: (alpha/n) I + (1 - alpha) u u^T.
    expected = sigma**2 * (alpha / n * np.eye(n) + (1 - alpha) * np.outer(u, u))
    np.testing.assert_allclose(cov, expected, atol=0.01)


def test_fifo_keeps_the_last_k_surrogates_in_order(rng):
    ges = GuidedES(rng=rng, k=2)
    ges.start(np.zeros(5))
    vectors = [rng.standard_normal(5) for _ in range(3)]
    for v in vectors:
        ges.remember(v)
    np.testing.assert_array_equal(ges._surrogates, np.column_stack(vectors[1:]))


@settings(max_examples=60, deadline=None)
@given(
    k=st.integers(1, 4),
    extra=st.integers(0, 4),
    pairs=st.integers(1, 3),
    alpha=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    dtype=st.sampled_from(["float64", "float32"]),
    zeros=st.sets(st.integers(0, 13)),
)
def test_an_iterations_draw_into_the_buffers_follows_the_subspace(
    k, extra, pairs, alpha, dtype, zeros
):
    """A step draws into its buffers through views made once per subspace; they must follow it
    as it fills and as the FIFO drops surrogates (re-forming the k > 1 basis), and
    skip all-zero surrogates: the same perturbations as a draw without buffers from the same
    generator state."""
    n = k + extra
    buffered, plain = (
        GuidedES(rng=1, k=k, alpha=alpha, pairs=pairs, dtype=dtype) for _ in range(2)
    )
    for ges in (buffered, plain):
        ges.start(np.zeros(n))
    surrogates = np.random.default_rng(0).standard_normal((3 * k + 2, n))
    surrogates[[i for i in zeros if i < len(surrogates)]] = 0
    into = np.empty((pairs, n), dtype)
    np.testing.assert_array_equal(buffered.sample(pairs, out=into), plain.sample(pairs))
    for s in surrogates:
        buffered.remember(s)
        plain.remember(s)
        np.testing.assert_array_equal(buffered.sample(pairs, out=into), plain.sample(pairs))
    np.testing.assert_array_equal(buffered.basis(), plain.basis())


@pytest.mark.parametrize("first_dim", [6, 9])
def test_a_restarted_optimizer_draws_as_a_fresh_one(first_dim):
    """``start`` makes new buffers: nothing drawn through the last run's views may remain."""
    n, k = 6, 2
    restarted, fresh = (GuidedES(rng=0, k=k, alpha=0.4, pairs=2) for _ in range(2))
    restarted.start(np.zeros(first_dim))
    for s in np.random.default_rng(1).standard_normal((k + 1, first_dim)):
        restarted.remember(s)
        restarted.sample(2, out=np.empty((2, first_dim)))
    surrogates = np.random.default_rng(2).standard_normal((k + 2, n))
    for ges in (restarted, fresh):
        ges.rng = np.random.default_rng(3)
        ges.start(np.zeros(n))
    for s in surrogates:
        restarted.remember(s)
        fresh.remember(s)
        drawn = restarted.sample(2, out=np.empty((2, n)))
        np.testing.assert_array_equal(drawn, fresh.sample(2, out=np.empty((2, n))))


def test_a_subclass_changes_the_search_distribution_through_sample():
    """A step draws through ``sample``, so a subclass's own ``sample`` is the one used."""

    class FirstAxisOnly(GuidedES):
        def sample(self, pairs, out=None):
            eps = super().sample(pairs, out)
            eps[:, 1:] = 0
            return eps

    x0 = np.ones(4)
    res = FirstAxisOnly(rng=0).minimize(lambda x: x @ x, lambda x: 2 * x, x0, budget=20)
    assert res.x[0] < 1 and (res.x[1:] == 1).all()


def test_each_step_costs_2p_evaluations_and_one_surrogate_call():
    res = GuidedES(rng=0, pairs=3).minimize(
        lambda x: float(x @ x), lambda x: 2 * x, np.ones(4), budget=7
    )
    assert (res.iterations, res.evaluations, res.gradient_calls) == (7, 42, 7)


def test_minimize_on_a_users_function_uses_the_surrogate_to_beat_vanilla_es():
    """A biased surrogate still speeds up the search (the paper's premise), paired by seed."""
    rng = np.random.default_rng(1)
    n = 50
    target = rng.standard_normal(n)
    bias = rng.standard_normal(n)
    bias /= np.linalg.norm(bias)
    f = lambda x: float(np.sum((x - target) ** 2))  # noqa: E731
    surrogate = lambda x: 2 * (x - target) + 2 * np.linalg.norm(x - target) * bias  # noqa: E731
    x0 = np.zeros(n)
    for seed in range(5):
        ges = GuidedES(rng=seed, lr=0.1, sigma=0.05).minimize(f, surrogate, x0, 300)
        es = VanillaES(rng=seed, lr=0.1, sigma=0.05).minimize(f, None, x0, 300)
        assert ges.fun < es.fun < f(x0)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"alpha": -0.1}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": -1.0}, "sigma"),
        ({"beta": 0.0}, "beta"),
        ({"k": 0}, "k must be >= 1"),
        ({"pairs": 0}, "pairs"),
        ({"lr": -0.1}, "lr"),
        ({"update": "rmsprop"}, "update"),
        ({"k": 1.5}, "'k' expects int"),
        ({"alpah": 0.5}, "Did you mean 'alpha'"),
    ],
)
def test_invalid_hyperparameters_raise_a_clear_error(params, message):
    with pytest.raises(HyperparameterError, match=message):
        GuidedES(**params)


def test_k_larger_than_the_dimension_is_rejected_at_start():
    with pytest.raises(HyperparameterError, match="k must be <= n = 3"):
        GuidedES(k=4).start(np.zeros(3))


def test_integer_hyperparameters_are_accepted_where_floats_are_expected():
    assert GuidedES(sigma=1).params["sigma"] == 1.0
    assert isinstance(GuidedES(sigma=1).params["sigma"], float)
