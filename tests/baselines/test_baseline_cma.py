"""CMA-ES baselines through pycma: budget truncation, chunked generations, seeding, silence."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gesbench.baselines.cma_es import CMAES
from gesbench.baselines.cma_es_surrogate import SurrogateCMAES
from gesbench.core.budget import Budget
from gesbench.core.errors import HyperparameterError
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem
from gesbench.core.registry import optimizers
from gesbench.run.trial import run_trial
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec

TARGET = np.linspace(-0.5, 0.5, 6)
SepCMAES = optimizers.get("sep_cma_es")


def sphere(X: Array) -> Array:
    # elementwise, so a batch's values do not depend on how the batch is split
    return 0.5 * np.sum((X - TARGET) ** 2, axis=1)


def problem(dim: int = 6) -> FunctionProblem:
    return FunctionProblem(sphere, lambda x: x - TARGET, np.zeros(dim), vectorized=True)


def run(opt: CMAES, budget: Budget) -> Oracle:
    oracle = Oracle(problem(), budget, np.random.default_rng(0))
    opt.start(oracle.x0)
    drive(opt, oracle)
    return oracle


def test_one_step_is_one_generation_and_x_is_the_mean() -> None:
    opt = CMAES(rng=1, sigma0=0.3)
    oracle = run(opt, Budget("iterations", 5))
    assert opt.es.popsize == 4 + int(3 * np.log(6))
    assert oracle.evaluations == 5 * opt.es.popsize
    assert opt.es.countiter == 5
    np.testing.assert_array_equal(opt.x, opt.es.mean)


def test_evaluation_budget_is_spent_exactly_and_truncated_generation_moves_the_mean() -> None:
    popsize = 8
    opt = CMAES(rng=2, sigma0=0.3, popsize=popsize)
    limit = 4 * popsize + 5
    oracle = run(opt, Budget("evaluations", limit))
    assert oracle.evaluations == limit
    assert opt.es.countiter == 4  # the fifth generation was cut to 5 candidates, never told
    # the truncated generation recombines its best min(mu, 5) candidates with pycma's weights
    assert opt._pending is not None
    pending, values = opt._pending[:5], opt._values[:5]
    mu = opt.es.sp.weights.mu
    best = np.argsort(values)[: min(mu, 5)]
    w = np.asarray(opt.es.sp.weights[: len(best)])
    expected = opt.es.mean + opt.es.sp.cmean * (w / w.sum()) @ (pending[best] - opt.es.mean)
    np.testing.assert_allclose(opt.x, expected)
    assert sphere(opt.x[None])[0] < sphere(np.asarray(opt.es.mean)[None])[0]


def test_cost_budget_never_exceeded_with_surrogate_calls() -> None:
    budget = Budget("cost", 50.5, evaluation_cost=1.0, gradient_cost=3.0)
    opt = SurrogateCMAES(rng=0, sigma0=0.3)
    oracle = run(opt, budget)
    assert oracle.spent <= budget.limit
    assert oracle.gradient_calls == opt.es.countiter + (opt._pending is not None)


def test_spreading_a_generation_over_steps_gives_the_same_search() -> None:
    whole = CMAES(rng=3, sigma0=0.3, popsize=8)
    run(whole, Budget("iterations", 6))
    spread = CMAES(rng=3, sigma0=0.3, popsize=8, evaluations_per_step=2)
    oracle = run(spread, Budget("iterations", 6 * 8 // 2))
    assert oracle.evaluations == 6 * 8
    np.testing.assert_array_equal(spread.x, whole.x)
    np.testing.assert_array_equal(spread.es.C, whole.es.C)


def test_spread_steps_straddle_generations() -> None:
    # 3 evaluations per step with a population of 8: steps cross generation boundaries
    opt = CMAES(rng=3, sigma0=0.3, popsize=8, evaluations_per_step=3)
    oracle = run(opt, Budget("iterations", 8))
    assert oracle.evaluations == 24
    assert opt.es.countiter == 3
    np.testing.assert_array_equal(opt.x, opt.es.mean)


@pytest.mark.parametrize("kind", ["evaluations", "iterations"])
def test_converged_run_stops_cleanly_instead_of_underflowing(kind: str) -> None:
    # Past pycma's termination criteria sigma would shrink until the samples turn NaN and the
    # trial would be marked diverged; instead the run freezes at its final mean.
    opt = CMAES(rng=0, sigma0=0.5)
    budget = Budget(kind, 20_000 if kind == "evaluations" else 3_000)
    oracle = run(opt, budget)
    assert opt.converged and "tolfun" in opt.es.stop()
    assert sphere(opt.x[None])[0] < 1e-10
    np.testing.assert_array_equal(opt.x, opt.es.mean)
    assert oracle.evaluations < 2_000  # nothing spent after convergence
    assert oracle.iterations == (3_000 if kind == "iterations" else opt.es.countiter)


def test_separable_variant_learns_a_diagonal_only() -> None:
    opt = SepCMAES(rng=0, sigma0=0.3)
    run(opt, Budget("iterations", 20))
    assert opt.es.opts["CMA_diagonal"] is True
    assert not CMAES(rng=0).diagonal


def test_surrogate_variant_uses_one_surrogate_call_per_generation_and_helps() -> None:
    finals = {}
    for cls in (CMAES, SurrogateCMAES):
        opt = cls(rng=4, sigma0=0.3)
        oracle = run(opt, Budget("evaluations", 400))
        finals[cls] = sphere(opt.x[None])[0]
        if cls is SurrogateCMAES:
            assert oracle.gradient_calls == opt.es.countiter + (opt._pending is not None)
    # with an exact gradient, the injected Newton-like candidate speeds CMA-ES up a lot
    assert finals[SurrogateCMAES] < 0.1 * finals[CMAES]


def spec(seed: int) -> TrialSpec:
    return TrialSpec(
        seed=seed,
        problem="perturbed_quadratic",
        problem_params={"n": 20, "m": 40},
        problem_label="pq",
        optimizer="cma_es",
        optimizer_params={"sigma0": 0.05},
        label="CMA-ES",
        budget=Budget("iterations", 30),
        repetition=0,
        trace=TraceSchedule(dense=10, per_decade=10),
    )


def global_state() -> list[np.ndarray]:
    return [np.asarray(v) for v in np.random.get_state()]  # noqa: NPY002


def test_trials_ignore_and_leave_numpy_global_rng_alone() -> None:
    # The test disturbs numpy's global RNG on purpose ("other code" using np.random).
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.set_state(np.random.RandomState(1).get_state())  # noqa: NPY002
        before = global_state()
        first = run_trial(spec(0))
        after = global_state()
        np.random.standard_normal(1000)  # noqa: NPY002
        second = run_trial(spec(0))
        third = run_trial(spec(1))
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert np.array_equal(first.trace["loss"], second.trace["loss"])
    assert not np.array_equal(first.trace["loss"], third.trace["loss"])
    assert first.status == "done" and first.final_loss < first.trace["loss"][0]


@pytest.mark.parametrize("cls", [CMAES, SepCMAES, SurrogateCMAES])
def test_silent_and_writes_no_files(
    cls: type[CMAES],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    run(cls(rng=0, sigma0=0.3), Budget("evaluations", 101))
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sigma0": 0.0}, "sigma0"),
        ({"popsize": 2}, "popsize"),
        ({"evaluations_per_step": -1}, "evaluations_per_step"),
        ({"sigma": 0.1}, "Did you mean 'sigma0'"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict[str, float], field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        CMAES(rng=0, **params)
