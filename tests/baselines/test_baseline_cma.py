"""CMA-ES baselines through pycma: budget truncation, chunked generations, seeding, silence."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from scipy import stats

from gesbench.baselines.cma_es import CMAES
from gesbench.baselines.cma_es_surrogate import SurrogateCMAES
from gesbench.core.budget import Budget, BudgetKind
from gesbench.core.errors import HyperparameterError
from gesbench.core.optimizer import Optimizer, drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem
from gesbench.core.registry import optimizers
from gesbench.run.trial import run_trial
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec

TARGET = np.linspace(-0.5, 0.5, 6)
SepCMAES = cast(type[CMAES], optimizers.get("sep_cma_es"))


def sphere(X: Array) -> Array:
    # elementwise, so a batch's values do not depend on how the batch is split
    return 0.5 * np.sum((X - TARGET) ** 2, axis=1)


def problem(dim: int = 6) -> FunctionProblem:
    return FunctionProblem(sphere, lambda x: x - TARGET, np.zeros(dim), vectorized=True)


def run(opt: Optimizer, budget: Budget) -> Oracle:
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


LAM = 4 + int(3 * np.log(6))  # pycma's population at n = 6: 9
MU = LAM // 2


def pycma_options(cls: type[CMAES], rng: np.random.Generator) -> dict[str, object]:
    """What the adapter hands pycma, with the same random stream."""
    return {
        "verbose": -9,
        "verb_log": 0,
        "verb_disp": 0,
        "seed": np.nan,
        "randn": lambda *shape: rng.standard_normal(shape),
        "CMA_diagonal": cls.diagonal,
        "maxiter": np.inf,
    }


def pycma_ask(es: Any, cls: type[CMAES], grad: Callable[[Array], Array]) -> Array:
    if not cls.uses_surrogate:
        return np.asarray(es.ask())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycma: gradient injection little tested / zero
        return np.asarray(es.ask(gradf=grad))


def pycma_direct(
    cls: type[CMAES],
    seed: int,
    generations: int,
    told: int = 0,
    grad: Callable[[Array], Array] = lambda x: x - TARGET,
) -> Array:
    """pycma used directly: ``generations`` complete generations, then ``told`` solutions of
    the next one told (0: none); returns the mean."""
    import cma

    rng = np.random.default_rng(seed)
    es = cma.CMAEvolutionStrategy(np.zeros(6), 0.3, pycma_options(cls, rng))
    for _ in range(generations):
        X = pycma_ask(es, cls, grad)
        es.tell(list(X), sphere(X).tolist())
    if told:
        X = pycma_ask(es, cls, grad)[:told]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # pycma takes it as a generation, without a warning
            es.tell(list(X), sphere(X).tolist())
    return np.asarray(es.mean)


@pytest.mark.parametrize("cls", [CMAES, SepCMAES, SurrogateCMAES])
@pytest.mark.parametrize("r", range(LAM))
def test_partial_last_generation_is_what_pycma_used_directly_gives(
    cls: type[CMAES], r: int
) -> None:
    # The budget ends r candidates into generation 6. With r >= lambda - 2 (and >= 5) pycma's
    # tell takes them as a generation, and the recorded mean is the one it computes from them;
    # with fewer, the mean of the 5 complete generations is kept, bit for bit.
    opt = cls(rng=7, sigma0=0.3)
    oracle = run(opt, Budget("evaluations", 5 * LAM + r))
    assert oracle.evaluations == 5 * LAM + r and opt.es.countiter == 5
    takes = r >= LAM - 2 and r >= 5
    assert not takes or r > MU  # when it moves, there is selection
    np.testing.assert_array_equal(opt.x, pycma_direct(cls, 7, 5, told=r if takes else 0))


@pytest.mark.parametrize("r", [1, 3, LAM - 2])
def test_partial_generation_rule_holds_with_spread_generations(r: int) -> None:
    # Fig. 1's setting: 2 evaluations per iteration under an iteration budget.
    opt = CMAES(rng=8, sigma0=0.3, evaluations_per_step=2)
    oracle = run(opt, Budget("iterations", (5 * LAM + r) // 2))  # 5 * 9 + r is even
    assert oracle.evaluations == 5 * LAM + r and opt.es.countiter == 5
    told = r if r >= LAM - 2 else 0
    np.testing.assert_array_equal(opt.x, pycma_direct(CMAES, 8, 5, told=told))


def test_one_evaluation_past_a_generation_never_changes_the_result() -> None:
    for seed in range(5):
        whole, extra = CMAES(rng=seed, sigma0=0.3), CMAES(rng=seed, sigma0=0.3)
        run(whole, Budget("evaluations", 4 * LAM))
        run(extra, Budget("evaluations", 4 * LAM + 1))
        np.testing.assert_array_equal(extra.x, whole.x)


def conditioned_quadratic(n: int, condition: float, seed: int) -> Callable[[Array], Array]:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    h = (q * np.logspace(0, np.log10(condition), n)) @ q.T
    x_star = rng.standard_normal(n) / np.sqrt(n)
    return lambda X: 0.5 * np.einsum("ij,jk,ik->i", X - x_star, h, X - x_star)


def test_recombining_mu_candidates_would_be_worse_than_keeping_the_mean() -> None:
    # Why a partial generation of r <= lambda - 3 keeps the last complete mean: with r = mu
    # there is no selection, and pycma's update from those r points gives a worse point than
    # the mean it starts from in most seeds (paired, one-sided sign test), while near-complete
    # generations (r >= lambda - 2, which the adapter uses) are not worse in most seeds.
    import cma

    n, seeds = 20, 30
    lam = 4 + int(3 * np.log(n))
    worse = dict.fromkeys((lam // 2, lam - 2, lam - 1), 0)
    for seed in range(seeds):
        f = conditioned_quadratic(n, 1000.0, seed)
        rng = np.random.default_rng(1000 + seed)
        es = cma.CMAEvolutionStrategy(np.zeros(n), 0.1, pycma_options(CMAES, rng))
        for _ in range(100):
            X = np.asarray(es.ask())
            es.tell(list(X), f(X).tolist())
        X = np.asarray(es.ask())
        values = f(X)
        mean = np.asarray(es.mean)
        w = np.asarray(es.sp.weights.positive_weights)
        for r in worse:
            moved = w @ X[np.argsort(values[:r])[: len(w)]]
            worse[r] += bool(f(moved[None])[0] > f(mean[None])[0])
    assert stats.binomtest(worse[lam // 2], seeds, alternative="greater").pvalue < 0.05
    assert worse[lam - 2] < seeds / 2 and worse[lam - 1] < seeds / 2


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
def test_converged_run_stops_cleanly_instead_of_underflowing(kind: BudgetKind) -> None:
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


def test_surrogate_variant_is_pycmas_gradient_injection_used_directly() -> None:
    opt = SurrogateCMAES(rng=5, sigma0=0.3)
    run(opt, Budget("iterations", 12))
    np.testing.assert_array_equal(opt.x, pycma_direct(SurrogateCMAES, 5, 12))
    assert not np.array_equal(opt.x, pycma_direct(CMAES, 5, 12))


def test_zero_surrogate_is_handed_to_pycma_which_injects_the_mean() -> None:
    # pycma's ask(gradf=...) puts the mean itself in place of the third candidate when the
    # gradient is zero; the adapter hands the zero over, as a user of pycma would.
    zero = FunctionProblem(sphere, lambda x: np.zeros_like(x), np.zeros(6), vectorized=True)
    opt = SurrogateCMAES(rng=6, sigma0=0.3)
    oracle = Oracle(zero, Budget("evaluations", 3 * LAM + 3), np.random.default_rng(0))
    opt.start(oracle.x0)
    drive(opt, oracle)
    assert opt._pending is not None and opt.es.countiter == 3
    np.testing.assert_array_equal(opt._pending[2], opt.es.mean)
    assert oracle.gradient_calls == 4
    np.testing.assert_array_equal(opt.x, pycma_direct(SurrogateCMAES, 6, 3, grad=np.zeros_like))


def test_surrogate_calls_per_generation_not_per_iteration() -> None:
    # Under a surrogate-call budget CMA-ES with injection spends a whole generation of loss
    # evaluations per call, Guided ES the 2 evaluations of one iteration.
    budget = Budget("gradient_calls", 10)
    cma = run(SurrogateCMAES(rng=0, sigma0=0.3), budget)
    assert cma.gradient_calls == 10 and cma.evaluations == 10 * LAM
    ges = run(optimizers.create("guided_es", {"sigma": 0.1, "lr": 0.2}, rng=0), budget)
    assert ges.gradient_calls == 10 and ges.evaluations == 20
    assert "per generation" in (SurrogateCMAES.__doc__ or "").splitlines()[0]


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
