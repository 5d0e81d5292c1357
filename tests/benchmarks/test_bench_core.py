"""Speed of the engine's core: a GES step, its hot path on the Fig. 1 problem against the bare
linear algebra, the runner's per-iteration bookkeeping, a store write, and a report build.

Every trial runs with one BLAS thread (the runner's setting), so these do too. Pairs meant to
be read together share a benchmark group, whose table shows each one's factor against the
fastest ("Min (1.0)" versus "Min (1.08)" is an 8% overhead).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gesbench.core.budget import Budget
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import problems
from gesbench.ges.guided_es import GuidedES
from gesbench.report.build import build_report
from gesbench.run.trial import TraceRecorder
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec
from gesbench.store.database import ResultStore
from gesbench.store.record import TRACE_COLUMNS, TrialResult

UNLIMITED = Budget("iterations", 10**12)


@pytest.fixture(autouse=True)
def one_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def fig1_problem():
    """The paper's Fig. 1 instance (n = 1000, m = 2000), built once."""
    with threadpool_limits(limits=1):  # as in a trial; threads oversubscribe a shared machine
        return problems.create("perturbed_quadratic", {}, rng=0)


def started(problem, rng: int = 1, budget: Budget = UNLIMITED, **params: Any):
    ges = GuidedES(rng=rng, **params)
    oracle = Oracle(problem, budget, np.random.default_rng(2))
    ges.start(oracle.x0)
    return ges, oracle


# --- GES's own cost ---------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 10])
@pytest.mark.parametrize("n", [1_000, 10_000])
def test_ges_step(benchmark, n: int, k: int) -> None:
    """One GES iteration on an objective that costs next to nothing: sampling, the QR of the
    guiding subspace, the antithetic estimate and the SGD update, i.e. GES's own overhead."""
    shift = np.linspace(-1.0, 1.0, n)
    problem = FunctionProblem(
        lambda X: 0.5 * np.einsum("ij,ij->i", X - shift, X - shift),
        lambda x: (x - shift) + 0.5 * np.abs(x - shift).mean(),
        np.zeros(n),
        vectorized=True,
    )
    ges, oracle = started(problem, k=k, lr=0.05)
    for _ in range(k):  # fill the guiding subspace, as after warm-up
        ges.step(oracle)
    benchmark.group = f"ges-step-n{n}"
    benchmark.extra_info.update(n=n, k=k)
    benchmark(ges.step, oracle)
    assert np.isfinite(ges.x).all() and ges._held == k


# --- the hot path on Fig. 1 ----------------------------------------------------------------


def test_fig1_ges_iteration(benchmark, fig1_problem) -> None:
    """One full GES iteration (default hyperparameters) through the oracle on Fig. 1."""
    ges, oracle = started(fig1_problem)
    ges.step(oracle)
    benchmark.group = "fig1-hot-path-n1000"
    benchmark(ges.step, oracle)
    assert oracle.evaluations > 2 and oracle.gradient_calls > 1


def test_fig1_bare_linear_algebra(benchmark, fig1_problem) -> None:
    """The unavoidable work of that iteration, written out with the problem's precomputed
    ``H = A'A/m`` and ``c = A'b/m``: the two perturbed losses as one product of a 2-row block
    with H, and the surrogate gradient (true gradient, fixed bias, fresh random direction)."""
    p = fig1_problem
    H, c = p.H, p.c
    rng = np.random.default_rng(3)
    x = 0.01 * rng.standard_normal(p.dim)
    eps = 0.003 * rng.standard_normal(p.dim)

    def bare() -> tuple[np.ndarray, np.ndarray]:
        X = np.stack([x + eps, x - eps])
        losses = 0.5 * np.einsum("ij,ij->i", X @ H, X) - X @ c
        grad = H @ x - c
        nu = rng.standard_normal(p.dim)
        surrogate = grad + (p.bias_direction + 1.5 * nu / np.linalg.norm(nu)) * np.linalg.norm(grad)
        return losses, surrogate

    benchmark.group = "fig1-hot-path-n1000"
    losses, surrogate = benchmark(bare)
    assert losses.shape == (2,) and surrogate.shape == (p.dim,)


# --- the runner's bookkeeping ---------------------------------------------------------------

RUNNER_ITERATIONS = 200


def test_steps_called_directly(benchmark, fig1_problem) -> None:
    """200 GES iterations on Fig. 1, calling ``step`` in a bare loop."""

    def setup():
        return started(fig1_problem), {}

    def loop(ges: GuidedES, oracle: Oracle) -> None:
        for _ in range(RUNNER_ITERATIONS):
            ges.step(oracle)

    benchmark.group = "runner-overhead-n1000"
    benchmark.pedantic(loop, setup=setup, rounds=10)


