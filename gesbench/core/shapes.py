"""The shape rules of what a problem returns, checked in one place.

``Optimizer.minimize`` (a user's ``f`` and ``surrogate_grad``), the oracle (every problem in a
trial) and :func:`gesbench.testing.check_problem` all use these checks, so a return-shape
mistake gets the same message naming the rule wherever it is made:

- ``loss`` of a batch of ``rows`` points (``(rows, dim)``) returns shape ``(rows,)``: one value
  per row. Shape ``(rows, 1)`` or ``(1,)`` for a batch of several rows is refused rather than
  reshaped, since it usually means the values were not computed per row.
- ``f`` of one point (``minimize`` without ``vectorized``) returns a scalar.
- ``surrogate_grad(x)`` returns shape ``(dim,)``, like ``x``.

Values keep their precision when they are float32 or float64 (a float32 problem or optimizer
stays float32 end to end); anything else becomes float64.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gesbench.core.errors import GesbenchError

Array = NDArray[np.float64]
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
"""The dtypes values keep as they are."""

LOSS_RULE = "must have shape (rows,) for a (rows, dim) batch: one value per row"
SCALAR_RULE = "must return a scalar for one point"
SURROGATE_RULE = "must have shape (dim,), like the point"


class ShapeError(GesbenchError, ValueError):
    """A problem or a user's function returned a value of the wrong shape; the message
    states the rule it broke and the shape it got."""


def as_floats(value: object, dtype: np.dtype[Any] | type | None = None) -> Array:
    """``value`` as an array of ``dtype``; without one, float32 and float64 arrays as they are
    (no copy) and anything else as float64."""
    if dtype is None:
        dtype = float
        if isinstance(value, np.ndarray) and value.dtype in FLOAT_DTYPES:
            dtype = value.dtype
    return np.asarray(value, dtype=dtype)


def _as_float_array(value: object, what: str) -> Array:
    try:
        return as_floats(value)
    except (TypeError, ValueError) as exc:
        raise ShapeError(f"{what} returned {type(value).__name__}, not numbers: {exc}") from None


def check_loss_values(values: object, rows: int, who: str = "loss") -> Array:
    """``values`` as a float array of shape ``(rows,)``; :class:`ShapeError` naming the rule
    otherwise (``who`` names the function in the message)."""
    array = _as_float_array(values, who)
    if array.shape == (rows,):
        return array
    hint = ""
    if array.shape == (rows, 1) or array.shape == (1, rows):
        hint = " (a column or row of values: flatten it, e.g. values.ravel() or a sum with axis=1)"
    elif array.size == 1 and rows > 1:
        hint = " (a single value for the whole batch: compute one per row, e.g. axis=1)"
    elif array.ndim == 0 and rows == 1:
        hint = " (a scalar: return it as a 1-element array)"
    raise ShapeError(f"{who} {LOSS_RULE}; got shape {array.shape} for {rows} row(s){hint}")


def check_scalar(value: object, who: str = "f") -> float:
    """``value`` as a float when it is a scalar (a number or a 0-d array); :class:`ShapeError`
    naming the rule otherwise."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    array = _as_float_array(value, who)
    if array.ndim == 0:
        return float(array)
    raise ShapeError(
        f"{who} {SCALAR_RULE}; got shape {array.shape}"
        + (
            " (a 1-element array: return float(...) or value[0]; or, if f takes a batch of "
            "points as rows, pass vectorized=True)"
            if array.size == 1
            else " (if f takes a batch of points as rows, pass vectorized=True)"
        )
    )


def check_surrogate(value: object, dim: int, who: str = "surrogate_grad") -> Array:
    """``value`` as a float array of shape ``(dim,)``; :class:`ShapeError` naming the rule
    otherwise."""
    array = _as_float_array(value, who)
    if array.shape == (dim,):
        return array
    hint = ""
    if array.size == dim:
        hint = " (the right number of values in the wrong shape: flatten it, e.g. g.ravel())"
    raise ShapeError(
        f"{who} {SURROGATE_RULE}; got shape {array.shape} for a point of dimension {dim}{hint}"
    )
