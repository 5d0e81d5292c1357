"""What makes trials cheap to run, checked for behaviour: the per-process instance cache, BLAS
held at one thread once per process, alignment logging from one gradient computation, and the
numbers all of that must leave unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from functools import partial
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from gesbench import load_results, parse_experiment
from gesbench.core.budget import Budget
from gesbench.core.problem import Problem, frozen
from gesbench.core.registry import problems
from gesbench.run import trial as trial_module
from gesbench.run.experiment import run_experiment
from gesbench.run.instances import INSTANCES, InstanceCache, fresh_copy
from gesbench.run.trial import blas_pinned, run_trial
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec


def spec_for(problem: str, params: dict[str, Any], repetition: int = 0, **optimizer: Any):
    return TrialSpec(
        problem=problem,
        problem_params=params,
        optimizer="guided_es",
        optimizer_params=optimizer,
        budget=Budget("iterations", 40),
        repetition=repetition,
        trace=TraceSchedule(dense=3, per_decade=5),
    )


def numbers(result) -> pd.DataFrame:
    return pd.DataFrame(result.trace).drop(columns="wall_time")


# --- the numbers stay those of the code before these changes ---------------------------------

# Alignment and loss of a small trial, as the harness logged them before the logging hook,
# the instance cache and the faster driver loop (float.hex, so equality is bit for bit).
RECORDED = {
    ("biased_quadratic", (("drift", 0.5), ("n", 12))): (
        ["0x1.77dc4c3b61affp-1", "0x1.237603a3d33b9p-1", "0x1.1f874da4544ebp-1",
         "0x1.a6e09a612e7b0p-2", "0x1.72cf0a13dca14p-2", "0x1.0e4e9d51d2e73p-1",
         "0x1.677afc0ee9387p-1", "0x1.44b45ba277facp-4", "0x1.5780dc3c7d9d2p-3",
         "0x1.8a19ef37fb9f3p-3"],
        "0x1.84bdade0c0516p-6",
    ),
}  # fmt: skip


@pytest.mark.parametrize("key", list(RECORDED))
@pytest.mark.parametrize("cache", ["cold", "warm"])
def test_logged_alignment_and_losses_are_those_recorded_before(key, cache):
    name, params = key
    spec = spec_for(name, dict(params), repetition=3)
    INSTANCES.clear()
    if cache == "warm":
        run_trial(spec_for(name, dict(params), repetition=3, lr=0.1))  # same instance
    result = run_trial(spec)
    alignment, final = RECORDED[key]
    assert result.status == "done", result.error
    assert [float(v).hex() for v in result.trace["alignment"]] == alignment
    assert result.final_loss.hex() == final


@pytest.mark.parametrize(
    ("name", "params"),
    [("biased_quadratic", {"n": 9, "drift": 1.0}), ("perturbed_quadratic", {"n": 9, "m": 15})],
)
def test_the_quadratics_hook_returns_what_the_two_calls_return(name, params):
    problem = problems.create(name, params, rng=4)
    x = np.linspace(-1.0, 1.0, 9)
    surrogate, true = problem.surrogate_and_true_grad(x, np.random.default_rng(7))
    assert np.array_equal(surrogate, problem.surrogate_grad(x, np.random.default_rng(7)))
    assert np.array_equal(true, problem.true_grad(x))


class CountingQuadratic(Problem):
    """||x - 1||^2 / 2, counting its gradient computations (class-wide, reset by the test)."""

    defaults: ClassVar[dict[str, Any]] = {"n": 4}
    calls: ClassVar[dict[str, int]] = {}

    def _build(self, rng):
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))

    def loss(self, X):
        return 0.5 * np.sum((X - 1.0) ** 2, axis=1)

    def true_grad(self, x):
        self.calls["true_grad"] = self.calls.get("true_grad", 0) + 1
        return x - 1.0

    def surrogate_grad(self, x, rng):
        self.calls["surrogate"] = self.calls.get("surrogate", 0) + 1
        return x - 1.0 + 0.1 * rng.standard_normal(self.dim)


class HookedQuadratic(CountingQuadratic):
    """The same, with the hook: one gradient computation gives both."""

    def surrogate_and_true_grad(self, x, rng):
        self.calls["hook"] = self.calls.get("hook", 0) + 1
        true = x - 1.0
        return true + 0.1 * rng.standard_normal(self.dim), true


@pytest.mark.parametrize("cls", [CountingQuadratic, HookedQuadratic])
def test_a_logged_point_costs_at_most_one_true_gradient(cls):
    with problems.registered("test_counting", cls):
        spec = spec_for("test_counting", {}, lr=0.05)
        CountingQuadratic.calls.clear()
        INSTANCES.clear()
        result = run_trial(spec)
    logged = len(result.trace["iteration"])
    calls = CountingQuadratic.calls
    assert result.status == "done", result.error
    assert np.isfinite(result.trace["alignment"]).all()
    if cls is HookedQuadratic:  # the hook alone: no separate gradient at all
        assert calls.get("hook") == logged and "true_grad" not in calls
    else:
        assert calls["true_grad"] == logged
    # Guided ES draws one surrogate per iteration; logging one per logged point at most.
    assert calls.get("surrogate", 0) == result.iterations + (
        0 if cls is HookedQuadratic else logged
    )


def test_both_ways_give_the_same_alignment_bit_for_bit():
    traces = []
    for cls in (CountingQuadratic, HookedQuadratic):
        with problems.registered("test_counting", cls):
            INSTANCES.clear()
            traces.append(numbers(run_trial(spec_for("test_counting", {}, lr=0.05))))
    pd.testing.assert_frame_equal(traces[0], traces[1], check_exact=True)


# --- the instance cache -----------------------------------------------------------------------


class StatefulQuadratic(Problem):
    """A problem that changes as it is used: a call counter that shifts its surrogate, a
    writable array it updates, and a generator of its own. A cached copy handed to a second
    trial must start where a freshly built instance does."""

    defaults: ClassVar[dict[str, Any]] = {"n": 5}
    builds: ClassVar[list[int]] = []

    def _build(self, rng):
        self.builds.append(1)
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))
        self.target = frozen(rng.standard_normal(self.dim))
        self.drift = np.zeros(self.dim)  # writable, changed by every surrogate call
        self.own_rng = np.random.default_rng(int(rng.integers(2**31)))
        self.calls = 0

    def loss(self, X):
        self.calls += 1
        return 0.5 * np.sum((X - self.target) ** 2, axis=1)

    def true_grad(self, x):
        return x - self.target

    def surrogate_grad(self, x, rng):
        self.drift += 1e-3 * self.own_rng.standard_normal(self.dim)
        return (
            x - self.target + self.drift + 1e-4 * self.calls + 0.1 * rng.standard_normal(self.dim)
        )


@pytest.fixture
def stateful():
    with problems.registered("test_stateful", StatefulQuadratic):
        StatefulQuadratic.builds.clear()
        INSTANCES.clear()
        yield "test_stateful"
    INSTANCES.clear()


def test_a_cached_instance_behaves_exactly_as_a_fresh_one(stateful):
    first, second = spec_for(stateful, {}), spec_for(stateful, {}, lr=0.1)  # paired trials
    INSTANCES.clear()
    run_trial(first)
    INSTANCES.clear()
    fresh = numbers(run_trial(second))
    assert StatefulQuadratic.builds == [1, 1]
    INSTANCES.clear()
    run_trial(first)
    hits = INSTANCES.hits
    cached = numbers(run_trial(second))
    assert INSTANCES.hits == hits + 1 and StatefulQuadratic.builds == [1, 1, 1]  # not rebuilt
    pd.testing.assert_frame_equal(cached, fresh, check_exact=True)


def test_a_trial_gets_a_copy_sharing_only_what_cannot_change(stateful):
    cache = InstanceCache()
    spec = spec_for(stateful, {})
    built = cache.get(spec, lambda: problems.create(stateful, {}, rng=1))
    again = cache.get(spec, lambda: pytest.fail("built twice"))
    assert isinstance(built, StatefulQuadratic) and isinstance(again, StatefulQuadratic)
    assert again is not built
    assert again.target is built.target  # read-only data: shared
    assert again.drift is not built.drift  # state: copied
    built.drift += 1.0  # what the first trial did to its instance
    kept = cache.get(spec, lambda: pytest.fail("built twice"))
    assert isinstance(kept, StatefulQuadratic)
    assert not again.drift.any() and not kept.drift.any()


def test_the_cache_is_bounded(stateful):
    cache = InstanceCache(max_instances=2)
    for repetition in range(3):
        spec = spec_for(stateful, {}, repetition=repetition)
        cache.get(spec, partial(problems.create, stateful, {}, rng=repetition))
    assert len(cache) == 2 and cache.nbytes > 0
    small = InstanceCache(max_bytes=8)  # no instance fits: built every time, never kept
    for _ in range(2):
        small.get(spec_for(stateful, {}), lambda: problems.create(stateful, {}, rng=0))
    assert len(small) == 0 and small.misses == 2


class LockedQuadratic(CountingQuadratic):
    """Holds a lock, which cannot be deep-copied."""

    def _build(self, rng):
        super()._build(rng)
        self.lock = threading.Lock()


def test_a_problem_that_cannot_be_copied_is_built_for_every_trial():
    cache = InstanceCache()
    built: list[Problem] = []

    def build() -> Problem:
        built.append(LockedQuadratic(rng=0))
        return built[-1]

    assert fresh_copy(LockedQuadratic(rng=0)) is None
    spec = spec_for("test_locked", {})
    first, second = cache.get(spec, build), cache.get(spec, build)
    assert len(built) == 2 and first is not second and len(cache) == 0


# --- BLAS threads -----------------------------------------------------------------------------


def blas_threads() -> int:
    return max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"), default=1)


class ThreadReporting(CountingQuadratic):
    """Reports, as a final metric, how many threads BLAS had while the trial ran."""

    def final_metrics(self, x):
        return {"blas_threads": float(blas_threads())}


@pytest.fixture
def two_blas_threads():
    if not any(i["user_api"] == "blas" for i in threadpool_info()):
        pytest.skip("no BLAS library loaded")
    with threadpool_limits(limits=2), problems.registered("test_threads", ThreadReporting):
        assert blas_threads() == 2
        yield


def test_a_direct_run_trial_holds_blas_at_one_thread_and_restores_it(two_blas_threads):
    result = run_trial(spec_for("test_threads", {}))
    assert result.metrics == {"blas_threads": 1.0}
    assert blas_threads() == 2


def test_pinned_blas_is_set_once_for_all_trials(two_blas_threads, monkeypatch):
    with blas_pinned():
        monkeypatch.setattr(trial_module, "threadpool_limits", None)  # would fail if called
        results = [run_trial(spec_for("test_threads", {}, repetition=r)) for r in range(3)]
        monkeypatch.undo()
    assert [r.metrics for r in results] == [{"blas_threads": 1.0}] * 3
    assert blas_threads() == 2


PLUGIN = """
import numpy as np
from threadpoolctl import threadpool_info

