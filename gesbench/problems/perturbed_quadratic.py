"""The least-squares quadratic with a perturbed gradient from the GES paper (its Fig. 1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gesbench.core.params import Params, param
from gesbench.core.problem import Array, Problem, frozen


def random_unit(rng: np.random.Generator, shape: tuple[int, ...]) -> Array:
    """Directions uniform on the sphere, along the last axis."""
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


@dataclass(frozen=True)
class PerturbedQuadraticParams(Params):
    """The paper's Fig. 1 setting by default."""

    n: int = param(1000, ge=1, doc="dimension")
    m: int = param(2000, ge=1, doc="rows of A (data points)")
    bias: float = param(1.0, ge=0, doc="size of the fixed bias, relative to ||grad f||")
    noise: float = param(1.5, ge=0, doc="size of the fresh noise, relative to ||grad f||")


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
    """

    Params = PerturbedQuadraticParams
    params: PerturbedQuadraticParams

    def _build(self, rng: np.random.Generator) -> None:
        n, m = self.params.n, self.params.m
        self.dim = n
        self.A = frozen(rng.standard_normal((m, n)))
        self.b = frozen(rng.standard_normal(m))
        self.bias_direction = frozen(random_unit(rng, (n,)))
        self.x0 = frozen(np.zeros(n))
        self.H = frozen(self.A.T @ self.A / m)
        self.c = frozen(self.A.T @ self.b / m)
        self._offset = float(self.b @ self.b) / (2 * m)
        x_star = np.asarray(np.linalg.lstsq(self.A, self.b, rcond=None)[0], dtype=float)
        self.f_star = float(self.loss(x_star[None, :])[0])

    @classmethod
    def memory_estimate(cls, params: Mapping[str, Any]) -> int:
        """A, a copy of it and least squares' workspace (~3 m n), H and its temporary (2 n^2),
        in float64: measured peaks are within 10% of this above n = 2000."""
        n, m = params["n"], params["m"]
        return 8 * (3 * m * n + 2 * n * n)

    def loss(self, X: Array) -> Array:
        return 0.5 * np.einsum("ij,ij->i", X @ self.H, X) - X @ self.c + self._offset

    def true_grad(self, x: Array) -> Array:
        return self.H @ x - self.c

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return self.surrogate_and_true_grad(x, rng)[0]

    def surrogate_and_true_grad(self, x: Array, rng: np.random.Generator) -> tuple[Array, Array]:
        """The surrogate at ``x`` and the true gradient it perturbs, from one gradient
        computation (what alignment logging needs)."""
        grad = self.true_grad(x)
        p = self.params
        perturbation = p.bias * self.bias_direction + p.noise * random_unit(rng, (self.dim,))
        return grad + perturbation * np.linalg.norm(grad), grad
