"""The driver's cost against the work it drives: each benchmark measures a ratio inside one run
and records it in ``extra_info["ratios"]``, which ``gesbench bench-compare`` tracks.

- ``run_trial`` against a bare NumPy Guided ES loop calling the same problem methods (the
  biased quadratic; building the problem is counted on both sides), per iteration, with BLAS
  held at one thread for all rounds as a run holds it. Targets:
  <= 1.2x at n = 10 and 100 (2,000 iterations), <= 1.15x at n = 1000 (1,000 iterations), with
  the default trace schedule. Also tracked: ``run_trial`` against the bare loop doing what the
  trace must at that schedule (the driver's own cost, same targets); recorded beside them, that
  loop with its calls going through an oracle (counted and checked as an optimizer's are): the
  part of the ratio that no driver checking every call can remove.
- The cost of a trial outside ``run_trial``: ``run_experiment`` (what ``gesbench run`` calls,
  in-process) on 300 trials of n = 10 x 200 iterations, sequential, minus the summed
  ``run_trial`` times the store records, per trial. Target: < 1 ms.
- Speedups with 2 workers over sequential: the same 300 small trials on the process pool, and
  120 trials of n = 100 x 2,000 iterations on the process pool and on a local Dask cluster
  (started and stopped inside the timing, as ``gesbench run --executor dask`` does), each
  case from no fork server, as in a fresh ``gesbench run``: its first round starts one. Target:
  >= 1.8x.

Targets are documented (README, "Speed and quality tracking"), never asserted: a shared or
busy machine says nothing about the code. Within a benchmark, the two sides run one after the
other in every round (the reference in the round's ``setup``, outside the timer), so drift in
the machine's speed hits both; a ratio is the median of one side's rounds over the other's.
Everything but the ``run_trial`` cases takes seconds to minutes and runs only with
``--benchmark-enable``; in the default run the ``run_trial`` cases run once, shortened, and check
that the bare loop is the same algorithm as the driven one.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gesbench.core.budget import Budget
from gesbench.core.oracle import Oracle
from gesbench.core.registry import problems
from gesbench.run.experiment import run_experiment
from gesbench.run.instances import INSTANCES
from gesbench.run.trial import blas_pinned, run_trial
from gesbench.spec.experiment import Experiment, parse_experiment
from gesbench.spec.trial import TrialSpec
from gesbench.store.reader import load_results

from fork_server import stop_fork_server

# Guided ES's defaults, written out for the bare loop (k = 1, one antithetic pair, SGD).
SIGMA, ALPHA, BETA, LR = 0.1, 0.5, 2.0, 0.2


def machine_load() -> dict[str, Any]:
    """The context a ratio needs to be read: how busy the machine was (a 2-worker speedup
    measured with the load average above the core count says nothing about the code)."""
    return {"cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}


def ratio(
    value: float, values: list[float], *, target: float, higher_is_better: bool = False
) -> dict[str, Any]:
    """A tracked ratio as bench-compare reads it: its value, each round's (whose spread widens
    the allowed change) and its direction; the target is for the reader only."""
    return {
        "value": value,
        "values": values,
        "lower_is_better": not higher_is_better,
        "target": target,
    }


def needs_enabled(benchmark: Any) -> None:
    if benchmark.disabled:
        pytest.skip("takes seconds to minutes: runs only with --benchmark-enable")


def interleaved(
    benchmark: Any, timed: Callable[[], Any], references: dict[str, Callable[[], Any]], rounds: int
) -> tuple[list[float], dict[str, list[float]]]:
    """Benchmark ``timed``, running each of ``references`` before each round outside the timer;
    all sides' round times, in round order (``timed``'s empty when benchmarks are disabled)."""
    reference_times: dict[str, list[float]] = {name: [] for name in references}

    def setup() -> tuple[tuple[()], dict[str, Any]]:
        for name, reference in references.items():
            t0 = time.perf_counter()
            reference()
            reference_times[name].append(time.perf_counter() - t0)
        return (), {}

    benchmark.pedantic(timed, setup=setup, rounds=rounds, iterations=1)
    own = list(benchmark.stats.stats.data) if benchmark.stats is not None else []
    return own, reference_times


def median_ratio(top: list[float], bottom: list[float]) -> tuple[float, list[float]]:
    """The ratio of the medians, and each round's ratio (NaN and [] when ``top`` is empty)."""
    if not top:
        return float("nan"), []
    per_round = [t / b for t, b in zip(top, bottom, strict=True)]
    return statistics.median(top) / statistics.median(bottom), per_round


# --- run_trial against a bare loop ------------------------------------------------------------


def trial_spec(n: int, iterations: int) -> TrialSpec:
    return TrialSpec(
        problem="biased_quadratic",
        problem_params={"n": n},
        optimizer="guided_es",
        optimizer_params={},
        budget=Budget("iterations", iterations),
        repetition=0,
        experiment="bench",
        label="Guided ES",
    )  # default trace schedule


