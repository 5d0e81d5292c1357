"""The least-squares quadratic with a perturbed gradient from the GES paper (its Fig. 1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg.blas
from numpy.typing import ArrayLike, DTypeLike

from gesbench.core.params import Params, dtype_param, param
from gesbench.core.problem import Array, Problem, frozen

_SYMV = {
    np.dtype(np.float64): scipy.linalg.blas.dsymv,
    np.dtype(np.float32): scipy.linalg.blas.ssymv,
}
"""BLAS's symmetric matrix-vector product by precision (looked up per call, not kept on the
instance: an instance must deep-copy, and the Fortran routines do not)."""


FLOAT64 = np.dtype(np.float64)


def random_unit(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype[Any] = FLOAT64
) -> Array:
    """Directions uniform on the sphere, along the last axis."""
    v: Array = rng.standard_normal(shape, dtype=dtype)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return v


def frozen_as(array: ArrayLike, dtype: DTypeLike) -> Array:
    """A read-only copy of ``array`` in ``dtype``, or ``array`` itself when it already is one
    (an instance's data in its precision; the run's instance cache shares such arrays between
    trials instead of copying them)."""
    if (
        isinstance(array, np.ndarray)
        and array.dtype == dtype
        and not array.flags.writeable
        and array.base is None
    ):
        return array
    out = np.array(array, dtype=dtype)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class PerturbedQuadraticParams(Params):
    """The paper's Fig. 1 setting by default."""

    n: int = param(1000, ge=1, doc="dimension")
    m: int = param(2000, ge=1, doc="rows of A (data points)")
    bias: float = param(1.0, ge=0, doc="size of the fixed bias, relative to ||grad f||")
    noise: float = param(1.5, ge=0, doc="size of the fresh noise, relative to ||grad f||")
    dtype: str = dtype_param()


class PerturbedQuadratic(Problem):
    """``f(x) = ||A x - b||^2 / (2m)`` with a biased, noisy surrogate gradient.

    ``A`` (m x n) and ``b`` are i.i.d. N(0, 1); ``x0 = 0``; ``f*`` comes from least squares.
    The surrogate is ``grad f + (bias * b_hat + noise * nu_t) * ||grad f||`` where ``b_hat`` is
    a unit direction fixed with the instance and ``nu_t`` a fresh unit direction at every call.
    The paper's Fig. 1 uses n = 1000, m = 2000, bias 1.0, noise 1.5, so the alignment between
    surrogate and true gradient starts near ``1 / sqrt(1 + 1 + 1.5^2) ~= 0.48``.

    Evaluations use the expanded form ``x'Hx/2 - c'x + ||b||^2/(2m)`` with ``H = A'A/m`` and
    ``c = A'b/m`` precomputed: an n x n product instead of two passes over the m x n matrix,
    about 4x faster at the Fig. 1 size. Rounding error is ~1e-15, far below the excess losses
    of interest (f_star is evaluated with the same formula, so excess losses are consistent).

    ``H x`` is BLAS's symmetric product (``symv``), which reads one triangle of ``H``: half the
    memory traffic of a general product, and an n x n matrix does not stay in cache at the
    Fig. 1 size, so the product costs about half. A batch of up to ``SYMV_ROWS`` points takes
    one ``symv`` per point (Guided ES's 2P points, the trace's single point); larger batches one
    matrix product, which streams ``H`` once for all rows (results equal to rounding).

    ``dtype`` float32 keeps ``H``, ``c`` and the bias direction in float32 (the instance is
    drawn in float64, so it is the float64 instance rounded) and computes in float32; ``f*``
    stays the float64 value.
    """

    Params = PerturbedQuadraticParams
    params: PerturbedQuadraticParams
    dtype: np.dtype[Any]
    """The precision the problem computes in (the oracle hands it points in it)."""

    SYMV_ROWS = 8

    def _build(self, rng: np.random.Generator) -> None:
        n, m = self.params.n, self.params.m
        self.dim = n
        self.A = frozen(rng.standard_normal((m, n)))
        self.b = frozen(rng.standard_normal(m))
        self.bias_direction = frozen(random_unit(rng, (n,)))
        self.x0 = frozen(np.zeros(n))
        # A'A is exactly symmetric (numpy computes it with syrk), so H.T is H itself, laid out
        # as the Fortran BLAS wants it.
        self.H = frozen(self.A.T @ self.A / m)
        self.c = frozen(self.A.T @ self.b / m)
        self._offset = float(self.b @ self.b) / (2 * m)
        self._compute_in(np.float64)  # f* in float64 whatever the dtype
        x_star = np.asarray(np.linalg.lstsq(self.A, self.b, rcond=None)[0], dtype=float)
        self.f_star = float(self.loss(x_star[None, :])[0])
        self._compute_in(self.params.dtype)

    def _compute_in(self, dtype: DTypeLike) -> None:
        """Compute in ``dtype`` from here on (``H``, ``c`` and the bias term cast once, read-only
        like the rest of the instance's data)."""
        self.dtype = dtype = np.dtype(dtype)
        self._H = frozen_as(self.H, dtype)
        self._c = frozen_as(self.c, dtype)
        self._bias_term = frozen_as(self.params.bias * self.bias_direction, dtype)

    @classmethod
    def memory_estimate(cls, params: Mapping[str, Any]) -> int:
        """A, a copy of it and least squares' workspace (~3 m n), H and its temporary (2 n^2),
        in float64: measured peaks are within 10% of this above n = 2000."""
        n, m = params["n"], params["m"]
        return 8 * (3 * m * n + 2 * n * n)

    def _products(self, X: Array) -> Array:
        """``X @ H`` (rows of ``X`` times the symmetric ``H``)."""
        if len(X) > self.SYMV_ROWS:
            return X @ self._H
        symv, HF = _SYMV[self.dtype], self._H.T  # H is symmetric: H.T is H in Fortran order
        HX = np.empty_like(X)
        for row, out in zip(X, HX, strict=True):
            symv(1.0, HF, row, y=out, overwrite_y=1)
        return HX

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        q = np.einsum("ij,ij->i", self._products(X), X)
        q *= 0.5
        q -= X @ self._c
        q += self._offset
        return q

    def _gradient(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        grad: Array = _SYMV[self.dtype](1.0, self._H.T, x)
        grad -= self._c
        return grad

    def true_grad(self, x: Array) -> Array:
        return self._gradient(x)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return self.surrogate_and_true_grad(x, rng)[0]

    def surrogate_and_true_grad(self, x: Array, rng: np.random.Generator) -> tuple[Array, Array]:
        """The surrogate at ``x`` and the true gradient it perturbs, from one gradient
        computation (what alignment logging needs)."""
        grad = self._gradient(x)
        v = random_unit(rng, (self.dim,), self.dtype)
        v *= self.params.noise
        v += self._bias_term
        v *= np.linalg.norm(grad)
        v += grad
        return v, grad
