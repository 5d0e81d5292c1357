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
        self.iterations = 0
        self.evaluations = 0
        self.gradient_calls = 0

    @property
    def spent(self) -> float:
        return self.budget.spent(self.iterations, self.evaluations, self.gradient_calls)

    @property
    def exhausted(self) -> bool:
        """True once the budget is used up (no further iteration may start)."""
        return self.spent >= self.budget.limit

    def remaining_evaluations(self) -> int | None:
        """How many more loss evaluations fit in the budget (None: evaluations are not limited)."""
        b = self.budget
        if b.kind == "evaluations":
            return int(b.limit - self.evaluations)
        if b.kind == "cost":
            return int((b.limit - self.spent) // b.evaluation_cost)
        return None

    def _charge(self, evaluations: int, gradient_calls: int) -> None:
        after = self.budget.spent(
            self.iterations, self.evaluations + evaluations, self.gradient_calls + gradient_calls
        )
        if self.budget.kind != "iterations" and after > self.budget.limit:
            raise BudgetExhausted
        self.evaluations += evaluations
        self.gradient_calls += gradient_calls

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
                f"non-finite loss at iteration {self.iterations} (evaluation {self.evaluations})"
            )
        return values[0] if X.ndim == 1 else values

    def surrogate_grad(self, x: ArrayLike) -> Array:
        """Surrogate gradient at ``x`` (one call)."""
        x = np.asarray(x, dtype=float)
        self._charge(0, 1)
        g = np.asarray(self._problem.surrogate_grad(x, self._rng), dtype=float)
        if not np.isfinite(g).all():
            raise Diverged(f"non-finite surrogate gradient at iteration {self.iterations}")
        return g