def bare_guided_es(
    spec: TrialSpec, logging: bool = False, checked: bool = False
) -> tuple[float, list[float]]:
    """Guided ES (k = 1, one pair, SGD) as a bare NumPy loop on the spec's problem instance and
    seed streams, calling the problem's ``surrogate_grad`` and batched ``loss`` as the oracle
    would; builds the problem, as ``run_trial`` does. With ``logging``, it also does what the
    trace recorder must at the spec's checkpoints (the loss at x, and the alignment of a
    surrogate drawn from the point's own generator with the true gradient), and nothing else.
    With ``checked``, its loss and surrogate calls go through an :class:`Oracle` (counted,
    shapes and finiteness checked), as an optimizer's must. Returns the final loss and the
    logged alignments."""
    streams = spec.streams()
    problem = problems.create(spec.problem, spec.problem_params, rng=streams.problem)
    rng, noise = streams.optimizer, streams.noise
    oracle = Oracle(problem, spec.budget, noise) if checked else None
    key = int(streams.logging.integers(2**63))  # as the recorder keys each point's generator
    checkpoints = spec.trace.checkpoints()
    due, last = next(checkpoints), int(spec.budget.limit)
    alignments: list[float] = []
    n = problem.dim
    x = np.array(problem.x0, dtype=float)
    full, guided = SIGMA * np.sqrt(ALPHA / n), SIGMA * np.sqrt(1 - ALPHA)
    step = LR * BETA / (2 * SIGMA**2)
    u = None  # the guiding direction: the last nonzero surrogate, normalised
    for iteration in range(last + 1):
        if logging and (iteration >= due or iteration == last):  # the last point is always logged
            problem.loss(x[None, :])
            s, d = problem.surrogate_and_true_grad(x, np.random.default_rng([key, iteration]))
            denom = np.linalg.norm(s) * np.linalg.norm(d)  # 0 at the optimum: NaN, as logged
            alignments.append(float(s @ d) / float(denom) if denom > 0 else np.nan)
            while due <= iteration:
                due = next(checkpoints)
        if iteration == last:
            break
        surrogate = problem.surrogate_grad(x, noise) if oracle is None else oracle.surrogate_grad(x)
        norm = np.linalg.norm(surrogate)
        if norm > 0:  # zero at the optimum: Guided ES keeps its last direction
            u = surrogate / norm
        if u is None:  # no direction yet: an isotropic draw
            eps = SIGMA / np.sqrt(n) * rng.standard_normal(n)
        else:
            z = rng.standard_normal(n + 1)
            eps = full * z[:n] + guided * z[n] * u
        points = np.stack([x + eps, x - eps])
        f = problem.loss(points) if oracle is None else oracle.loss(points)
        x = x - step * (f[0] - f[1]) * eps
    return float(problem.loss(x[None, :])[0]), alignments


@pytest.mark.parametrize(
    ("n", "iterations", "target"), [(10, 2000, 1.2), (100, 2000, 1.2), (1000, 1000, 1.15)]
)
def test_run_trial_against_a_bare_loop(benchmark: Any, n: int, iterations: int, target: float):
    if benchmark.disabled:  # the default run: the same code path, shortened
        if n > 100:
            pytest.skip("n = 1000 builds a 1000 x 1000 rotation: runs with --benchmark-enable")
        iterations = 100
    spec = trial_spec(n, iterations)
    finals: dict[str, float] = {}
    logged: dict[str, np.ndarray] = {}
    losses: dict[str, np.ndarray] = {}

    def driven() -> None:
        INSTANCES.clear()  # so that run_trial builds the problem too, as the bare loop does
        result = run_trial(spec)
        assert result.status == "done", result.error
        finals["run_trial"] = result.final_loss
        logged["run_trial"] = result.trace["alignment"]
        losses["run_trial"] = result.trace["loss"]

    def bare() -> None:
        finals["bare"] = bare_guided_es(spec)[0]

    def bare_logging() -> None:
        finals["bare_logging"], alignments = bare_guided_es(spec, logging=True)
        logged["bare_logging"] = np.array(alignments)

    def bare_checked() -> None:
        finals["bare_checked"] = bare_guided_es(spec, logging=True, checked=True)[0]

    benchmark.group = f"run-trial-vs-bare-n{n}"
    # BLAS at one thread, set once, as a run holds it for all its trials (in each worker, or
    # once in a sequential run): run_trial then skips setting it (milliseconds, counted in the
    # cost per trial outside it), and the bare loop runs under the same limit.
    with blas_pinned():
        own, reference = interleaved(
            benchmark,
            driven,
            {"bare": bare, "logging": bare_logging, "checked": bare_checked},
            rounds=15 if n <= 100 else 8,
        )
    # The same algorithm on the same streams: the same trajectory, up to rounding, and the same
    # logged alignments. If Guided ES changes how it draws its perturbations, or the recorder
    # how it logs, the bare loop must follow it.
    assert finals["bare"] == pytest.approx(finals["run_trial"], rel=1e-6, abs=1e-15), finals
    assert finals["bare_logging"] == finals["bare_checked"] == finals["bare"]
    # (where the loss is at round-off the gradient is too, and its direction is noise)
    above = losses["run_trial"] > 1e-12
    assert len(logged["bare_logging"]) == len(logged["run_trial"]) and above[:50].all()
    np.testing.assert_allclose(logged["bare_logging"][above], logged["run_trial"][above], rtol=1e-6)
    value, per_round = median_ratio(own, reference["bare"])
    # against the bare loop that logs what the trace must: the driver's own cost
    driver, driver_per_round = median_ratio(own, reference["logging"])
    benchmark.extra_info.update(
        **machine_load(),
        n=n,
        iterations=iterations,
        run_trial_per_iteration_s=statistics.median(own or [np.nan]) / iterations,
        bare_per_iteration_s=statistics.median(reference["bare"]) / iterations,
        # what logging alone costs the bare loop: the part of the ratio no driver can remove
        bare_logging_over_bare=median_ratio(reference["logging"], reference["bare"])[0],
        # and with the oracle's checks on every call too: what no driver that checks can remove
        bare_checked_logging_over_bare=median_ratio(reference["checked"], reference["bare"])[0],
        ratios={
            "run_trial_over_bare": ratio(value, per_round, target=target),
            "run_trial_over_bare_logging": ratio(driver, driver_per_round, target=target),
        },
    )


