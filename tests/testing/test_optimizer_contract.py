"""Every registered optimizer passes the optimizer contract (gesbench.testing.check_optimizer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from gesbench.core.errors import GesbenchError, HyperparameterError
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Problem
from gesbench.core.registry import optimizers
from gesbench.testing import check_optimizer
from gesbench.testing.optimizer_contract import CHECKS

# Nevergrad warns that its ES family is inefficient below 60 evaluations: true, and intended here.
pytestmark = pytest.mark.filterwarnings(
    "ignore::nevergrad.common.errors.InefficientSettingsWarning"
)

# Optimizers whose n = 1000 check takes seconds (Nevergrad's EDA factorises an n x n covariance
# for every candidate): that check runs only in the slow suite.
HEAVY_AT_N1000 = {"ng_eda"}
FAST_CHECKS = tuple(c for c in CHECKS if c != "dimensions")


@pytest.mark.parametrize("name", optimizers.installed())
def test_registered_optimizer_passes_contract(name: str) -> None:
    check_optimizer(name, checks=FAST_CHECKS if name in HEAVY_AT_N1000 else CHECKS)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEAVY_AT_N1000))
def test_heavy_optimizer_passes_dimension_checks(name: str) -> None:
    check_optimizer(name, checks=("dimensions",))


class NoisyCoordinateSearch(Optimizer):
    """A third-party style optimizer: tries one random coordinate step per iteration."""

    defaults: ClassVar[Mapping[str, Any]] = {"step": 0.5}
    uses_surrogate: ClassVar[bool] = False

    def step(self, oracle: Oracle) -> None:
        trial = self.x.copy()
        i = self.rng.integers(self.x.size)
        trial[i] += self.params["step"] * self.rng.standard_normal()
        here, there = oracle.loss(np.stack([self.x, trial]))
        if there < here:
            self.x = trial


class GlobalRandomSearch(NoisyCoordinateSearch):
    """Breaks the contract: draws from numpy's global RNG."""

    def step(self, oracle: Oracle) -> None:
        candidate = self.x + np.random.standard_normal(self.x.size)  # noqa: NPY002
        if oracle.loss(candidate) < oracle.loss(self.x):
            self.x = candidate


class Overspender(NoisyCoordinateSearch):
    """Breaks the contract: swallows every exception, the budget signal too, and goes on."""

    failures = 0

    def step(self, oracle: Oracle) -> None:
        try:
            super().step(oracle)
        except Exception:
            self.failures += 1


class ProblemCaller(NoisyCoordinateSearch):
    """Breaks the contract: evaluates the problem behind the oracle's back, 10x its budget."""

    def step(self, oracle: Oracle) -> None:
        problem = oracle._problem  # type: ignore[attr-defined]
        problem.loss(np.tile(self.x, (20, 1)))
        super().step(oracle)


def dig_out_problem(oracle: Oracle) -> Problem:
    """What a determined cheat can still do in Python: search the oracle's closures."""
    for cell in oracle.loss.__closure__ or ():
        found = getattr(cell.cell_contents, "__self__", cell.cell_contents)  # or a bound method's
        if isinstance(found, Problem):
            return found
    raise AssertionError("no problem in the oracle's closures")


class ClosureDigger(NoisyCoordinateSearch):
    """Breaks the contract: digs the problem out of the oracle's closures and queries it."""

    def step(self, oracle: Oracle) -> None:
        dig_out_problem(oracle).loss(np.tile(self.x, (20, 1)))
        super().step(oracle)


class ClosureSurrogate(NoisyCoordinateSearch):
    """Breaks the contract: calls the problem's surrogate gradient uncounted."""

    def step(self, oracle: Oracle) -> None:
        dig_out_problem(oracle).surrogate_grad(self.x, self.rng)
        super().step(oracle)


class UndeclaredLoss(NoisyCoordinateSearch):
    """Breaks the contract: declares it never evaluates the loss, and does."""

    uses_loss: ClassVar[bool | None] = False


class NaNRecommender(NoisyCoordinateSearch):
    """Breaks the contract: loses its recommendation on the first step."""

    def step(self, oracle: Oracle) -> None:
        oracle.loss(self.x)
        self.x = self.x * np.nan


def test_third_party_class_passes() -> None:
    check_optimizer(NoisyCoordinateSearch, {"step": 0.3})


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (GlobalRandomSearch, "global RNG"),
        (
            Overspender,
            "caught the BudgetExhausted signal the oracle raised when its 'evaluations' budget "
            "ran out, and went on",
        ),
        (ProblemCaller, "'Oracle' object has no attribute '_problem'"),
        (
            ClosureDigger,
            r"the problem received \d+ evaluations under Budget\(kind='iterations'.* but the "
            r"oracle charged 14: the optimizer reached the problem without going through",
        ),
        (ClosureSurrogate, r"the problem received 7 gradient calls .* but the oracle charged 0"),
        (UndeclaredLoss, r"declares uses_loss = False but made \d+ loss evaluations"),
    ],
)
def test_contract_catches_violations(cls: type[Optimizer], message: str) -> None:
    checks = ("global_rng",) if cls is GlobalRandomSearch else ("budgets",)
    with pytest.raises(AssertionError, match=message):
        check_optimizer(cls, checks=checks)


def test_contract_reports_non_finite_recommendation() -> None:
    with pytest.raises(AssertionError, match="diverged"):
        check_optimizer(NaNRecommender, checks=("budgets",))


def test_deterministic_optimizer_may_opt_out_of_seed_check() -> None:
    class Still(NoisyCoordinateSearch):
        def step(self, oracle: Oracle) -> None:
            oracle.loss(self.x)

    with pytest.raises(AssertionError, match="different seeds"):
        check_optimizer(Still, checks=("seeds",))
    check_optimizer(Still, checks=("seeds",), stochastic=False)


def test_bad_parameters_and_checks_are_reported() -> None:
    with pytest.raises(HyperparameterError, match="step"):
        check_optimizer(NoisyCoordinateSearch, {"stpe": 1.0})
    with pytest.raises(GesbenchError, match="unknown check"):
        check_optimizer(NoisyCoordinateSearch, checks=("speed",))
