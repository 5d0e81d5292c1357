"""Guided ES's ``dtype``: float64 by default and unchanged by the option, float32 end to end."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench import Budget, GuidedES, HyperparameterError
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import optimizers
from gesbench.ges.adaptive import GuidedESAuto

N = 30
TARGET = np.linspace(-1, 1, N)


def f(X):
    return np.sum((X - TARGET) ** 2, axis=1)


def surrogate(x):
    return 2 * (x - TARGET) + np.cos(np.arange(x.size)).astype(x.dtype)


@pytest.mark.parametrize("name", ["guided_es", "vanilla_es", "guided_es_auto"])
def test_dtype_is_a_declared_parameter_left_out_of_stored_params_at_its_default(name):
    cls = optimizers.get(name)
    assert cls.defaults["dtype"] == "float64"
    assert "dtype" not in cls.params_dict({})  # so trial ids of float64 specs did not move
    assert cls.params_dict({"dtype": "float32"})["dtype"] == "float32"
    with pytest.raises(HyperparameterError, match="dtype must be one of float64, float32"):
        cls(dtype="float16")


@pytest.mark.parametrize("k", [1, 3])
def test_explicit_float64_is_the_default_bit_for_bit(k):
    runs = [
        GuidedES(rng=4, k=k, **extra).minimize(f, surrogate, np.zeros(N), 50, vectorized=True)
        for extra in ({}, {"dtype": "float64"})
    ]
    np.testing.assert_array_equal(runs[0].x, runs[1].x)
    assert runs[0].x.dtype == np.float64


@pytest.mark.parametrize("cls", [GuidedES, GuidedESAuto])
@pytest.mark.parametrize("update", ["sgd", "momentum", "adam"])
def test_float32_runs_in_float32_throughout(cls, update):
    """Every array of the iteration is float32, the loss receives float32 points and the
    surrogate a float32 iterate; the run still makes progress."""
    seen: list[np.dtype] = []

    def loss(X):
        seen.append(X.dtype)
        return f(X)

    def grad(x):
        seen.append(x.dtype)
        return surrogate(x)

    opt = cls(rng=0, k=2, pairs=2, dtype="float32", update=update, lr=0.05)
    problem = FunctionProblem(loss, grad, np.zeros(N), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 200), np.random.default_rng(0))
    opt.start(problem.x0)
    drive(opt, oracle)
    buffers = [opt.x, opt.basis(), opt._surrogates, opt._R, opt._z, opt._eps, opt._points]
    buffers += [opt._g, opt._update.m, opt._update.v, opt.sample(3), opt.estimate(oracle, opt._eps)]
    assert {a.dtype for a in buffers} == {np.dtype(np.float32)}
    assert set(seen) == {np.dtype(np.float32)}
    assert f(opt.x[None].astype(float))[0] < 0.1 * f(np.zeros((1, N)))[0]


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("scale", [1e100, 1e38, 1e-60])
def test_float32_takes_a_float64_surrogate_beyond_its_range_by_its_direction(k, scale):
    """A user's float64 surrogate too large (or small) for float32 guides a float32 run as the
    same surrogate at a normal scale does: only its direction matters (the cast alone made it
    inf, or zero, so the run diverged, or went unguided)."""

    def wide(factor):
        return lambda x: factor * surrogate(x.astype(np.float64))

    runs = [
        GuidedES(rng=3, k=k, dtype="float32").minimize(
            f, wide(factor), np.zeros(N), 40, vectorized=True
        )
        for factor in (1.0, scale)
    ]
    assert [run.status for run in runs] == [0, 0], runs[1].message
    # the same search, up to float32 rounding of the direction
    np.testing.assert_allclose(runs[1].x, runs[0].x, rtol=1e-3, atol=1e-4)
    assert runs[0].fun < 0.5 * f(np.zeros((1, N)))[0]


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize(
    ("dtype", "entries"),
    [("float32", np.float32(2e38)), ("float64", 1e308), ("float32", 1e-300), ("float32", 1e300)],
)
def test_a_surrogate_whose_norm_the_dtype_cannot_hold_still_gives_its_direction(dtype, entries, k):
    """Entries a dtype holds can have a norm it does not (float32: 2e38 each, float64: 1e308
    each): the direction was divided by an infinite norm, all zeros."""
    opt = GuidedES(rng=0, k=k, dtype=dtype)
    opt.start(np.zeros(3))
    opt.remember(np.array([1.0, 1.0, -1.0], dtype=np.asarray(entries).dtype) * entries)
    np.testing.assert_allclose(opt.basis()[:, 0], np.array([1, 1, -1]) / np.sqrt(3), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_non_finite_or_zero_surrogate_is_kept_or_skipped_alike_in_both_dtypes(dtype):
    # (the oracle never hands one on: it stops the run as diverged first)
    for value, held in ((np.nan, 1), (0.0, 0)):
        opt = GuidedES(rng=0, dtype=dtype)
        opt.start(np.zeros(3))
        with np.errstate(invalid="ignore"):
            opt.remember(np.full(3, value))  # float64, as a user's function may return it
        assert opt._held == held, (value, dtype)
