"""The SGES paper's black-box functions: Sphere, Rosenbrock, Rastrigin and Lunacek.

Liu, Li, Qian, "Self-guided evolution strategies with historical estimated gradients",
IJCAI 2020 (doi:10.24963/ijcai.2020/205): its authors' black-box code compares ES, Guided ES,
SGES, CMA-ES and ASEBO on these four functions. The definitions follow that code
(github.com/IJCAI2020-SGES/SGES, ``Black-box functions/main.py``, ``generate_problem``), which
takes Sphere as ``||x||^2``, Rosenbrock and Rastrigin from Nevergrad's ``corefuncs`` (0.3.0) and
defines its own Lunacek; its TensorFlow classes (``Sphere``, ``Rosenbrock``, ``Rastrigin``,
``Lunacek``) give the same formulas. There are no shifts, rotations or rescalings; the dimension
is ``--dims`` (1000) and the start is ``x0 ~ N(0, I)`` (``np.random.randn(n)``), shared by every
method of a run. Every function here has ``f* = 0`` at a known point ``x_star``.

The surrogate gradient is the one the code defines for these functions
(``Function.compute_gradient``), the GES paper's Fig. 1 construction::

    g~(x) = grad f(x) + ||grad f(x)|| * (bias * b + noise * nu)

with ``b`` a fixed random unit direction (drawn with the instance; the code seeds it with 2020)
and ``nu`` a fresh random unit direction at every call. Its coefficients are those of the one
call in the code, ``compute_gradient(x, bias_coef=1., noise_coef=1.5)``: that call is
commented out in ``ges()``, so the authors' Guided ES runs were guided by the method's own last
``k`` gradient estimates instead, and no method of theirs used this surrogate. gesbench's
``guided_es`` and ``sges_surrogate`` need a surrogate, and this is the one the code provides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gesbench.core import vectors
from gesbench.core.params import Params, dtype_param, param
from gesbench.core.problem import Array, Problem

LUNACEK_MU1 = 2.5
"""Centre of Lunacek's global funnel (the code's ``mu1``)."""


@dataclass(frozen=True)
class BlackBoxParams(Params):
    """See :class:`BlackBox`."""

    n: int = param(1000, ge=1, doc="dimension (the code's --dims)")
    bias: float = param(1.0, ge=0, doc="fixed surrogate bias, relative to ||grad f||")
    noise: float = param(1.5, ge=0, doc="fresh surrogate noise, relative to ||grad f||")
    dtype: str = dtype_param()


@dataclass(frozen=True)
class RosenbrockParams(BlackBoxParams):
    """Rosenbrock's sum runs over consecutive pairs, so it needs two variables."""

    n: int = param(1000, ge=2, doc="dimension (the code's --dims)")


def _unit(rng: np.random.Generator, n: int, dtype: np.dtype[Any]) -> Array:
    v: Array = rng.standard_normal(n, dtype=dtype)
    return v / np.linalg.norm(v)


def _frozen(array: Array, dtype: np.dtype[Any]) -> Array:
    out = np.array(array, dtype=dtype)
    out.flags.writeable = False
    return out


class BlackBox(Problem):
    """One of the SGES paper's black-box functions, started from ``x0 ~ N(0, I)``.

    Subclasses give the function (``loss``, one value per row), its gradient and its minimiser
    ``x_star``; the start and the surrogate are shared.

    Parameters
    ----------
    n : int
        Dimension (1000 in the authors' code).
    bias, noise : float
        Sizes of the surrogate's fixed bias and fresh noise, relative to ``||grad f||`` (the
        code's ``bias_coef = 1``, ``noise_coef = 1.5``).
    dtype : {"float64", "float32"}
        Precision of the arithmetic (float32: the float64 instance rounded; f* stays 0).
    """

    Params = BlackBoxParams
    params: BlackBoxParams
    x_star: Array
    dtype: np.dtype[Any]

    def _build(self, rng: np.random.Generator) -> None:
        n = self.params.n
        self.dim = n
        self.dtype = dtype = np.dtype(self.params.dtype)
        # drawn in float64 whatever the dtype (float32 is this instance rounded), x0 first: the
        # start does not depend on the surrogate's settings
        self.x0 = _frozen(rng.standard_normal(n), dtype)
        self.bias_direction = _frozen(_unit(rng, n, np.dtype(np.float64)), dtype)
        self.x_star = _frozen(self.minimiser(n), dtype)
        self.f_star = 0.0

    @staticmethod
    def minimiser(n: int) -> Array:
        """The global minimiser (``f = 0`` there)."""
        return np.zeros(n)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        p = self.params
        grad = self.true_grad(x)
        # inf without a warning when a diverging run overflows (the oracle stops it)
        norm = self.dtype.type(vectors.norm(grad))
        noise = _unit(rng, self.dim, self.dtype)
        return grad + norm * (p.bias * self.bias_direction + p.noise * noise)


