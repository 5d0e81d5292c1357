"""Optimizer.minimize as scipy users know it: the result's fields, callbacks that stop a run,
the history, integer-valued budgets of any type, divergence as a status, and one set of
return-shape rules shared by minimize, the oracle and check_problem."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from gesbench import Budget, GuidedES
from gesbench.baselines.surrogate_descent import SurrogateDescent
from gesbench.core.errors import SpecError
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Problem, frozen
from gesbench.core.shapes import LOSS_RULE, SCALAR_RULE, SURROGATE_RULE, ShapeError
from gesbench.testing import check_problem
from gesbench.testing.problem_contract import ContractError

TARGET = np.linspace(-1.0, 1.0, 6)


def f(x):
    return float(np.sum((x - TARGET) ** 2))


def surrogate(x):
    return 2 * (x - TARGET) + 0.1


def ges(seed: int = 0) -> GuidedES:
    return GuidedES(rng=seed, sigma=0.1, lr=0.2)


def test_the_result_has_scipys_fields_beside_the_counters():
    result = ges().minimize(f, surrogate, np.zeros(6), budget=40)
    assert (result.success, result.status) == (True, 0)
    assert "budget is used up" in result.message and "40 iterations" in result.message
    assert (result.nit, result.nfev, result.njev) == (40, 80, 40)
    assert (result.iterations, result.evaluations, result.gradient_calls) == (40, 80, 40)
    assert result.fun == f(result.x) < f(np.zeros(6))
    assert result.history is None
    shown = repr(result)
    for name in ("message", "success", "status", "fun", "x", "nit", "nfev", "njev"):
        assert f"{name}: " in shown


@pytest.mark.parametrize("budget", [30, np.int64(30), np.int32(30), 30.0, np.float64(30.0)])
def test_a_whole_number_of_iterations_of_any_numeric_type_is_the_same_budget(budget):
    reference = ges().minimize(f, surrogate, np.zeros(6), budget=30)
    result = ges().minimize(f, surrogate, np.zeros(6), budget=budget)
    assert result.nit == 30
    np.testing.assert_array_equal(result.x, reference.x)


@pytest.mark.parametrize("budget", [30.5, 0, -3, True, float("inf"), float("nan"), "30"])
def test_a_budget_that_is_not_a_whole_number_of_iterations_is_refused(budget):
    with pytest.raises(SpecError, match="whole number of iterations"):
        ges().minimize(f, surrogate, np.zeros(6), budget=budget)


def test_a_budget_object_still_counts_what_it_says():
    result = ges().minimize(f, surrogate, np.zeros(6), budget=Budget("evaluations", 21))
    assert result.nfev <= 21 and result.nit == 10 and result.status == 0


def test_the_callback_sees_each_iteration_and_stops_the_run_by_returning_true():
    seen = []

    def callback(intermediate_result):
        seen.append((intermediate_result.nit, intermediate_result.nfev))
        assert intermediate_result.fun == f(intermediate_result.x)  # read, yet never charged
        return intermediate_result.nit == 7

    result = ges().minimize(f, surrogate, np.zeros(6), budget=100, callback=callback)
    assert seen == [(i, 2 * i) for i in range(1, 8)]
    assert (result.status, result.success, result.nit, result.nfev) == (1, True, 7, 14)
    assert "stopped by the callback at iteration 7" in result.message
    # The same seed without the callback takes the same first 7 steps.
    np.testing.assert_array_equal(result.x, ges().minimize(f, surrogate, np.zeros(6), budget=7).x)


def test_a_callback_returning_none_never_stops_and_stopiteration_does():
    assert ges().minimize(f, surrogate, np.zeros(6), 12, callback=lambda r: None).nit == 12

    def stop(intermediate_result):
        if intermediate_result.nit == 3:
            raise StopIteration

    assert ges().minimize(f, surrogate, np.zeros(6), 12, callback=stop).nit == 3


def test_the_older_two_argument_callback_still_gets_the_oracle_and_the_optimizer():
    calls = []

    def callback(oracle, optimizer):
        assert isinstance(oracle, Oracle) and isinstance(optimizer, GuidedES)
        calls.append(oracle.iterations)
        return oracle.iterations == 5

    result = ges().minimize(f, surrogate, np.zeros(6), budget=20, callback=callback)
    assert calls == [1, 2, 3, 4, 5] and result.nit == 5 and result.status == 1


def test_history_is_the_logged_trace_and_costs_no_budget():
    plain = ges().minimize(f, surrogate, np.zeros(6), budget=300)
    result = ges().minimize(f, surrogate, np.zeros(6), budget=300, history=True)
    history = result.history
    assert list(history.columns) == ["iteration", "evaluations", "gradient_calls", "loss"]
    assert history["iteration"].iloc[0] == 0 and history["loss"].iloc[0] == f(np.zeros(6))
    assert history["iteration"].iloc[-1] == 300 and history["loss"].iloc[-1] == result.fun
    assert history["iteration"].is_monotonic_increasing
    assert list(history["iteration"][:51]) == list(range(51))  # dense, then log-spaced
    assert len(history) < 300
    assert (history["evaluations"] == 2 * history["iteration"]).all()
    assert (result.nfev, result.fun) == (plain.nfev, plain.fun)  # logging is not charged


def test_verbose_prints_the_logged_points_and_the_outcome(capsys):
    ges().minimize(f, surrogate, np.zeros(6), budget=60, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["iteration", "evaluations", "surrogate", "loss"]
    assert lines[1].split()[:3] == ["0", "0", "0"]
    assert lines[-2].split()[:3] == ["60", "120", "60"]
    assert "budget is used up" in lines[-1]
    ges().minimize(f, surrogate, np.zeros(6), budget=60)
    assert capsys.readouterr().out == ""


def test_divergence_is_a_status_with_the_iteration_not_an_exception():
    def exploding(x):
        return float(np.sum(x**2)) if np.abs(x).max() < 50 else float("inf")

    optimizer = GuidedES(rng=0, sigma=0.1, lr=5.0)  # far too large a step: x grows
    result = optimizer.minimize(exploding, lambda x: 2 * x, np.full(3, 1.0), budget=100)
    assert (result.success, result.status) == (False, 2)
    assert result.nit < 100 and "diverged" in result.message
    assert "iteration" in result.message
    assert np.isfinite(result.x).all()
    assert result.fun == exploding(result.x)


def test_a_non_finite_iterate_is_divergence_too():
    optimizer = SurrogateDescent(rng=0, lr=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # x = -1e308, then -2e308 = -inf: no warning escapes
        result = optimizer.minimize(f, lambda x: np.full(6, 1e308), np.zeros(6), budget=50)
    assert (result.status, result.success) == (2, False)
    assert "non-finite iterate at iteration 2" in result.message
    assert (result.x == -1e308).all()


@pytest.mark.parametrize("update", ["sgd", "momentum", "nesterov", "adam"])
def test_overflow_inside_the_run_raises_no_warning_under_warnings_as_errors(update):
    """Huge finite losses make Guided ES's estimate and its update overflow (Adam squares the
    estimate; the others step to inf, then the loss is inf): the run ends as a result, with a
    finite x, never with a RuntimeWarning raised as an error."""
    optimizer = GuidedES(rng=0, update=update, lr=1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = optimizer.minimize(lambda x: 1e200 * np.sum(x), lambda x: x, np.ones(4), 50)
    assert np.isfinite(result.x).all()
    if update != "adam":  # Adam's infinite second moment makes its steps 0 instead
        assert (result.status, result.success) == (2, False)


@pytest.mark.parametrize(
    ("kwargs", "rule", "shape"),
    [
        (
            {"f": lambda X: np.sum(X, axis=1, keepdims=True), "vectorized": True},
            LOSS_RULE,
            "(2, 1)",
        ),
        ({"f": lambda X: np.array([np.sum(X)]), "vectorized": True}, LOSS_RULE, "(1,)"),
        ({"f": lambda x: np.array([np.sum(x)])}, SCALAR_RULE, "(1,)"),
        ({"surrogate_grad": lambda x: np.ones(5)}, SURROGATE_RULE, "(5,)"),
        ({"surrogate_grad": lambda x: np.ones((6, 1))}, SURROGATE_RULE, "(6, 1)"),
    ],
)
def test_return_shape_mistakes_name_the_rule_in_minimize(kwargs, rule, shape):
    given = {"f": f, "surrogate_grad": surrogate, "vectorized": False} | kwargs
    with pytest.raises(ShapeError) as caught:
        ges().minimize(
            given["f"], given["surrogate_grad"], np.zeros(6), 5, vectorized=given["vectorized"]
        )
    assert rule in str(caught.value) and shape in str(caught.value)


class _ColumnLoss(Problem):
    """A quadratic whose loss comes back as a column: shape (rows, 1)."""

    def _build(self, rng):
        self.dim = 4
        self.x0 = frozen(np.ones(4))

    def loss(self, X):
        return np.sum(X**2, axis=1, keepdims=True)

    def surrogate_grad(self, x, rng):
        return 2 * x


class _ShortSurrogate(_ColumnLoss):
    """A surrogate one entry short."""

    def loss(self, X):
        return np.sum(X**2, axis=1)

    def surrogate_grad(self, x, rng):
        return 2 * x[:-1]


@pytest.mark.parametrize(
    ("cls", "rule"), [(_ColumnLoss, LOSS_RULE), (_ShortSurrogate, SURROGATE_RULE)]
)
def test_the_oracle_and_check_problem_apply_the_same_rules(cls, rule):
    oracle = Oracle(cls(0), Budget("iterations", 5), np.random.default_rng(0))
    with pytest.raises(ShapeError, match=rule.replace("(", r"\(").replace(")", r"\)")) as caught:
        oracle.loss(np.ones((2, 4))) if cls is _ColumnLoss else oracle.surrogate_grad(np.ones(4))
    assert cls.__name__ in str(caught.value)
    with pytest.raises(ContractError) as contract:
        check_problem(cls)
    assert rule in str(contract.value)


def test_the_readme_example_stops_early_through_its_callback(capsys):
    from test_readme import run_blocks

    ns = run_blocks()
    early = ns["early"]
    assert (early.status, early.success) == (1, True)
    assert early.nit < 500 and early.nfev == 2 * early.nit
    assert early.history["loss"].iloc[-1] == early.fun < 1e-3
    assert early.history["iteration"].iloc[-1] == early.nit
    assert "stopped by the callback" in early.message
