"""The optimizer contract: properties every registered optimizer must have.

``check_optimizer(name_or_class)`` runs short real trials (through the same runner the harness
uses) on small built-in test problems and raises ``AssertionError`` naming the first property
that fails:

- the budget is never exceeded, for every budget kind (iterations, evaluations, surrogate
  calls, weighted cost); an optimizer that never spends what a budget counts (e.g. no loss
  evaluations) must be stopped with a :class:`~gesbench.core.errors.GesbenchError`, not loop;
- every loss evaluation and surrogate call reaches the problem through the oracle: the test
  problem counts the calls it really receives, which must equal the oracle's counters (an
  optimizer that digs the problem out of the oracle and queries it directly fails);
- the same trial gives the same trace, and another seed gives another trace;
- it works in dimension 1 (or refuses it with a clear GesbenchError when the class declares
  ``min_dim > 1``) and at n = 1000, and its recommendation ``x`` stays finite with shape (n,);
- a loss returning NaN or inf ends the trial as ``diverged``, never as a crash;
- it never touches numpy's global RNG: the global state is scrambled before every step and
  must be left as it was, and the trajectory must not change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import numpy as np

from gesbench.core.budget import Budget
from gesbench.core.errors import GesbenchError
from gesbench.core.optimizer import Optimizer, drive
from gesbench.core.oracle import Oracle
from gesbench.core.params import Params, param
from gesbench.core.problem import Array, Problem, frozen
from gesbench.core.registry import optimizers, problems
from gesbench.run.trial import run_trial
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

DIM = 5
BUDGETS: tuple[Budget, ...] = (
    Budget("iterations", 7),
    # limits that are not multiples of typical batch sizes, so truncation is exercised
    Budget("evaluations", 37),
    Budget("gradient_calls", 5),
    Budget("cost", 41.5, evaluation_cost=1.0, gradient_cost=2.5),
)


@dataclass(frozen=True)
class ContractQuadraticParams(Params):
    n: int = param(DIM, ge=1, doc="dimension")
    noise: float = param(0.5, ge=0, doc="surrogate noise, relative to ||grad f||")


class ContractQuadratic(Problem):
    """``f(x) = ||x - c||^2 / 2`` with a noisy surrogate gradient; a test problem for contracts."""

    Params = ContractQuadraticParams
    params: ContractQuadraticParams

    def _build(self, rng: np.random.Generator) -> None:
        self.dim = self.params.n
        self.center = frozen(rng.standard_normal(self.dim))
        self.x0 = frozen(np.zeros(self.dim))
        self.f_star = 0.0
        self.received = {"evaluations": 0, "gradient_calls": 0}  # what really reached it

    def loss(self, X: Array) -> Array:
        self.received["evaluations"] += len(X)
        return 0.5 * np.sum((X - self.center) ** 2, axis=1)

    def true_grad(self, x: Array) -> Array:
        return x - self.center

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        self.received["gradient_calls"] += 1
        g = self.true_grad(x)
        return g + self.params.noise * np.linalg.norm(g) * rng.standard_normal(self.dim)


@dataclass(frozen=True)
class ContractNonFiniteParams(ContractQuadraticParams):
    value: str = param("nan", choices=("nan", "inf"), doc="the loss off x0")


class ContractNonFinite(ContractQuadratic):
    """Like :class:`ContractQuadratic` but the loss is ``value`` ("nan" or "inf") off ``x0``."""

    Params = ContractNonFiniteParams
    params: ContractNonFiniteParams

    def loss(self, X: Array) -> Array:
        off_start = np.any(np.not_equal(X, self.x0), axis=1)
        return np.where(off_start, float(self.params.value), super().loss(X))


QUADRATIC = "_contract_quadratic"
NONFINITE = "_contract_nonfinite"


class _Contract:
    """One optimizer (with fixed parameters) under test."""

    def __init__(self, name: str, cls: type[Optimizer], params: Mapping[str, Any]) -> None:
        self.name, self.cls, self.params = name, cls, dict(params)
        cls(rng=0, **self.params)  # bad parameters fail here, with the class's own error

    def spec(
        self,
        budget: Budget,
        problem: str = QUADRATIC,
        problem_params: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> TrialSpec:
        return TrialSpec(
            experiment="contract",
            seed=seed,
            problem=problem,
            problem_params=dict(problem_params or {"n": DIM}),
            problem_label=problem,
            optimizer=self.name,
            optimizer_params=self.params,
            label=self.name,
            budget=budget,
            repetition=0,
            trace=TraceSchedule(dense=5, per_decade=5),
        )

    def run(self, spec: TrialSpec, expect: str = "done") -> TrialResult:
        result = run_trial(spec)
        assert result.status == expect, (
            f"{self.name}: expected status {expect!r} for budget {spec.budget} on "
            f"{spec.problem} {spec.problem_params}, got {result.status!r}: {result.error}"
        )
        return result

    def check_budgets(self) -> None:
        probe = self.run(self.spec(BUDGETS[0]))
        spends = {"evaluations": probe.evaluations > 0, "gradient_calls": probe.gradient_calls > 0}
        if not self.cls.uses_surrogate:
            assert probe.gradient_calls == 0, (
                f"{self.name}: declares uses_surrogate = False but made "
                f"{probe.gradient_calls} surrogate calls"
            )
        if self.cls.uses_loss is False:
            assert probe.evaluations == 0, (
                f"{self.name}: declares uses_loss = False but made "
                f"{probe.evaluations} loss evaluations"
            )
        for budget in BUDGETS:
            if not spends.get(budget.kind, True):
                # it never spends what this budget counts: the driver must stop it cleanly
                result = self.run(self.spec(budget), expect="failed")
                assert (result.error or "").startswith("GesbenchError"), (
                    f"{self.name}: a {budget.kind!r} budget it never spends should stop with a "
                    f"GesbenchError, got: {result.error}"
                )
                continue
            result = self.run(self.spec(budget))
            self.check_counted(self.spec(budget))
            spent = budget.spent(result.iterations, result.evaluations, result.gradient_calls)
            assert spent <= budget.limit, (
                f"{self.name}: exceeded its {budget.kind!r} budget: spent {spent} > {budget.limit}"
            )
            assert result.iterations >= 1, f"{self.name}: did no iteration under {budget}"
            if budget.counts_iterations:
                assert result.iterations == budget.limit, (
                    f"{self.name}: stopped after {result.iterations} of {budget.limit} iterations"
                )
            trace = result.trace
            for column in ("iteration", "evaluations", "gradient_calls", "cost"):
                assert np.all(np.diff(trace[column]) >= 0), (
                    f"{self.name}: trace column {column!r} decreases under {budget}"
                )
            assert trace["cost"][-1] <= budget.limit, f"{self.name}: trace ends past {budget}"

    def check_counted(self, spec: TrialSpec) -> None:
        """Every query the problem received was charged by the oracle."""
        _, problem, oracle = _drive(spec)
        for counter in ("evaluations", "gradient_calls"):
            received, charged = problem.received[counter], getattr(oracle, counter)
            assert received == charged, (
                f"{self.name}: the problem received {received} {counter.replace('_', ' ')} "
                f"under {spec.budget} but the oracle charged {charged}: the optimizer reached "
                "the problem without going through the oracle"
            )

    def check_seeds(self, stochastic: bool) -> None:
        # long enough for population methods stepping one candidate at a time to move
        budget = Budget("iterations", 60)
        first = self.run(self.spec(budget))
        again = self.run(self.spec(budget))
        for column, values in first.trace.items():
            if column == "wall_time":
                continue
            assert np.array_equal(values, again.trace[column], equal_nan=True), (
                f"{self.name}: the same trial gave different {column!r} traces"
            )
        if stochastic:
            # another seed: same problem instance, other optimizer and noise draws
            other = self.run(self.spec(budget, seed=1))
            assert not np.array_equal(first.trace["loss"], other.trace["loss"]), (
                f"{self.name}: different seeds gave identical loss traces"
            )

    def check_dimensions(self) -> None:
        min_dim = int(getattr(self.cls, "min_dim", 1))
        if min_dim > 1:
            try:
                self.cls(rng=0, **self.params).start(np.zeros(1))
            except GesbenchError:
                pass
            else:
                raise AssertionError(
                    f"{self.name}: declares min_dim = {min_dim} but accepts dimension 1"
                )
        for n, iterations in ((1, 7), (1000, 2)):
            if n < min_dim:
                continue
            spec = self.spec(Budget("iterations", iterations), problem_params={"n": n})
            x = _trajectory(spec)[-1]
            assert x.shape == (n,), f"{self.name}: recommendation has shape {x.shape}, not ({n},)"
            assert np.isfinite(x).all(), f"{self.name}: non-finite recommendation at n = {n}"

    def check_nonfinite(self) -> None:
        for value in ("nan", "inf"):
            spec = self.spec(
                Budget("iterations", 7), problem=NONFINITE, problem_params={"value": value}
            )
            self.run(spec, expect="diverged")

    def check_global_rng(self) -> None:
        spec = self.spec(BUDGETS[0])
        saved = np.random.get_state()  # noqa: NPY002 - restored below
        try:
            calm = _trajectory(spec)
            disturbed = _trajectory(spec, disturb=True, who=self.name)
        finally:
            np.random.set_state(saved)  # noqa: NPY002
        assert len(calm) == len(disturbed) and all(
            np.array_equal(a, b) for a, b in zip(calm, disturbed, strict=True)
        ), f"{self.name}: its trajectory depends on numpy's global RNG"


def _scramble(k: int) -> Any:
    """Put numpy's global RNG in a fresh state (different for each ``k``) and return it."""
    # Touching the global RNG is this check's purpose; the caller restores the user's state.
    np.random.set_state(np.random.RandomState(1000 + k).get_state())  # noqa: NPY002
    return np.random.get_state()  # noqa: NPY002