class Sphere(BlackBox):
    """Sphere ||x||^2 from x0 ~ N(0, I) (the SGES paper's black-box set); minimum 0 at 0."""

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        return np.einsum("ij,ij->i", X, X)

    def true_grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        return 2 * x


class Rosenbrock(BlackBox):
    """Rosenbrock from x0 ~ N(0, I) (the SGES paper's black-box set); minimum 0 at (1, ..., 1).

    ``f(x) = 100 sum_i (x_i^2 - x_{i+1})^2 + sum_i (x_i - 1)^2`` over ``i < n`` (Nevergrad's
    ``rosenbrock``). Needs ``n >= 2``.
    """

    Params = RosenbrockParams

    @staticmethod
    def minimiser(n: int) -> Array:
        return np.ones(n)

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        head, tail = X[:, :-1], X[:, 1:]
        diff = head * head - tail
        return 100 * np.einsum("ij,ij->i", diff, diff) + np.einsum("ij,ij->i", head - 1, head - 1)

    def true_grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        diff = x[:-1] ** 2 - x[1:]
        grad = np.zeros_like(x)
        grad[:-1] = 400 * x[:-1] * diff + 2 * (x[:-1] - 1)
        grad[1:] -= 200 * diff
        return grad


class Rastrigin(BlackBox):
    """Rastrigin from x0 ~ N(0, I) (the SGES paper's black-box set); minimum 0 at 0.

    ``f(x) = 10 (n - sum_i cos(2 pi x_i)) + ||x||^2`` (Nevergrad's ``rastrigin``).

    Local minima near every integer point; the gradient's cosine term has amplitude ``20 pi``
    per coordinate, so at sigma 0.01 ES estimates see the ripples, not the bowl.
    """

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        return 10 * (X.shape[1] - np.cos(2 * np.pi * X).sum(axis=1)) + np.einsum("ij,ij->i", X, X)

    def true_grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        return 20 * np.pi * np.sin(2 * np.pi * x) + 2 * x


class Lunacek(BlackBox):
    """Lunacek bi-Rastrigin from x0 ~ N(0, I) (the SGES paper's set); minimum 0 at (2.5, ...).

    As the authors' code (and Nevergrad) define it:

    ``f(x) = min(sum_i (x_i - mu1)^2, n + sum_i (x_i - mu2)^2)
    + 10 (n - sum_i cos(2 pi (x_i - mu1)))`` with ``mu1 = 2.5``,
    ``s = 1 - 1 / (2 sqrt(n + 20) - 8.2)`` and ``mu2 = -sqrt(|mu1^2 - 1| / s)`` (-2.312 at
    n = 1000). Unlike Lunacek et al.'s definition, ``s`` does not multiply the second sphere
    (the code computes it only for ``mu2``), as in Nevergrad's ``lunacek``. Two funnels: the
    global one around ``mu1`` and a deceptive one around ``mu2``, raised by ``n``; at
    ``x0 ~ N(0, I)`` their sums are about 7.25n and 7.35n, so the start lies on the global
    funnel's side, with ``10 n`` of cosine ripples on top. The gradient is that of the lower
    funnel (on the ridge where they tie, the ``mu1`` one).
    """

    @staticmethod
    def mu2(n: int) -> float:
        """Centre of the deceptive funnel."""
        s = 1 - 1 / (2 * np.sqrt(n + 20) - 8.2)
        return -float(np.sqrt(abs((LUNACEK_MU1**2 - 1) / s)))

    @staticmethod
    def minimiser(n: int) -> Array:
        return np.full(n, LUNACEK_MU1)

    def _funnels(self, X: Array) -> tuple[Array, Array]:
        near, far = X - LUNACEK_MU1, X - self.mu2(X.shape[1])
        return np.einsum("ij,ij->i", near, near), X.shape[1] + np.einsum("ij,ij->i", far, far)

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        first, second = self._funnels(X)
        ripples = X.shape[1] - np.cos(2 * np.pi * (X - LUNACEK_MU1)).sum(axis=1)
        return np.minimum(first, second) + 10 * ripples

    def true_grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        first, second = self._funnels(x[None, :])
        centre = LUNACEK_MU1 if first[0] <= second[0] else self.mu2(x.size)
        return 2 * (x - centre) + 20 * np.pi * np.sin(2 * np.pi * (x - LUNACEK_MU1))


PROBLEMS: Mapping[str, type[Problem]] = {
    "sphere": Sphere,
    "rosenbrock": Rosenbrock,
    "rastrigin": Rastrigin,
    "lunacek": Lunacek,
}
"""The four functions, registered through one entry point."""
