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
from gesbench.core.problem import Array
from gesbench.core.vectors import all_finite


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
        budget: Budget | float,
        *,
        vectorized: bool = False,
        callback: Callable[..., Any] | None = None,
        history: bool = False,
        verbose: bool | int = False,
    ) -> OptimizeResult:
        """Minimise a user's own function, outside the harness (see :mod:`gesbench.core.minimize`).

        Parameters
        ----------
        f : callable
            Objective of one point, returning a scalar (or, when ``vectorized``, of a batch of
            points as rows, returning one value per row: shape ``(rows,)``).
        surrogate_grad : callable or None
            Surrogate gradient of one point, shape ``(dim,)``; None for optimizers that do not
            use one.
        x0 : array_like
            Starting point.
        budget : Budget or int
            A :class:`Budget`, or a whole number of iterations (any numeric type: ``100``,
            ``np.int64(100)``, ``100.0``; ``100.5`` is an error).
        callback : callable, optional
            Called after every iteration as ``callback(intermediate_result)`` (x, fun, nit,
            nfev, njev; ``fun`` is evaluated only when read, never charged); returning True
            or raising ``StopIteration`` stops the run (status 1). A callback with two
            required parameters is called the older way, ``callback(oracle, optimizer)``.
        history : bool
            Return the logged trace (iteration, evaluations, gradient_calls, loss) as a
            DataFrame in ``result.history``.
        verbose : bool
            Print the logged points and the outcome.

        Returns
        -------
        OptimizeResult
            ``x``, ``fun``, ``success``, ``status`` (0 budget used up, 1 stopped by the
            callback, 2 diverged: then ``x`` is the last finite iterate), ``message``,
            ``nit``, ``nfev``, ``njev`` (also as ``iterations``, ``evaluations``,
            ``gradient_calls``) and ``history``.
        """
        from gesbench.core.minimize import minimize

        return minimize(
            self,
            f,
            surrogate_grad,
            x0,
            budget,
            vectorized=vectorized,
            callback=callback,
            history=history,
            verbose=verbose,
        )


@dataclass(frozen=True, eq=False)
class OptimizeResult:
    """Outcome of :meth:`Optimizer.minimize`, with the fields scipy's ``OptimizeResult`` has.

    ``x`` is the final point (the last finite iterate when the run diverged) and ``fun`` its
    loss (evaluated after the run, not charged). ``status`` is 0 when the budget was used up,
    1 when the callback stopped the run, 2 when it diverged (``success`` False); ``message``
    says which. ``nit``, ``nfev`` and ``njev`` are scipy's names for ``iterations``,
    ``evaluations`` (loss evaluations) and ``gradient_calls`` (surrogate-gradient calls).
    ``history`` is the logged trace as a DataFrame when asked for (``history=True``).
    """

    x: Array
    fun: float
    iterations: int
    evaluations: int
    gradient_calls: int
    success: bool = True
    status: int = 0
    message: str = ""
    history: Any = None

    @property
    def nit(self) -> int:
        """Iterations completed (scipy's name)."""
        return self.iterations

    @property
    def nfev(self) -> int:
        """Loss evaluations (scipy's name)."""
        return self.evaluations

    @property
    def njev(self) -> int:
        """Surrogate-gradient calls (scipy's name for gradient evaluations)."""
        return self.gradient_calls

    def __repr__(self) -> str:
        """scipy's layout: one ``name: value`` line per field."""
        fields = {
            "message": self.message,
            "success": self.success,
            "status": self.status,
            "fun": self.fun,
            "x": self.x,
            "nit": self.nit,
            "nfev": self.nfev,
            "njev": self.njev,
        }
        if self.history is not None:
            fields["history"] = f"<DataFrame: {len(self.history)} rows>"
        width = max(map(len, fields))
        return "\n".join(f"{k:>{width}}: {v}" for k, v in fields.items())


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
    budget = oracle.budget
    try:
        if budget.counts_iterations:
            _iterate(optimizer, oracle, after_iteration)
        else:
            _spend(optimizer, oracle, after_iteration)
    except BudgetExhausted:
        pass


def _iterate(
    optimizer: Optimizer, oracle: Oracle, after_iteration: Callable[[], None] | None
) -> None:
    """:func:`drive` under an iteration budget: the oracle never refuses, every iteration
    spends."""
    step, end_iteration = optimizer.step, oracle._end_iteration
    iteration, limit = oracle._iteration(), oracle.budget.limit
    while iteration < limit:
        step(oracle)
        end_iteration()
        iteration += 1
        _check(optimizer, oracle)
        if after_iteration is not None:
            after_iteration()


def _spend(
    optimizer: Optimizer, oracle: Oracle, after_iteration: Callable[[], None] | None
) -> None:
    """:func:`drive` under a budget of evaluations, surrogate calls or cost: an iteration
    must spend, and the step must let the oracle's refusal through."""
    budget = oracle.budget
    spent, refusals, diverged = oracle._spent, oracle._refusals, oracle._diverged
    end_iteration = oracle._end_iteration
    while not spent() >= budget.limit:
        before, refused = spent(), refusals()
        optimizer.step(oracle)
        end_iteration()
        if diverged() is None and spent() == before:
            if refusals() > refused:
                raise GesbenchError(
                    f"{optimizer.name} caught the BudgetExhausted signal the oracle "
                    f"raised when its {budget.kind!r} budget ran out, and went on: let "
                    "gesbench.core.errors.BudgetExhausted propagate out of step (an "
                    "'except Exception' around oracle calls swallows it)"
                )
            raise GesbenchError(
                f"{optimizer.name} spent nothing of its {budget.kind!r} budget in an "
                "iteration, so the budget would never run out; choose another budget kind"
            )
        _check(optimizer, oracle)
        if after_iteration is not None:
            after_iteration()


def _check(optimizer: Optimizer, oracle: Oracle) -> None:
    """Raise :class:`Diverged` after an iteration that caught the oracle's, or that left a
    non-finite iterate."""
    message = oracle._diverged()
    if message is not None:  # raised by the oracle, but the step caught it
        raise Diverged(message)
    if not all_finite(optimizer.x):
        raise Diverged(f"non-finite iterate at iteration {oracle.iterations}")
