"""The oracle: counting, budget enforcement, divergence, and what it hides."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench import Budget, Diverged, GesbenchError, GuidedES, SpecError
from gesbench.core.errors import BudgetExhausted
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import optimizers
from gesbench.problems.perturbed_quadratic import PerturbedQuadratic


def make_oracle(budget: Budget, f=None) -> Oracle:
    f = f or (lambda X: np.sum(X**2, axis=1))
    problem = FunctionProblem(f, lambda x: 2 * x, np.ones(4), vectorized=True)
    return Oracle(problem, budget, np.random.default_rng(0))


def test_counts_batches_and_refuses_past_the_evaluation_budget():
    oracle = make_oracle(Budget("evaluations", 5))
    assert oracle.loss(np.zeros((3, 4))).shape == (3,)
    assert np.ndim(oracle.loss(np.zeros(4))) == 0
    assert oracle.evaluations == 4 and oracle.remaining_evaluations() == 1
    with pytest.raises(BudgetExhausted):
        oracle.loss(np.zeros((2, 4)))
    assert oracle.evaluations == 4  # a refused request is not charged


@pytest.mark.parametrize(
    ("budget", "iterations", "evaluations", "gradient_calls"),
    [
        (Budget("iterations", 10), 10, 20, 10),
        (Budget("evaluations", 9), 4, 8, 5),  # the 5th iteration is refused mid-way
        (Budget("gradient_calls", 6), 6, 12, 6),
        (Budget("cost", 20, evaluation_cost=1.0, gradient_cost=4.0), 3, 6, 3),
    ],
)
def test_drive_stops_at_each_budget_kind(budget, iterations, evaluations, gradient_calls):
    oracle = make_oracle(budget)
    ges = GuidedES(rng=0)
    ges.start(oracle.x0)
    drive(ges, oracle)
    assert (oracle.iterations, oracle.evaluations, oracle.gradient_calls) == (
        iterations,
        evaluations,
        gradient_calls,
    )
    assert oracle.spent <= budget.limit


def test_an_optimizer_that_spends_nothing_of_its_budget_is_stopped():
    oracle = make_oracle(Budget("gradient_calls", 5))
    es = optimizers.create("vanilla_es", {}, rng=0)
    es.start(oracle.x0)
    with pytest.raises(GesbenchError, match="never run out"):
        drive(es, oracle)


def test_non_finite_losses_raise_diverged_naming_the_iteration():
    oracle = make_oracle(Budget("iterations", 10), f=lambda X: np.full(len(X), np.nan))
    with pytest.raises(Diverged, match="iteration 0"):
        oracle.loss(np.zeros((2, 4)))


def test_wrong_point_shape_is_rejected():
    with pytest.raises(ValueError, match="4 columns"):
        make_oracle(Budget()).loss(np.zeros((2, 3)))


def test_oracle_does_not_expose_true_gradient_or_f_star():
    problem = PerturbedQuadratic(np.random.default_rng(0), n=3, m=5)
    oracle = Oracle(problem, Budget(), np.random.default_rng(0))
    public = {name for name in dir(oracle) if not name.startswith("_")}
    assert not public & {"true_grad", "f_star", "problem"}


@pytest.mark.parametrize(
    "fields",
    [{"kind": "steps"}, {"limit": 0}, {"limit": -3}, {"gradient_cost": 0}, {"limit": True}],
)
def test_invalid_budgets_name_the_field(fields):
    with pytest.raises(SpecError, match="budget"):
        Budget(**fields)


def test_counters_are_read_only_and_counted_by_the_driver_only() -> None:
    problem = FunctionProblem(lambda x: float(x @ x), lambda x: 2 * x, np.ones(3))
    oracle = Oracle(problem, Budget("iterations", 4), np.random.default_rng(0))
    for name in ("iterations", "evaluations", "gradient_calls"):
        with pytest.raises(AttributeError):
            setattr(oracle, name, 10)
    ges = GuidedES(rng=0)
    ges.start(problem.x0)
    drive(ges, oracle)
    assert (oracle.iterations, oracle.evaluations, oracle.gradient_calls) == (4, 8, 4)


def test_the_oracle_holds_no_attribute_path_to_the_problem() -> None:
    problem = PerturbedQuadratic(np.random.default_rng(0), n=3, m=5)
    oracle = Oracle(problem, Budget(), np.random.default_rng(0))
    assert not hasattr(oracle, "_problem") and not hasattr(oracle, "__dict__")
    reachable = [getattr(oracle, name) for name in dir(oracle) if not name.startswith("__")]
    assert not any(value is problem for value in reachable)
    with pytest.raises(AttributeError):
        oracle._problem = problem  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        oracle._evaluations = 0  # type: ignore[attr-defined]


class SwallowsEverything(GuidedES):
    """Catches every exception around its queries, the oracle's signals included."""

    def step(self, oracle):
        try:
            super().step(oracle)
        except Exception:
            self.x = self.x.copy()


def test_an_optimizer_that_swallows_the_budget_signal_is_told_so() -> None:
    oracle = make_oracle(Budget("evaluations", 7))  # GES spends 2 per step: the 4th is refused
    ges = SwallowsEverything(rng=0)
    ges.start(oracle.x0)
    with pytest.raises(GesbenchError) as error:
        drive(ges, oracle)
    message = str(error.value)
    assert "caught the BudgetExhausted signal the oracle raised when its 'evaluations'" in message
    assert "let gesbench.core.errors.BudgetExhausted propagate" in message
    assert "choose another budget kind" not in message
    assert oracle.evaluations == 6


def test_a_swallowed_non_finite_loss_still_ends_the_trial_as_diverged() -> None:
    oracle = make_oracle(Budget("iterations", 10), f=lambda X: np.full(len(X), np.nan))
    ges = SwallowsEverything(rng=0)
    ges.start(oracle.x0)
    with pytest.raises(Diverged, match="non-finite loss at iteration 0"):
        drive(ges, oracle)
    assert oracle.iterations == 1
