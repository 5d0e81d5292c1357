"""The optimizer interface, the loop that drives one, and standalone minimisation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from gesbench.core.budget import Budget
from gesbench.core.errors import BudgetExhausted, Diverged, GesbenchError
from gesbench.core.oracle import Oracle
from gesbench.core.params import Configurable, Params
from gesbench.core.problem import Array, FunctionProblem


class Optimizer(Configurable, ABC):
    """An iterative optimizer driven one ``step`` at a time through an :class:`Oracle`.

    Built from hyperparameters and a numpy ``Generator``, which is its only source of
    randomness. The hyperparameters are declared once, in ``Params`` (a frozen
    :class:`~gesbench.core.params.Params` dataclass with types, defaults and constraints; or,
    the older way, a plain ``defaults`` mapping), checked at construction and read as
    ``self.params.name``. ``start(x0)`` resets it; ``x`` is its current recommendation, which is
    what the harness evaluates and logs.
    """

    uses_surrogate: ClassVar[bool] = True
    """Whether the optimizer calls the surrogate gradient at all (a spec with a surrogate-call
    budget refuses one that does not)."""
    uses_loss: ClassVar[bool | None] = None
    """Whether the optimizer evaluates the loss at all (a spec with an evaluation budget refuses
    one that does not). None: not declared; the spec then tries one step on a small problem."""
    params: Params

    def __init__(self, rng: np.random.Generator | int | None = None, **params: Any) -> None:
        self.name = type(self).__name__
        self.params = type(self).resolve_params(params, owner=self.name)
        self.rng = np.random.default_rng(rng)
        self.check_params()
        self.x: Array = np.empty(0)

    def check_params(self) -> None:
        """Extra checks at construction; raise :class:`~gesbench.core.errors.HyperparameterError`.

        Rarely needed: declared constraints and ``Params.validate`` are checked before, and
        also when a spec loads. Checks that need the dimension belong in ``start``.
        """

    def start(self, x0: Array) -> None:
        """Reset the optimizer's state at ``x0`` (checks that depend on the dimension go here)."""
        self.x = np.array(x0, dtype=float)

    @abstractmethod
    def step(self, oracle: Oracle) -> None:
        """Do one iteration, querying ``oracle``; update ``self.x``."""

    def minimize(
        self,
        f: Callable[[Array], Any],
        surrogate_grad: Callable[[Array], ArrayLike] | None,
        x0: ArrayLike,
        budget: Budget | int,
        *,
        vectorized: bool = False,
        callback: Callable[[Oracle, Optimizer], None] | None = None,
    ) -> OptimizeResult:
        """Minimise a user's own function, outside the harness.

        Parameters
        ----------
        f : callable
            Objective of one point (or of a batch of rows when ``vectorized``).
        surrogate_grad : callable or None
            Surrogate gradient of one point; None for optimizers that do not use one.
        x0 : array_like
            Starting point.
        budget : Budget or int
            A :class:`Budget`, or an int meaning that many iterations.
        callback : callable, optional
            Called as ``callback(oracle, optimizer)`` after every iteration.
        """
        problem = FunctionProblem(f, surrogate_grad, x0, vectorized=vectorized)
        if isinstance(budget, int):
            budget = Budget("iterations", budget)
        oracle = Oracle(problem, budget, np.random.default_rng(0))
        self.start(problem.x0)
        after = None if callback is None else (lambda: callback(oracle, self))
        drive(self, oracle, after)
        return OptimizeResult(
            x=self.x.copy(),
            fun=float(problem.loss(self.x[None, :])[0]),
            iterations=oracle.iterations,
            evaluations=oracle.evaluations,
            gradient_calls=oracle.gradient_calls,
        )


@dataclass(frozen=True)
class OptimizeResult:
    """Outcome of :meth:`Optimizer.minimize`: final point, its loss (not charged) and counters."""

    x: Array
    fun: float
    iterations: int
    evaluations: int
    gradient_calls: int


def drive(
    optimizer: Optimizer, oracle: Oracle, after_iteration: Callable[[], None] | None = None
) -> None:
    """Step ``optimizer`` until the budget is used up.

    Returns normally when the budget is exhausted (including mid-iteration: that partial
    iteration is discarded, since the optimizer raised before updating ``x``). Raises
    :class:`Diverged` when the recommendation becomes non-finite, and
    :class:`~gesbench.core.errors.GesbenchError` when an iteration spends nothing of a budget that
    does not count iterations (e.g. vanilla ES under a surrogate-call budget), which would
    otherwise never end, naming the real cause when the step swallowed the oracle's
    ``BudgetExhausted``. A :class:`Diverged` the oracle raised is raised again after a step
    that caught it.
    """
    counts_iterations = oracle.budget.counts_iterations
    try:
        while not oracle.exhausted:
            before = oracle.spent
            refused = oracle._signals()[0]
            optimizer.step(oracle)
            oracle._end_iteration()
            refusals, diverged = oracle._signals()
            if diverged is not None:  # raised by the oracle, but the step caught it
                raise Diverged(diverged)
            if not counts_iterations and oracle.spent == before:
                if refusals > refused:
                    raise GesbenchError(
                        f"{optimizer.name} caught the BudgetExhausted signal the oracle raised "
                        f"when its {oracle.budget.kind!r} budget ran out, and went on: let "
                        "gesbench.core.errors.BudgetExhausted propagate out of step (an "
                        "'except Exception' around oracle calls swallows it)"
                    )
                raise GesbenchError(
                    f"{optimizer.name} spent nothing of its {oracle.budget.kind!r} budget in an "
                    "iteration, so the budget would never run out; choose another budget kind"
                )
            if not np.isfinite(optimizer.x).all():
                raise Diverged(f"non-finite iterate at iteration {oracle.iterations}")
            if after_iteration is not None:
                after_iteration()
    except BudgetExhausted:
        pass
