"""Quadratics with a controllable surrogate: conditioning, fixed or drifting bias, quality."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from gesbench.core import vectors
from gesbench.core.params import Params, dtype_param, invalid, param
from gesbench.core.problem import Array, Problem

from .perturbed_quadratic import frozen_as, random_unit


@dataclass(frozen=True)
class BiasedQuadraticParams(Params):
    """See :class:`BiasedQuadratic`."""

    n: int = param(100, ge=1, doc="dimension")
    condition: float = param(1.0, ge=1, doc="condition number of the Hessian")
    bias: float = param(1.0, ge=0, doc="size of the bias, relative to ||grad f||")
    noise: float = param(1.5, ge=0, doc="size of the fresh noise, relative to ||grad f||")
    drift: float = param(0.0, ge=0, doc="how far the bias direction turns from x0 to x*")
    alignment: float | None = param(
        None, gt=0, le=1, doc="expected cosine of surrogate and gradient (None: as bias/noise)"
    )
    dtype: str = dtype_param()

    def validate(self) -> None:
        if self.alignment is not None and self.alignment < 1 and self.bias + self.noise == 0:
            invalid("alignment", "< 1 needs a perturbation to scale: set bias or noise > 0")


class BiasedQuadratic(Problem):
    """``f(x) = (x - x*)^T H (x - x*) / 2`` with a surrogate whose flaws are set by parameters.

    ``H = V diag(lam) V^T`` with ``V`` a random rotation and ``lam`` log-spaced from 1 down to
    ``1 / condition``; ``x*`` is a random point with ``||x*|| ~= 1``, ``x0 = 0`` and ``f* = 0``.

    Surrogate (``d = grad f(x)``), as in the paper's Fig. 1::

        g~ = d + ||d|| * (bias * b(x) + noise * nu)

    ``nu`` is a fresh unit direction at every call; ``b(x)`` is a unit bias direction drawn with
    the instance. With ``drift = 0`` it is fixed; otherwise it turns as the iterate moves,
    ``b(x) = unit(b0 + drift * W (x - x0) / ||x* - x0||)`` with ``W`` a random Gaussian map,
    so at the solution its cosine with ``b0`` has fallen to about ``1 / sqrt(1 + drift^2)``.
    ``bias = 0`` gives a noise-only surrogate and ``noise = 0`` a bias-only one.

    Setting ``alignment`` (a number in (0, 1]) sets the surrogate quality directly: the whole
    perturbation is scaled by ``s = sqrt((1 / alignment^2 - 1) / (bias^2 + noise^2))``, so the
    expected cosine between surrogate and true gradient is ``alignment`` (exactly so when ``b``
    and ``nu`` are orthogonal to ``grad f``, to within ~``1 / sqrt(n)`` otherwise) while the
    bias/noise mix keeps its shape. A sweep over ``alignment`` in an experiment spec is then a
    sweep over surrogate quality; ``bias = 1, noise = 1.5`` and ``alignment = 0.4851`` is the
    Fig. 1 surrogate (``s = 1``).

    Parameters
    ----------
    n : int
        Dimension.
    condition : float
        Condition number of ``H`` (>= 1).
    bias, noise : float
        Magnitudes of the bias and of the fresh noise, relative to ``||grad f||``.
    drift : float
        How far the bias direction turns between ``x0`` and ``x*`` (0: a fixed bias).
    alignment : float or None
        If given, the expected cosine between surrogate and true gradient.
    dtype : {"float64", "float32"}
        Precision of the data and the arithmetic (float32: the float64 instance rounded).
    """

    Params = BiasedQuadraticParams
    params: BiasedQuadraticParams

    def _build(self, rng: np.random.Generator) -> None:
        p = self.params
        n, a = p.n, p.alignment
        # Factor on the whole perturbation: 1 is the Fig. 1 surrogate, 0 the true gradient.
        self.scale = 1.0
        if a == 1:
            self.scale = 0.0
        elif a is not None:
            self.scale = float(np.sqrt((1 / a**2 - 1) / (p.bias**2 + p.noise**2)))
        self.dim = n
        self.dtype = dtype = np.dtype(p.dtype)
        # drawn and formed in float64 whatever the dtype: float32 is this instance rounded
        rotation = np.linalg.qr(rng.standard_normal((n, n)))[0]
        eigenvalues = p.condition ** -np.linspace(0.0, 1.0, n)
        self.eigenvalues = frozen_as(eigenvalues, dtype)
        self.rotation = frozen_as(rotation, dtype)
        self.hessian = frozen_as((rotation * eigenvalues) @ rotation.T, dtype)
        self.x_star = frozen_as(rng.standard_normal(n) / np.sqrt(n), dtype)
        self.bias_direction = frozen_as(random_unit(rng, (n,)), dtype)
        # The drift map is drawn only when used, so drift = 0 keeps the instance of older specs.
        drift_map = rng.standard_normal((n, n)) / np.sqrt(n) if p.drift > 0 else None
        self.drift_map = None if drift_map is None else frozen_as(drift_map, dtype)
        self.x0 = frozen_as(np.zeros(n), dtype)
        self.f_star = 0.0

    @classmethod
    def memory_estimate(cls, params: Mapping[str, Any]) -> int:
        """The random rotation, its QR factorisation, H and their temporaries (~7 n^2 float64,
        measured ~6.5 n^2 at n = 3000); the drift map adds two more."""
        n = params["n"]
        return 8 * n * n * (9 if params["drift"] > 0 else 7)

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        Y = (X - self.x_star) @ self.rotation
        Y *= Y
        Y *= 0.5
        values: Array = Y @ self.eigenvalues
        return values

    def true_grad(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        grad: Array = self.hessian @ (x - self.x_star)
        return grad

    def bias_at(self, x: Array) -> Array:
        """The unit bias direction at ``x`` (fixed unless ``drift > 0``)."""
        if self.drift_map is None:
            return self.bias_direction
        scale = self.params.drift / np.linalg.norm(self.x_star - self.x0)
        v = self.bias_direction + scale * (self.drift_map @ (x - self.x0))
        return v / np.linalg.norm(v)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return self.surrogate_and_true_grad(x, rng)[0]

    def surrogate_and_true_grad(self, x: Array, rng: np.random.Generator) -> tuple[Array, Array]:
        """The surrogate at ``x`` and the true gradient it perturbs, from one gradient
        computation (what alignment logging needs)."""
        p = self.params
        grad = self.true_grad(x)
        # A run that follows a bad surrogate can overflow here (inf, without a warning: the
        # oracle stops it as diverged); a scalar of the dtype, as numpy's norm returns it
        norm = self.dtype.type(vectors.norm(grad))
        perturbation = random_unit(rng, (self.dim,), self.dtype)
        perturbation *= p.noise
        if p.bias > 0:
            perturbation += p.bias * self.bias_at(x)
        perturbation *= self.scale * norm
        perturbation += grad
        return perturbation, grad
