"""Every built-in problem takes a ``dtype``: float64 by default (and then left out of stored
parameters, so trial ids did not move), float32 computing in float32 on the same instance."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest

from gesbench.core.registry import problems

SMALL: dict[str, dict[str, Any]] = {
    "perturbed_quadratic": {"n": 20, "m": 40},
    "biased_quadratic": {"n": 20, "drift": 0.5, "condition": 10.0},
    "logistic_regression": {"dataset": "synthetic", "n_samples": 100, "n_features": 5},
    "binary_network": {"dataset": "teacher", "n_samples": 50, "hidden": 4, "batch_size": 16},
    "truncated_unroll": {"T": 10, "K": 3, "n_features": 5, "n_samples": 20},
    "truncated_unroll_per_parameter": {"T": 10, "K": 3, "meta": "per_parameter"},
}


def build(key: str, dtype: str):
    name = key.removesuffix("_per_parameter")
    return problems.create(name, {**SMALL[key], "dtype": dtype}, rng=3)


@pytest.mark.parametrize("key", list(SMALL))
def test_dtype_is_declared_and_stored_only_when_not_float64(key):
    cls = problems.get(key.removesuffix("_per_parameter"))
    assert cls.defaults["dtype"] == "float64"
    assert "dtype" not in cls.params_dict(SMALL[key])
    assert cls.params_dict({**SMALL[key], "dtype": "float32"})["dtype"] == "float32"


@pytest.mark.parametrize("key", list(SMALL))
def test_float32_computes_in_float32_on_the_float64_instance(key):
    p64, p32 = build(key, "float64"), build(key, "float32")
    assert (p64.dtype, p32.dtype) == (np.float64, np.float32)
    assert p32.f_star == p64.f_star
    rng = np.random.default_rng(0)
    X = p64.x0 + 0.3 * rng.standard_normal((3, p64.dim))
    values = p32.loss(X.astype(np.float32))
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, p64.loss(X), rtol=2e-4, atol=1e-6)
    assert p32.loss(X).dtype == np.float32  # float64 points are rounded to float32 first
    x = X[0].astype(np.float32)
    assert p32.surrogate_grad(x, np.random.default_rng(1)).dtype == np.float32
    if p64.has_true_grad:
        grad = p32.true_grad(x)
        assert grad.dtype == np.float32
        scale = np.abs(p64.true_grad(X[0])).max()
        np.testing.assert_allclose(grad, p64.true_grad(X[0]), atol=1e-4 * scale)
    # an instance is deep-copied for each trial (the run's instance cache)
    np.testing.assert_array_equal(copy.deepcopy(p32).loss(X), values)


@pytest.mark.parametrize("name", ["biased_quadratic", "sphere", "rastrigin"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_surrogate_whose_gradient_norm_overflows_is_not_finite_without_a_warning(name, dtype):
    # The gradient is finite but its norm overflows: the oracle stops the trial as diverged,
    # so a warning (an error under -W error) would only get in its way.
    problem = problems.create(name, {"n": 8, "dtype": dtype}, rng=3)
    point = np.full(8, np.finfo(dtype).max / 16, dtype=dtype)
    assert np.isfinite(problem.true_grad(point)).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        surrogate = problem.surrogate_grad(point, np.random.default_rng(0))
    assert surrogate.dtype == dtype and not np.isfinite(surrogate).all()
