"""Finiteness and norms of the per-iteration path: numpy's answers (bit for bit for the norm)
without numpy's floating-point warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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
