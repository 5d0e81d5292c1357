"""The problem interface: a true objective plus a cheap, biased or noisy surrogate gradient."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gesbench.core.params import Configurable, Params
from gesbench.core.shapes import check_loss_values, check_scalar, check_surrogate

Array = NDArray[np.float64]


def frozen(array: ArrayLike) -> Array:
    """Return a read-only float copy of ``array`` (problem data must not change after build)."""
    out = np.array(array, dtype=float)
    out.flags.writeable = False
    return out


class Problem(Configurable, ABC):
    """A minimisation problem with a surrogate gradient.

    A problem is built from its parameters and an instance generator (the instance seed) and
    is immutable afterwards: the same parameters and seed give the same instance everywhere.
    Subclasses declare their parameters once, in ``Params`` (a frozen
    :class:`~gesbench.core.params.Params` dataclass with types, defaults and constraints; or,
    the older way, a plain ``defaults`` mapping), and build themselves in ``_build``. The
    parameters are checked before ``_build`` runs (and when a spec loads, without building),
    so ``_build`` only checks what depends on data it draws or loads.

    Attributes
    ----------
    dim : int
        Number of variables.
    x0 : ndarray
        Starting point (read-only).
    f_star : float or None
        Optimal value when known; the harness then also reports the excess loss ``f - f_star``.
    params : Params
        The checked parameters, read as attributes (``self.params.n``) or by name.
    """

    dim: int
    x0: Array
    f_star: float | None = None
    params: Params

    def __init__(self, rng: np.random.Generator | int | None = None, **params: Any) -> None:
        self.params = type(self).resolve_params(params)
        self._build(np.random.default_rng(rng))

    @abstractmethod
    def _build(self, rng: np.random.Generator) -> None:
        """Draw the instance's data from ``rng`` (``self.params`` is already checked)."""

    @abstractmethod
    def loss(self, X: Array) -> Array:
        """True objective of each row of ``X`` (shape ``(batch, dim)``), shape ``(batch,)``."""

    @abstractmethod
    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        """A surrogate gradient at ``x``; any randomness must come from ``rng``."""

    def true_grad(self, x: Array) -> Array:
        """Exact gradient at ``x``: used only to log alignment, never shown to optimizers."""
        raise NotImplementedError(f"{type(self).__name__} has no true gradient")

    def surrogate_and_true_grad(self, x: Array, rng: np.random.Generator) -> tuple[Array, Array]:
        """A surrogate gradient at ``x`` drawn from ``rng``, and the true gradient there: what
        logging the alignment needs (never called for optimizers).

        This calls both. A problem whose surrogate computes the true gradient anyway may
        override it to return both from that one computation; the pair must equal
        ``(surrogate_grad(x, rng), true_grad(x))`` bit for bit.
        """
        return self.surrogate_grad(x, rng), self.true_grad(x)

    def final_metrics(self, x: Array) -> dict[str, float]:
        """Measures of a trial's final point stored beside its loss (e.g. accuracy); none here.

        Values must be real numbers (``float``; numpy scalars are converted when stored, a
        value that is not a number fails the trial, naming the metric).
        """
        return {}

    @classmethod
    def memory_estimate(cls, params: Mapping[str, Any]) -> int | None:
        """Rough peak memory, in bytes, of building one instance with ``params`` and running a
        trial on it (None: unknown, the default).

        A run refuses to start when this, times the number of trials it runs at once, exceeds
        the machine's memory, instead of dying in the middle. An upper bound within a factor
        of about 1.5 is plenty; count the big arrays ``_build`` allocates and its temporaries.
        """
        return None

    @property
    def has_true_grad(self) -> bool:
        return type(self).true_grad is not Problem.true_grad


class FunctionProblem(Problem):
    """Wrap a user's own ``f(x)`` and ``surrogate_grad(x)`` so any optimizer can minimise them.

    ``f`` takes one point (1-D array) unless ``vectorized`` is true, in which case it takes a
    batch of points as rows and returns one value per row.
    """

    def __init__(
        self,
        f: Callable[[Array], Any],
        surrogate_grad: Callable[[Array], ArrayLike] | None,
        x0: ArrayLike,
        *,
        vectorized: bool = False,
    ) -> None:
        self._f = f
        self._surrogate = surrogate_grad
        self._vectorized = vectorized
        self.x0 = frozen(np.ravel(x0))
        self.dim = self.x0.size
        self.params = Params()

    def _build(self, rng: np.random.Generator) -> None:  # pragma: no cover - built in __init__
        raise AssertionError("FunctionProblem is built from callables")

    def loss(self, X: Array) -> Array:
        if self._vectorized:
            return check_loss_values(self._f(X), len(X), "f (vectorized=True)")
        return np.array([check_scalar(self._f(row), "f") for row in X])

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        if self._surrogate is None:
            raise TypeError("this optimizer needs a surrogate gradient; pass surrogate_grad")
        return check_surrogate(self._surrogate(x), self.dim, "surrogate_grad")
