"""The oracle: the only view of a problem an optimizer gets.

It counts loss evaluations and surrogate-gradient calls, refuses requests past the trial's
budget (raising :class:`~gesbench.core.errors.BudgetExhausted`, which the driver catches), turns
non-finite values into :class:`~gesbench.core.errors.Diverged`, and never exposes the true gradient
or the optimal value.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from gesbench.core.budget import Budget
from gesbench.core.errors import BudgetExhausted, Diverged
from gesbench.core.problem import Array, Problem, frozen


class Oracle:
    """Budgeted, counted access to a problem's loss and surrogate gradient."""

    def __init__(self, problem: Problem, budget: Budget, rng: np.random.Generator) -> None:
        self._problem = problem
        self._rng = rng
        self.budget = budget
        self.dim: int = problem.dim
        self.x0: Array = frozen(problem.x0)
        self._iterations = 0
        self._evaluations = 0
        self._gradient_calls = 0

    @property
    def iterations(self) -> int:
        """Iterations completed (counted by the driver, :func:`~gesbench.core.optimizer.drive`)."""
        return self._iterations

    @property
    def evaluations(self) -> int:
        """Loss evaluations charged so far."""
        return self._evaluations

    @property
    def gradient_calls(self) -> int:
        """Surrogate-gradient calls charged so far."""
        return self._gradient_calls

    @property
    def spent(self) -> float:
        return self.budget.spent(self._iterations, self._evaluations, self._gradient_calls)

    @property
    def exhausted(self) -> bool:
        """True once the budget is used up (no further iteration may start)."""
        return self.spent >= self.budget.limit

    def remaining_evaluations(self) -> int | None:
        """How many more loss evaluations fit in the budget (None: evaluations are not limited)."""
        return self.budget.evaluations_left(
            self._iterations, self._evaluations, self._gradient_calls
        )

    def _end_iteration(self) -> None:
        """Count one finished iteration; only the driver calls this."""
        self._iterations += 1

    def _charge(self, evaluations: int, gradient_calls: int) -> None:
        evaluations += self._evaluations
        gradient_calls += self._gradient_calls
        if not self.budget.allows(self._iterations, evaluations, gradient_calls):
            raise BudgetExhausted
        self._evaluations, self._gradient_calls = evaluations, gradient_calls

    def loss(self, X: ArrayLike) -> Array:
        """True loss of each row of ``X`` (a 1-D ``X`` is one point and gives a 0-d result)."""
        X = np.asarray(X, dtype=float)
        batch = np.atleast_2d(X)
        if batch.ndim != 2 or batch.shape[1] != self.dim:
            raise ValueError(f"points must have {self.dim} columns, got shape {X.shape}")
        self._charge(len(batch), 0)
        values = np.asarray(self._problem.loss(batch), dtype=float)
        if not np.isfinite(values).all():
            raise Diverged(
                f"non-finite loss at iteration {self._iterations} (evaluation {self._evaluations})"
            )
        return values[0] if X.ndim == 1 else values

    def surrogate_grad(self, x: ArrayLike) -> Array:
        """Surrogate gradient at ``x`` (one call)."""
        x = np.asarray(x, dtype=float)
        self._charge(0, 1)
        g = np.asarray(self._problem.surrogate_grad(x, self._rng), dtype=float)
        if not np.isfinite(g).all():
            raise Diverged(f"non-finite surrogate gradient at iteration {self._iterations}")
        return g