from gesbench import Problem
from gesbench.core.problem import frozen


class ThreadReporting(Problem):
    defaults = {"n": 4}

    def _build(self, rng):
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))

    def loss(self, X):
        return 0.5 * np.sum((X - 1.0) ** 2, axis=1)

    def surrogate_grad(self, x, rng):
        return x - 1.0 + 0.1 * rng.standard_normal(self.dim)

    def final_metrics(self, x):
        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        return {"blas_threads": float(max(blas, default=1))}
"""


@pytest.fixture
def thread_plugin(tmp_path, monkeypatch):
    """The plugin above, installed where worker processes find it too."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "gesbench_thread_plugin.py").write_text(PLUGIN)
    info = root / "gesbench_thread_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: gesbench-thread-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[gesbench.problems]\ntest_thread_plugin = gesbench_thread_plugin:ThreadReporting\n"
    )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    )
    return "test_thread_plugin"


@pytest.mark.parametrize(
    ("workers", "executor"), [(1, "sequential"), (2, "processes"), (2, "dask")]
)
def test_every_trial_of_a_run_sees_one_blas_thread(tmp_path, thread_plugin, workers, executor):
    if executor == "dask":
        pytest.importorskip("distributed")
    spec = {
        "name": "threads",
        "repetitions": 3,
        "budget": {"kind": "iterations", "limit": 20},
        "problems": [{"name": thread_plugin}],
        "optimizers": [{"name": "vanilla_es"}],
    }
    with threadpool_limits(limits=2):
        run_experiment(
            parse_experiment(spec), tmp_path, workers=workers, executor=executor, progress=False
        )
        after = blas_threads()
    trials = load_results(tmp_path).trials
    assert (trials["status"] == "done").all(), trials["error"].tolist()
    assert (trials["final_blas_threads"] == 1.0).all()
    if any(i["user_api"] == "blas" for i in threadpool_info()):
        assert after == 2  # the run restored the caller's setting