def _same_state(a: Any, b: Any) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))


def _trajectory(spec: TrialSpec, disturb: bool = False, who: str = "") -> list[Array]:
    """The recommendations after ``start`` and after every step of ``spec``'s trial.

    With ``disturb``, numpy's global RNG is scrambled before ``start`` and before every step,
    and must be found untouched afterwards.
    """
    return _drive(spec, disturb, who)[0]


def _drive(
    spec: TrialSpec, disturb: bool = False, who: str = ""
) -> tuple[list[Array], Any, Oracle]:
    """:func:`_trajectory`'s recommendations, with the problem and the oracle it ran with."""
    streams = spec.streams()
    problem = problems.create(spec.problem, spec.problem_params, rng=streams.problem)
    optimizer = optimizers.create(spec.optimizer, spec.optimizer_params, rng=streams.optimizer)
    oracle = Oracle(problem, spec.budget, streams.noise)
    xs: list[Array] = []
    state = _scramble(0) if disturb else None

    def check_untouched(when: str) -> None:
        if state is not None:
            assert _same_state(np.random.get_state(), state), (  # noqa: NPY002
                f"{who}: numpy's global RNG was used or reseeded during {when}"
            )

    optimizer.start(oracle.x0)
    check_untouched("start")
    xs.append(np.array(optimizer.x, copy=True))

    def after() -> None:
        nonlocal state
        check_untouched(f"step {oracle.iterations}")
        xs.append(np.array(optimizer.x, copy=True))
        if disturb:
            state = _scramble(oracle.iterations + 1)

    if disturb:
        state = _scramble(1)
    drive(optimizer, oracle, after)
    return xs, problem, oracle


