"""Finiteness and norms of the per-iteration path: numpy's answers (bit for bit for the norm)
without numpy's floating-point warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from gesbench.core import vectors
from gesbench.core.vectors import all_finite, norm, scaled_norm


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0, -2.0, 3.5]),
        np.array([np.nan, 1.0]),
        np.array([1.0, np.inf]),
        np.array([-np.inf]),
        np.array([1e200, -1e200, 3.0]),  # finite, but its squares overflow
        np.array([1e200, np.nan]),
        np.array([1.0, np.nan], dtype=np.float32),
        np.array([1e30, 2.0], dtype=np.float32),  # finite, its float32 squares overflow
        np.array([1.0, 2.0, 3.0, 4.0])[::2],  # strided
        np.array([[1.0, np.inf], [0.0, 1.0]]),
        np.array([3, 4]),
        np.array([]),
    ],
)
def test_all_finite_agrees_with_numpy(values):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # huge finite entries must not warn (nor raise, as here)
        assert all_finite(values) is bool(np.isfinite(values).all())


@given(
    hnp.arrays(
        np.float64,
        st.integers(1, 40),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
    )
    | hnp.arrays(
        np.float32,
        st.integers(1, 40),
        elements=st.floats(allow_nan=True, allow_infinity=True, width=32),
    )
)
def test_norm_is_numpys_norm_bit_for_bit_and_never_warns(v):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # squares that overflow must not warn
        value = norm(v)
    with np.errstate(all="ignore"):
        expected = float(np.linalg.norm(v))
    assert value == expected or (np.isnan(value) and np.isnan(expected))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_of_other_layouts_is_numpys_too(rng, dtype):
    v = rng.standard_normal(50).astype(dtype)[::3]  # strided; float32 keeps float32 rounding
    assert norm(v) == float(np.linalg.norm(v))


def test_scaled_norm_is_numpys_norm_where_that_is_exact(rng):
    v = rng.standard_normal(1000)
    assert scaled_norm(v) == np.linalg.norm(v)
    assert scaled_norm(np.zeros(3)) == 0.0
    assert scaled_norm(np.full(4, 1e-200)) == pytest.approx(2e-200)
    assert scaled_norm(np.full(4, 1e200)) == pytest.approx(2e200)


@pytest.mark.parametrize("step", [2, 3, -2])
def test_norm_of_a_long_strided_vector_is_numpys_bit_for_bit(rng, step):
    """numpy's norm takes the dot of a contiguous copy: a dot over the strided view sums in
    another order, and differs in the last bits for long vectors."""
    for n in (1000, 10_001, 100_000):
        v = rng.standard_normal(n * abs(step))[::step]
        assert norm(v) == float(np.linalg.norm(v))
    column = rng.standard_normal((1000, 3))[:, 1]
    assert norm(column) == float(np.linalg.norm(column))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_norm_of_an_empty_vector_is_zero(dtype):
    assert norm(np.zeros(0, dtype)) == 0.0


@pytest.mark.parametrize(
    ("dtype", "scales"),
    [(np.float64, [1e-158, 1e-160, 3e-162]), (np.float32, [1e-21, 1e-22])],
)
def test_scaled_norm_is_accurate_where_the_squares_underflow_only_in_part(rng, dtype, scales):
    """Squares in the subnormal range keep only a few digits: their sum is positive, but its
    square root can be off by percents."""
    for scale in scales:
        v = (scale * rng.standard_normal(5)).astype(dtype)
        exact = float(np.linalg.norm(v.astype(np.float64) / scale)) * scale
        assert scaled_norm(v) / exact == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_long_vectors_never_reach_scipys_blas(rng, monkeypatch, dtype):
    """Beyond 10,000 entries OpenBLAS threads a dot product, and scipy's and numpy's are two
    OpenBLAS libraries with two sets of threads that stall each other: long vectors are settled
    by numpy alone, with numpy's answers and no warning."""
    calls: list[int] = []

    def counted(dot):
        def wrapped(a, b):
            calls.append(a.size)
            return dot(a, b)

        return wrapped

    monkeypatch.setattr(vectors, "_DDOT", counted(vectors._DDOT))
    monkeypatch.setattr(
        vectors, "_SELF_DOT", {key: counted(dot) for key, dot in vectors._SELF_DOT.items()}
    )
    longest = vectors._UNTHREADED
    for size in (longest, longest + 1, 3 * longest):
        v = rng.standard_normal(size).astype(dtype)
        huge = v.copy()
        huge[size // 2] = np.finfo(dtype).max / 2  # finite, but its square overflows
        with_nan = v.copy()
        with_nan[-1] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            for a in (v, huge, with_nan):
                assert all_finite(a) is bool(np.isfinite(a).all())
                with np.errstate(all="ignore"):
                    expected = float(np.linalg.norm(a))
                value = norm(a)
                assert value == expected or (np.isnan(value) and np.isnan(expected))
    assert calls and max(calls) == longest
