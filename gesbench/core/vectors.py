"""Reductions of 1-D float vectors on the per-iteration path: finiteness and Euclidean norms,
cheap and without floating-point warnings.

The dot products come straight from scipy's BLAS: numpy's ``dot`` warns when the squares of
large finite entries overflow (an error under ``-W error`` in a user's ``minimize``) and costs
twice as much per call. Norms keep numpy's value bit for bit (``np.linalg.norm`` of a 1-D float
vector is the square root of numpy's ``dot``, in its dtype): scipy's dot only tells first that
numpy's cannot overflow.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg.blas

_FLOAT64, _FLOAT32 = np.dtype(np.float64), np.dtype(np.float32)
_SELF_DOT = {_FLOAT64: scipy.linalg.blas.ddot, _FLOAT32: scipy.linalg.blas.sdot}
_DDOT, _SDOT = _SELF_DOT[_FLOAT64], _SELF_DOT[_FLOAT32]
_UNTHREADED = 10_000
"""The longest vector whose dot product OpenBLAS takes on the calling thread. Longer ones go to
numpy alone: scipy's and numpy's wheels each bring their own OpenBLAS with its own threads, and
a threaded call of one while the other's threads still spin from theirs stalled for ~8 ms on
two cores (GES's ``minimize`` at n = 20,000: 10 ms an iteration against 0.8 ms)."""
_NO_OVERFLOW, _NO_OVERFLOW_32 = 1e300, 1e36
"""A sum of squares below this (float64, float32) is far enough from overflow that another
BLAS's sum of the same squares (another order, another rounding) cannot overflow either."""


def all_finite(a: np.ndarray[Any, Any]) -> bool:
    """``np.isfinite(a).all()``. For a 1-D float array, first through its dot product with
    itself, which is finite only if every entry is (the common case, at a fraction of the
    cost); a non-finite product (a non-finite entry, or an overflow) is settled entry by entry,
    and no floating-point warning is raised either way."""
    if type(a) is np.ndarray and a.ndim == 1 and 0 < a.size <= _UNTHREADED:
        dot = _SELF_DOT.get(a.dtype)
        if dot is not None and math.isfinite(dot(a, a)):
            return True
    return bool(np.isfinite(a).all())


def norm(v: np.ndarray[Any, Any]) -> float:
    """``float(np.linalg.norm(v))``, bit for bit, for a 1-D vector; ``inf`` where its squares
    overflow, without a warning."""
    if (
        type(v) is np.ndarray
        and v.ndim == 1
        and 0 < v.size <= _UNTHREADED
        # numpy's norm takes the dot of a contiguous copy; a strided dot sums in another order
        and v.flags.c_contiguous
    ):
        dtype = v.dtype
        if dtype == _FLOAT64 and _DDOT(v, v) < _NO_OVERFLOW:  # False for NaN too
            return math.sqrt(v.dot(v))
        if dtype == _FLOAT32 and _SDOT(v, v) < _NO_OVERFLOW_32:
            # numpy's float32 square root of its float32 dot: the double square root rounded
            # to float32 is the same number (double has more than twice float32's digits)
            return float(_FLOAT32.type(math.sqrt(v.dot(v))))
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.linalg.norm(v))


def _smallest_exact(dtype: np.dtype[Any]) -> float:
    """The smallest norm whose square is a normal number of ``dtype`` (float64 for integers)."""
    tiny = np.finfo(dtype if dtype.kind == "f" else _FLOAT64).tiny
    return math.sqrt(float(tiny))


_SMALLEST_EXACT = {dtype: _smallest_exact(dtype) for dtype in (_FLOAT64, _FLOAT32)}
""":func:`_smallest_exact` of the dtypes the per-iteration path uses, looked up once."""


def scaled_norm(v: np.ndarray[Any, Any]) -> float:
    """Euclidean norm of a 1-D vector, also where its squares under- or overflow.

    :func:`norm` (numpy's own, bit for bit) when its square is a finite normal number (smaller
    squares lose digits to underflow); otherwise the norm of ``v / max|v|`` times ``max|v|``
    (0 only for a zero vector).
    """
    result = norm(v)
    smallest = _SMALLEST_EXACT.get(v.dtype) or _smallest_exact(v.dtype)
    if smallest <= result < math.inf:
        return result
    scale = float(np.abs(v).max())
    if not 0 < scale < math.inf:
        return scale
    return scale * norm(v / scale)
