"""Trial budgets: what is counted, and when a trial must stop."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from gesbench.core.errors import SpecError

BudgetKind = Literal["iterations", "evaluations", "gradient_calls", "cost"]
BUDGET_KINDS: tuple[str, ...] = get_args(BudgetKind)


@dataclass(frozen=True)
class Budget:
    """How much a trial may spend.

    ``kind`` is what ``limit`` counts: optimizer iterations, loss evaluations, surrogate-gradient
    calls, or a weighted ``cost = evaluation_cost * evaluations + gradient_cost * gradient_calls``.
    Every trial records all counters whatever the kind, so any can be a plot's x axis.
    """

    kind: BudgetKind = "iterations"
    limit: float = 1000
    evaluation_cost: float = 1.0
    gradient_cost: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in BUDGET_KINDS:
            raise SpecError(
                f"budget.kind: expected one of {', '.join(BUDGET_KINDS)}, got {self.kind!r}"
            )
        for name in ("limit", "evaluation_cost", "gradient_cost"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError(f"budget.{name}: expected a positive number, got {value!r}")
            if not (value > 0 and math.isfinite(value)):
                raise SpecError(f"budget.{name}: expected a positive finite number, got {value!r}")

    @property
    def counts_iterations(self) -> bool:
        """True when the limit counts iterations (the oracle then never refuses a request)."""
        return self.kind == "iterations"

    def spent(self, iterations: int, evaluations: int, gradient_calls: int) -> float:
        """Budget used by the given counters, in units of ``kind``."""
        if self.kind == "iterations":
            return iterations
        if self.kind == "evaluations":
            return evaluations
        if self.kind == "gradient_calls":
            return gradient_calls
        return self.evaluation_cost * evaluations + self.gradient_cost * gradient_calls

    def spent_by(self) -> Callable[[int, int, int], float]:
        """:meth:`spent` specialised to this budget's kind, for loops that ask once per query
        (the same arithmetic, without the dispatch on ``kind``)."""
        if self.kind == "iterations":
            return lambda iterations, evaluations, gradient_calls: iterations
        if self.kind == "evaluations":
            return lambda iterations, evaluations, gradient_calls: evaluations
        if self.kind == "gradient_calls":
            return lambda iterations, evaluations, gradient_calls: gradient_calls
        a, b = self.evaluation_cost, self.gradient_cost
        return lambda iterations, evaluations, gradient_calls: a * evaluations + b * gradient_calls

    def allows(self, iterations: int, evaluations: int, gradient_calls: int) -> bool:
        """Whether counters this high stay within the limit (iterations are checked between
        iterations by the driver, so an iteration budget never refuses a request)."""
        return self.counts_iterations or (
            self.spent(iterations, evaluations, gradient_calls) <= self.limit
        )

    def evaluations_left(
        self, iterations: int, evaluations: int, gradient_calls: int
    ) -> int | None:
        """Loss evaluations that still fit (None: this budget does not limit evaluations)."""
        if self.kind == "evaluations":
            return int(self.limit - evaluations)
        if self.kind == "cost":
            left = self.limit - self.spent(iterations, evaluations, gradient_calls)
            return int(left // self.evaluation_cost)
        return None

    def total_evaluations(self, per_iteration: int) -> int | None:
        """Loss evaluations a whole trial may make by an optimizer that evaluates
        ``per_iteration`` points per iteration and never calls the surrogate (None: unbounded
        by this budget, e.g. a surrogate-call budget)."""
        if self.kind == "evaluations":
            return int(self.limit)
        if self.kind == "cost":
            return int(self.limit // self.evaluation_cost)
        if self.kind == "iterations":
            return int(self.limit) * per_iteration
        return None

    def is_last_iteration(self, iterations: int) -> bool:
        """True when, under an iteration budget, no iteration may follow iteration number
        ``iterations + 1`` (the one now running)."""
        return self.counts_iterations and iterations + 1 >= self.limit

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Budget:
        unknown = set(data) - {"kind", "limit", "evaluation_cost", "gradient_cost"}
        if unknown:
            raise SpecError(f"budget: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**data)
