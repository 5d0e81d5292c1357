"""The oracle: the only view of a problem an optimizer gets.

It counts loss evaluations and surrogate-gradient calls, refuses requests past the trial's
budget (raising :class:`~gesbench.core.errors.BudgetExhausted`, which the driver catches), turns
non-finite values into :class:`~gesbench.core.errors.Diverged`, and never exposes the problem,
its true gradient or its optimal value.

The problem, the noise generator and the counters live in closures, not in attributes, so an
optimizer has no attribute path to the problem (``oracle._problem`` does not exist) and cannot
reset a counter: every query goes through the counted ``loss`` and ``surrogate_grad``. (Python
cannot stop code that digs through closures on purpose; ``gesbench.testing.check_optimizer``
counts the problem's real calls to catch that.) The oracle also remembers the signals it
raised, so the driver can tell an optimizer that swallowed one (an ``except Exception`` around
its queries) from one that simply spends nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike

from gesbench.core.budget import Budget
from gesbench.core.errors import BudgetExhausted, Diverged
from gesbench.core.problem import Array, Problem, frozen
from gesbench.core.shapes import FLOAT_DTYPES, as_floats, check_loss_values, check_surrogate
from gesbench.core.vectors import all_finite


class Oracle:
    """Budgeted, counted access to a problem's loss and surrogate gradient.

    Attributes
    ----------
    budget : Budget
        The trial's budget.
    dim : int
        Number of variables.
    x0 : ndarray
        The problem's starting point (read-only).
    loss : callable
        ``loss(X)``: true loss of each row of ``X`` (a 1-D ``X`` is one point and gives a 0-d
        result); charges one evaluation per row.
    surrogate_grad : callable
        ``surrogate_grad(x)``: the surrogate gradient at ``x``; charges one call.
    """

    __slots__ = (
        "_counts",
        "_diverged",
        "_end_iteration",
        "_iteration",
        "_refusals",
        "_signals",
        "_spent",
        "budget",
        "dim",
        "loss",
        "surrogate_grad",
        "x0",
    )

    budget: Budget
    dim: int
    x0: Array
    loss: Callable[[ArrayLike], Array]
    surrogate_grad: Callable[[ArrayLike], Array]
    _counts: Callable[[], tuple[int, int, int]]
    _end_iteration: Callable[[], None]
    _signals: Callable[[], tuple[int, str | None]]
    # What the driver asks once or twice per iteration, each without building a tuple.
    _iteration: Callable[[], int]
    _spent: Callable[[], float]
    _refusals: Callable[[], int]
    _diverged: Callable[[], str | None]

    def __init__(self, problem: Problem, budget: Budget, rng: np.random.Generator) -> None:
        dim: int = problem.dim
        name = type(problem).__name__
        # [iterations, evaluations, gradient calls, refused requests]; only closures see it.
        counts = [0, 0, 0, 0]
        diverged: list[str] = []  # the first Diverged raised, in case the optimizer hides it
        spent = budget.spent_by()
        limit = budget.limit
        limited = not budget.counts_iterations  # an iteration budget never refuses a request
        problem_loss, problem_surrogate = problem.loss, problem.surrogate_grad
        point_dtype = getattr(problem, "dtype", None)
        # points in this dtype go to the problem as they are (as_floats would not convert them)
        ready = np.dtype(np.float64) if point_dtype is None else np.dtype(point_dtype)
        floats = FLOAT_DTYPES
        loss_what, surrogate_what = f"{name}.loss", f"{name}.surrogate_grad"

        def charge(evaluations: int, gradient_calls: int) -> None:
            """Count a request under a budget that may refuse it (not an iteration budget)."""
            evaluations += counts[1]
            gradient_calls += counts[2]
            if not spent(counts[0], evaluations, gradient_calls) <= limit:
                counts[3] += 1
                raise BudgetExhausted
            counts[1], counts[2] = evaluations, gradient_calls

        def nonfinite(message: str) -> Diverged:
            if not diverged:
                diverged.append(message)
            return Diverged(message)

        def loss(X: ArrayLike) -> Array:
            if type(X) is np.ndarray and X.ndim == 2 and X.dtype == ready and X.shape[1] == dim:
                batch, single = X, False  # the common case: a batch the problem takes as it is
            else:
                points = as_floats(X, point_dtype)
                single = points.ndim == 1
                batch = points[None, :] if single else np.atleast_2d(points)
                if batch.ndim != 2 or batch.shape[1] != dim:
                    raise ValueError(f"points must have {dim} columns, got shape {points.shape}")
            rows = len(batch)
            if limited:
                charge(rows, 0)
            else:
                counts[1] += rows
            values = problem_loss(batch)
            # What the shape check would return as it is, it need not see (the common case).
            if not (
                type(values) is np.ndarray and values.shape == (rows,) and values.dtype in floats
            ):
                values = check_loss_values(values, rows, loss_what)
            if not all_finite(values):
                raise nonfinite(
                    f"non-finite loss at iteration {counts[0]} (evaluation {counts[1]})"
                )
            result: Array = values[0] if single else values
            return result

        def surrogate_grad(x: ArrayLike) -> Array:
            point = x if type(x) is np.ndarray and x.dtype == ready else as_floats(x, point_dtype)
            if limited:
                charge(0, 1)
            else:
                counts[2] += 1
            g = problem_surrogate(point, rng)
            if not (type(g) is np.ndarray and g.shape == (dim,) and g.dtype in floats):
                g = check_surrogate(g, dim, surrogate_what)
            if not all_finite(g):
                raise nonfinite(f"non-finite surrogate gradient at iteration {counts[0]}")
            return g

        def end_iteration() -> None:
            counts[0] += 1

        loss.__doc__ = "True loss of each row of ``X`` (a 1-D ``X`` gives a 0-d result)."
        surrogate_grad.__doc__ = "Surrogate gradient at ``x`` (one call)."
        self.budget = budget
        self.dim = dim
        self.x0 = frozen(problem.x0)
        self.loss = loss
        self.surrogate_grad = surrogate_grad
        self._counts = lambda: (counts[0], counts[1], counts[2])
        self._end_iteration = end_iteration  # only the driver calls this
        self._signals = lambda: (counts[3], diverged[0] if diverged else None)
        self._iteration = lambda: counts[0]
        self._spent = lambda: spent(counts[0], counts[1], counts[2])
        self._refusals = lambda: counts[3]
        self._diverged = lambda: diverged[0] if diverged else None

    @property
    def iterations(self) -> int:
        """Iterations completed (counted by the driver, :func:`~gesbench.core.optimizer.drive`)."""
        return self._iteration()

    @property
    def evaluations(self) -> int:
        """Loss evaluations charged so far."""
        return self._counts()[1]

    @property
    def gradient_calls(self) -> int:
        """Surrogate-gradient calls charged so far."""
        return self._counts()[2]

    @property
    def spent(self) -> float:
        """Budget used so far, in units of its kind."""
        return self._spent()

    @property
    def exhausted(self) -> bool:
        """True once the budget is used up (no further iteration may start)."""
        return self._spent() >= self.budget.limit

    def remaining_evaluations(self) -> int | None:
        """How many more loss evaluations fit in the budget (None: evaluations are not limited)."""
        return self.budget.evaluations_left(*self._counts())