def test_steps_driven_by_the_runner(benchmark, fig1_problem) -> None:
    """The same 200 iterations through the runner's loop: budget checks, divergence checks and
    the trace schedule (sparse here, so what is measured is bookkeeping, not logging)."""
    spec = TrialSpec(
        experiment="bench",
        problem="perturbed_quadratic",
        problem_params={},
        problem_label="Fig. 1",
        optimizer="guided_es",
        optimizer_params={},
        label="GES",
        budget=Budget("iterations", RUNNER_ITERATIONS),
        repetition=0,
        trace=TraceSchedule(dense=1, per_decade=1),
    )

    def setup():
        ges, oracle = started(fig1_problem, budget=spec.budget)
        recorder = TraceRecorder(spec, fig1_problem, oracle, ges, np.random.default_rng(4))
        return (ges, oracle, recorder), {}

    def run(ges: GuidedES, oracle: Oracle, recorder: TraceRecorder) -> None:
        drive(ges, oracle, recorder.after_iteration)

    benchmark.group = "runner-overhead-n1000"
    benchmark.pedantic(run, setup=setup, rounds=10)


# --- the store and the report -----------------------------------------------------------------

FIG1_SCHEDULE = TraceSchedule(dense=50, per_decade=60)


def synthetic_result(spec: TrialSpec, rng: np.random.Generator, limit: int = 10_000) -> TrialResult:
    """A done trial with the trace a Fig. 1-sized trial logs (about 190 points)."""
    its = []
    for it in FIG1_SCHEDULE.checkpoints():
        if it >= limit:
            break
        its.append(it)
    iteration = np.array([*its, limit], dtype=float)
    rate = {"Guided ES": 4e-4, "Vanilla ES": 2e-4}.get(spec.label, 1e-4)
    excess = 0.26 * np.exp(-rate * iteration) * np.exp(0.05 * rng.standard_normal(len(iteration)))
    trace = {
        "iteration": iteration,
        "evaluations": 2 * iteration,
        "gradient_calls": iteration,
        "cost": iteration,
        "wall_time": 5e-3 * iteration,
        "loss": excess + 0.24,
        "excess_loss": excess,
        "alignment": 0.48 * np.exp(-iteration / 1000) + 0.02,
    }
    assert set(trace) == set(TRACE_COLUMNS)
    return TrialResult(
        spec=spec,
        status="done",
        error=None,
        started=1.7e9,
        wall_time=50.0,
        iterations=limit,
        evaluations=2 * limit,
        gradient_calls=limit,
        final_loss=float(trace["loss"][-1]),
        trace=trace,
        provenance={"host": "bench"},
    )


SYNTHETIC_SPEC: dict[str, Any] = {
    "name": "synthetic",
    "repetitions": 25,
    "budget": {"kind": "iterations", "limit": 10_000},
    "trace": {"dense": 50, "per_decade": 60},
    "problems": [{"name": "perturbed_quadratic", "label": "Perturbed quadratic (n=1000)"}],
    "optimizers": [
        {"name": "surrogate_descent", "label": "Gradient descent"},
        {"name": "vanilla_es", "label": "Vanilla ES"},
        {"name": "guided_es", "label": "Guided ES"},
        {"name": "guided_es", "label": "Guided ES alpha=0.25", "params": {"alpha": 0.25}},
    ],
}


def test_store_write_per_trial(benchmark, tmp_path) -> None:
    """Writing one Fig. 1-sized trial (its row and ~190 trace rows) in one transaction."""
    experiment = parse_experiment(SYNTHETIC_SPEC)
    rng = np.random.default_rng(0)
    results = [synthetic_result(spec, rng) for spec in experiment.trials()]
    pending = iter(results)
    with ResultStore(tmp_path, create=True) as store:
        benchmark.pedantic(lambda: store.write(next(pending)), rounds=50)
        written = store.db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert written == len(results) - sum(1 for _ in pending) > 0  # one row per write


def write_run(run_dir: Path) -> int:
    """A 100-trial run folder (4 methods x 25 repetitions), written through the real store."""
    experiment = parse_experiment(SYNTHETIC_SPEC)
    rng = np.random.default_rng(0)
    with ResultStore(run_dir, create=True) as store:
        store.set_meta("experiment", asdict(experiment))
        store.set_meta("trial_ids", [t.id for t in experiment.trials()])
        for spec in experiment.trials():
            store.write(synthetic_result(spec, rng))
    return len(experiment.trials())


@pytest.mark.slow  # about 10-25 s: most of it drawing figures and bootstrapping curves
def test_report_build_for_100_trials(benchmark, tmp_path) -> None:
    assert write_run(tmp_path) == 100
    written = benchmark.pedantic(build_report, args=(tmp_path,), rounds=1, iterations=1)
    assert (tmp_path / "report.html") in written