# --- whole experiments ------------------------------------------------------------------------


def experiment(repetitions: int, n: int, iterations: int) -> Experiment:
    return parse_experiment(
        {
            "name": f"bench-n{n}",
            "repetitions": repetitions,
            "budget": {"kind": "iterations", "limit": iterations},
            "problems": [{"name": "biased_quadratic", "params": {"n": n}}],
            "optimizers": [{"name": "guided_es"}],
        }
    )


SMALL = (300, 10, 200)  # 300 trials of n = 10 x 200 iterations
LARGE = (120, 100, 2000)  # 120 trials of n = 100 x 2,000 iterations


class Runs:
    """Fresh run folders (a folder already holding the trials would skip them all)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="gesbench-bench-"))
        self.count = 0

    def new(self) -> Path:
        self.count += 1
        return self.root / f"run{self.count}"

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def runs():
    folders = Runs()
    yield folders
    folders.close()


def run_all(exp: Experiment, run_dir: Path, **options: Any) -> None:
    counts = run_experiment(exp, run_dir, progress=False, **options)
    assert counts == {"done": exp.trial_count}, counts


def test_cost_per_trial_outside_run_trial(benchmark: Any, runs: Runs) -> None:
    needs_enabled(benchmark)
    exp = experiment(*SMALL)
    folders: list[Path] = []

    def sequential() -> None:
        folders.append(runs.new())
        run_all(exp, folders[-1])

    benchmark.group = "driver-cost"
    benchmark.pedantic(sequential, rounds=5, iterations=1)
    # Read back after the timing: loading 300 traces takes about 0.1 s, a third of a
    # millisecond per trial that run_experiment never spends.
    inside = [float(load_results(folder).trials["wall_time"].sum()) for folder in folders]
    # per round: the run's time minus its trials' run_trial times, per trial, in ms
    per_round = [
        max(total - within, 1e-9) / exp.trial_count * 1e3
        for total, within in zip(benchmark.stats.stats.data, inside, strict=True)
    ]
    outside_ms = statistics.median(per_round)
    benchmark.extra_info.update(
        **machine_load(),
        trials=exp.trial_count,
        outside_run_trial_per_trial_s=outside_ms / 1e3,
        ratios={
            # per-trial cost outside run_trial over one millisecond (the target is < 1)
            "outside_run_trial_per_trial_ms": ratio(outside_ms, per_round, target=1.0),
        },
    )


@pytest.mark.parametrize(
    ("size", "executor", "rounds"),
    [(SMALL, "processes", 5), (LARGE, "processes", 5), (LARGE, "dask", 5)],
    ids=["300-small-processes", "120-large-processes", "120-large-dask"],
)
def test_two_workers_against_sequential(
    benchmark: Any, runs: Runs, size: tuple[int, int, int], executor: str, rounds: int
) -> None:
    needs_enabled(benchmark)
    # As in the fresh process of a `gesbench run`: the executor starts a fork server that
    # imports what its workers need. (One started earlier in this process for the other
    # executor made each Dask worker import Dask itself, about 0.2 s of CPU per worker.)
    stop_fork_server()
    if executor == "dask":
        pytest.importorskip("distributed")
    exp = experiment(*size)

    def parallel() -> None:
        run_all(exp, runs.new(), workers=2, executor=executor)

    def sequential() -> None:
        run_all(exp, runs.new())

    benchmark.group = f"two-workers-{size[0]}-trials-n{size[1]}"
    own, reference = interleaved(benchmark, parallel, {"sequential": sequential}, rounds=rounds)
    speedup, per_round = median_ratio(reference["sequential"], own)
    benchmark.extra_info.update(
        **machine_load(),
        trials=exp.trial_count,
        executor=executor,
        workers=2,
        sequential_s=statistics.median(reference["sequential"]),
        parallel_s=statistics.median(own),
        ratios={"speedup": ratio(speedup, per_round, target=1.8, higher_is_better=True)},
    )