# --- the end of a run -------------------------------------------------------------------------


def test_a_run_prints_its_throughput(tmp_path, capsys):
    spec = {
        "name": "throughput",
        "repetitions": 2,
        "budget": {"kind": "iterations", "limit": 20},
        "problems": [{"name": "biased_quadratic", "params": {"n": 5}}],
        "optimizers": [{"name": "guided_es"}],
    }
    run_experiment(parse_experiment(spec), tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "ran 2 trial(s) in" in err and "trials/s" in err
    run_experiment(parse_experiment(spec), tmp_path, progress=True)  # nothing left to run
    assert "trials/s" not in capsys.readouterr().err


def test_a_sequential_run_leaves_no_instances_behind(tmp_path):
    spec = {
        "name": "leftovers",
        "repetitions": 2,
        "budget": {"kind": "iterations", "limit": 10},
        "problems": [{"name": "biased_quadratic", "params": {"n": 5}}],
        "optimizers": [{"name": "guided_es"}, {"name": "vanilla_es"}],
    }
    INSTANCES.clear()
    hits = INSTANCES.hits
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    assert INSTANCES.hits == hits + 2  # the second method re-used each repetition's instance
    assert len(INSTANCES) == 0 and INSTANCES.nbytes == 0


UNGUARDED_SCRIPT = """
import sys
from gesbench import parse_experiment
from gesbench.run.experiment import run_experiment

print("script body ran", flush=True)
spec = {{
    "name": "unguarded", "repetitions": 2, "budget": {{"kind": "iterations", "limit": 10}},
    "problems": [{{"name": "biased_quadratic", "params": {{"n": 4}}}}],
    "optimizers": [{{"name": "guided_es"}}],
}}
counts = run_experiment(
    parse_experiment(spec), {run_dir!r}, workers=2, executor="processes", progress=False
)
print(dict(counts), flush=True)
"""


def test_workers_do_not_import_the_drivers_main_module(tmp_path):
    """A script without an ``if __name__ == "__main__"`` guard runs once: spawned workers used
    to import it again (each starting a run of its own, which failed), and paid its imports."""
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT.format(run_dir=str(tmp_path / "run")))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("script body ran") == 1
    assert "{'done': 2}" in done.stdout


def test_instances_differing_in_a_parameter_outside_the_seed_are_not_shared():
    """dtype does not enter the instance seed (both precisions are paired on one instance), but
    a float32 instance is another object than a float64 one."""
    double = spec_for("biased_quadratic", {"n": 6})
    single = spec_for("biased_quadratic", {"n": 6, "dtype": "float32"})
    assert double.instance() == single.instance()
    INSTANCES.clear()
    fresh = numbers(run_trial(single))
    INSTANCES.clear()
    run_trial(double)
    after_double = numbers(run_trial(single))
    pd.testing.assert_frame_equal(after_double, fresh, check_exact=True)
