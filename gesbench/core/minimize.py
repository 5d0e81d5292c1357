"""Minimising a user's own function with any optimizer, outside the harness, the way scipy
users expect: :func:`minimize` is what :meth:`gesbench.Optimizer.minimize` runs.

The result (:class:`~gesbench.core.optimizer.OptimizeResult`) has scipy's fields (``x``,
``fun``, ``success``, ``status``, ``message``, ``nit``, ``nfev``, ``njev``) besides gesbench's
counters. Statuses:

- 0: the budget is used up (``success`` True);
- 1: the callback asked to stop, by returning True or raising ``StopIteration`` (``success``
  True: the run ended as asked);
- 2: the run diverged, a non-finite loss, surrogate or iterate (``success`` False); ``x`` is the
  last finite iterate, ``nit`` the iterations completed, and the message names the iteration.
  As in the harness, floating-point overflow and invalid operations are not warned about
  during the run (nor raised under ``-W error``): the status says more.

The callback is called after every iteration as ``callback(intermediate_result)`` (scipy's
convention): an :class:`IntermediateResult` with ``x``, ``nit``, ``nfev``, ``njev`` and ``fun``,
the loss at ``x``, evaluated only when read and never charged to the budget. A callback with
two required positional parameters is called the older way, ``callback(oracle, optimizer)``,
which also stops the run by returning True.

``history=True`` logs the true loss at the optimizer's point (not charged to the budget) on the
harness's default trace schedule (every iteration up to 50, then 50 log-spaced points per
decade, and always the last) and returns it as a DataFrame (``iteration``, ``evaluations``,
``gradient_calls``, ``loss``); ``verbose=True`` prints the same points as they are logged,
and the outcome.
"""

from __future__ import annotations

import inspect
import math
import numbers
import sys
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
from numpy.typing import ArrayLike

from gesbench.core.budget import Budget
from gesbench.core.errors import Diverged, SpecError
from gesbench.core.optimizer import OptimizeResult, drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem

if TYPE_CHECKING:
    from gesbench.core.optimizer import Optimizer

BUDGET_USED, CALLBACK_STOP, DIVERGED = 0, 1, 2
HISTORY_COLUMNS = ("iteration", "evaluations", "gradient_calls", "loss")
DENSE, PER_DECADE = 50, 50
"""The history's schedule: the harness's default trace schedule."""


def as_budget(budget: Budget | float) -> Budget:
    """``budget`` as a :class:`Budget`: a Budget as it is, or a whole number of iterations of
    any numeric type (``100``, ``np.int64(100)``, ``100.0``); SpecError otherwise."""
    if isinstance(budget, Budget):
        return budget
    count: int | None = None
    if isinstance(budget, bool | np.bool_):
        count = None
    elif isinstance(budget, numbers.Integral):
        count = int(budget)
    elif isinstance(budget, numbers.Real) and math.isfinite(float(budget)):
        value = float(budget)
        count = int(value) if value.is_integer() else None
    if count is None or count < 1:
        raise SpecError(
            f"budget: expected a gesbench.Budget or a whole number of iterations >= 1, got "
            f"{budget!r}"
        )
    return Budget("iterations", count)


class IntermediateResult:
    """What the callback sees after each iteration: ``x`` (a copy), ``nit``, ``nfev``, ``njev``
    (also as ``iterations``, ``evaluations``, ``gradient_calls``) and ``fun``, the loss at
    ``x``, evaluated on first access and not charged to the budget."""

    def __init__(self, x: Array, oracle: Oracle, loss: Callable[[Array], float]) -> None:
        self.x = x
        self.nit = self.iterations = oracle.iterations
        self.nfev = self.evaluations = oracle.evaluations
        self.njev = self.gradient_calls = oracle.gradient_calls
        self._loss = loss

    @cached_property
    def fun(self) -> float:
        return self._loss(self.x)

    def __repr__(self) -> str:
        return f"IntermediateResult(nit={self.nit}, nfev={self.nfev}, njev={self.njev})"


class _Stop(Exception):
    """Raised out of the driver when the callback asks to stop."""


def _legacy(callback: Callable[..., Any]) -> bool:
    """Whether ``callback`` takes the older ``(oracle, optimizer)`` arguments: two or more
    required positional parameters."""
    try:
        parameters = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    required = [p for p in parameters if p.kind in positional and p.default is p.empty]
    return len(required) >= 2


def _wants_stop(answer: object) -> bool:
    return isinstance(answer, bool | np.bool_) and bool(answer)