CHECKS: tuple[str, ...] = ("budgets", "seeds", "dimensions", "nonfinite", "global_rng")


def check_optimizer(
    name_or_class: str | type[Optimizer],
    params: Mapping[str, Any] | None = None,
    *,
    stochastic: bool = True,
    checks: tuple[str, ...] = CHECKS,
) -> None:
    """Run the optimizer contract; raise ``AssertionError`` naming the first failure.

    Parameters
    ----------
    name_or_class : str or Optimizer subclass
        A registered optimizer name, or a class (registered as ``"module:QualName"`` while the
        checks run, so the harness's runner can build it, and removed afterwards).
    params : mapping, optional
        Hyperparameters to test with (defaults otherwise).
    stochastic : bool
        Whether another seed must give another trace; pass False for deterministic optimizers.
    checks : tuple of str
        Subset of ``CHECKS`` to run (all by default).

    Examples
    --------
    >>> from gesbench.testing import check_optimizer
    >>> check_optimizer("vanilla_es", {"sigma": 0.5})
    """
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise GesbenchError(f"check_optimizer: unknown check(s) {unknown}; choose from {CHECKS}")
    with ExitStack() as stack:
        if isinstance(name_or_class, str):
            name, cls = name_or_class, optimizers.get(name_or_class)
        else:
            cls = name_or_class
            name = f"{cls.__module__}:{cls.__qualname__}"
            stack.enter_context(optimizers.registered(name, cls))
        stack.enter_context(problems.registered(QUADRATIC, ContractQuadratic))
        stack.enter_context(problems.registered(NONFINITE, ContractNonFinite))
        _run_checks(_Contract(name, cls, params or {}), checks, stochastic)


def _run_checks(contract: _Contract, checks: tuple[str, ...], stochastic: bool) -> None:
    runs: dict[str, Callable[[], None]] = {
        "budgets": contract.check_budgets,
        "seeds": lambda: contract.check_seeds(stochastic),
        "dimensions": contract.check_dimensions,
        "nonfinite": contract.check_nonfinite,
        "global_rng": contract.check_global_rng,
    }
    for check in checks:
        runs[check]()