def _checkpoints() -> Iterator[int]:
    """Iterations at which the history logs: 0..DENSE, then PER_DECADE per decade."""
    yield from range(DENSE + 1)
    last, j = DENSE, 1
    while True:
        iteration = math.ceil(DENSE * 10 ** (j / PER_DECADE))
        if iteration > last:
            yield iteration
            last = iteration
        j += 1


class _Log:
    """The history rows, and the lines ``verbose`` prints, at the schedule's iterations."""

    def __init__(self, oracle: Oracle, loss: Callable[[Array], float], out: TextIO | None):
        self.oracle, self.loss, self.out = oracle, loss, out
        self.rows: list[tuple[int, int, int, float]] = []
        self._schedule = _checkpoints()
        self._next = next(self._schedule)
        if out is not None:
            print(f"{'iteration':>10} {'evaluations':>12} {'surrogate':>10} {'loss':>14}", file=out)

    def record(self, x: Array) -> None:
        o = self.oracle
        row = (o.iterations, o.evaluations, o.gradient_calls, self.loss(x))
        self.rows.append(row)
        if self.out is not None:
            print(f"{row[0]:>10} {row[1]:>12} {row[2]:>10} {row[3]:>14.6g}", file=self.out)

    def after_iteration(self, x: Array) -> None:
        if self.oracle.iterations >= self._next:
            self.record(x)
            while self._next <= self.oracle.iterations:
                self._next = next(self._schedule)

    def finish(self, x: Array) -> None:
        if not self.rows or self.rows[-1][0] != self.oracle.iterations:
            self.record(x)

    def frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(HISTORY_COLUMNS))


def minimize(
    optimizer: Optimizer,
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
    """Minimise ``f`` from ``x0`` with ``optimizer`` (see the module docstring and
    :meth:`gesbench.Optimizer.minimize` for the arguments)."""
    problem = FunctionProblem(f, surrogate_grad, x0, vectorized=vectorized)
    oracle = Oracle(problem, as_budget(budget), np.random.default_rng(0))

    def loss(x: Array) -> float:  # the true loss at a point, never charged to the budget
        return float(problem.loss(x[None, :])[0])

    with np.errstate(over="ignore", invalid="ignore"):
        return _run(optimizer, problem, oracle, loss, callback, history, verbose)


def _run(
    optimizer: Optimizer,
    problem: FunctionProblem,
    oracle: Oracle,
    loss: Callable[[Array], float],
    callback: Callable[..., Any] | None,
    history: bool,
    verbose: bool | int,
) -> OptimizeResult:
    """:func:`minimize` once its problem and oracle are made."""
    out = sys.stdout if verbose else None
    log = _Log(oracle, loss, out) if history or verbose else None
    optimizer.start(problem.x0)
    last = np.array(optimizer.x, dtype=float)  # the last finite iterate
    if log is not None:
        log.record(last)
    legacy = callback is not None and _legacy(callback)

    def after_iteration() -> None:
        nonlocal last
        last = np.array(optimizer.x, dtype=float)
        if log is not None:
            log.after_iteration(last)
        if callback is None:
            return
        try:
            if legacy:
                answer = callback(oracle, optimizer)
            else:
                answer = callback(IntermediateResult(last.copy(), oracle, loss))
        except StopIteration:
            raise _Stop from None
        if _wants_stop(answer):
            raise _Stop

    status, message = BUDGET_USED, f"the budget is used up ({_describe(oracle.budget)})"
    try:
        drive(optimizer, oracle, after_iteration)
        last = np.array(optimizer.x, dtype=float)
    except _Stop:
        status, message = CALLBACK_STOP, f"stopped by the callback at iteration {oracle.iterations}"
    except Diverged as exc:
        status = DIVERGED
        message = (
            f"diverged: {exc}; x is the last finite iterate, after iteration {oracle.iterations}"
        )
    fun = loss(last)
    if log is not None:
        log.finish(last)
    if out is not None:
        print(f"{message}: loss {fun:.6g}", file=out)
    return OptimizeResult(
        x=last,
        fun=fun,
        iterations=oracle.iterations,
        evaluations=oracle.evaluations,
        gradient_calls=oracle.gradient_calls,
        success=status != DIVERGED,
        status=status,
        message=message,
        history=log.frame() if log is not None and history else None,
    )


def _describe(budget: Budget) -> str:
    limit = int(budget.limit) if float(budget.limit).is_integer() else budget.limit
    return f"{limit} {budget.kind}"
