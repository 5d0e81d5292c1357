"""How trials become Dask tasks, on real local clusters (2 single-threaded worker processes):
tasks grow from one trial to several once trial durations are known, each trial's result is
the one it gives alone, and a fault in a task of several trials is charged to its own trial."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from test_faults import fragile_experiment, fragile_plugin  # noqa: F401 - a fixture used below

from gesbench.run.executors import dask_cluster, open_executor
from gesbench.run.executors.dask_cluster import IN_FLIGHT, TASK_SECONDS, Session, chunk_size
from gesbench.run.executors.timed import died, run_timed
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

from spec_factory import small_spec

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

THREADS = 2
AT = IN_FLIGHT * THREADS + 4
"""Where the fragile trial goes among quick ones: in the first task of several trials (the
first IN_FLIGHT * THREADS tasks are sent before any trial finished, a trial each)."""


@pytest.fixture(scope="module")
def scheduler(fragile_plugin) -> Iterator[str]:  # noqa: F811 - the imported fixture
    with distributed.LocalCluster(
        n_workers=THREADS, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def quick_trials(count: int) -> list[TrialSpec]:
    """``count`` Guided ES trials of a few milliseconds each."""
    spec = small_spec(repetitions=count, optimizers=[{"name": "guided_es", "label": "GES"}])
    return parse_experiment(spec).trials()


def fragile_among_quick_trials(control: Path, count: int = 40) -> list[TrialSpec]:
    """``count`` quick trials with the fragile one (doing what ``control`` says) at :data:`AT`."""
    fragile = next(t for t in fragile_experiment(control, 1).trials() if t.label == "Fragile")
    specs = quick_trials(count)
    specs.insert(AT, fragile)
    return specs


def assert_as_alone(results: Sequence[TrialResult]) -> None:
    """Each result, but for its timings and provenance, is that of its trial run alone."""
    for result in results:
        alone = run_timed(result.spec)
        assert (result.status, result.error) == (alone.status, alone.error)
        assert (result.iterations, result.evaluations, result.gradient_calls) == (
            alone.iterations,
            alone.evaluations,
            alone.gradient_calls,
        )
        assert result.final_loss == alone.final_loss and result.metrics == alone.metrics
        for name, column in alone.trace.items():
            if name != "wall_time":
                np.testing.assert_array_equal(result.trace[name], column, strict=True)


def tasks_by_first_trial(keys: Sequence[str], specs: Sequence[TrialSpec]) -> dict[int, int]:
    """Task keys (``gesbench-trials-<count>-<first trial's id>``) as {index of the first
    trial in ``specs``: count}."""
    index = {spec.id: i for i, spec in enumerate(specs)}
    return {index[key.split("-")[3]]: int(key.split("-")[2]) for key in keys}


def test_chunk_size_is_one_until_durations_are_known_then_fills_the_task_time():
    assert chunk_size(None, 1000, THREADS) == 1
    assert chunk_size(TASK_SECONDS / 10.5, 1000, THREADS) == 10
    assert chunk_size(TASK_SECONDS * 2, 1000, THREADS) == 1
    # never more than a quarter of the waiting trials on two threads: the run ends balanced
    assert chunk_size(TASK_SECONDS / 1000, 400, THREADS) == 100
    assert chunk_size(0.0, 7, THREADS) == 1


def test_tasks_grow_from_one_trial_and_each_trial_gives_its_result_alone(scheduler):
    specs = quick_trials(60)
    with (
        distributed.Client(scheduler) as client,
        distributed.get_task_stream(client) as stream,
        open_executor("dask", scheduler=scheduler) as pool,
    ):
        results = [result for batch in pool.batches(specs) for result in batch]
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)
    assert all(r.status == "done" for r in results)
    assert_as_alone(results)

    tasks = tasks_by_first_trial([task["key"] for task in stream.data], specs)
    first = IN_FLIGHT * THREADS  # sent before any trial finished: one trial each
    assert [tasks.get(i) for i in range(first)] == [1] * first
    assert tasks[first] > 1  # sized from the trials finished by then
    starts = sorted(tasks)  # every trial in one task
    assert starts == list(np.cumsum([0, *[tasks[i] for i in starts]])[:-1])
    assert starts[-1] + tasks[starts[-1]] == len(specs)
    assert tasks[len(specs) - 1] == 1  # the last tasks are short: the workers finish together


def test_with_a_time_limit_each_task_is_taken_as_it_finishes(scheduler, monkeypatch):
    """With a time limit the driver also wakes to look for stuck trials; between looks it waits
    for a task to finish, not for the next look: with only IN_FLIGHT tasks sent per worker
    thread, a worker whose tasks are done waits for the driver to take them. (It slept between
    looks, which cost 300 small trials a third of their time; with looks an hour apart, here,
    the run would not end.)"""
    monkeypatch.setattr(dask_cluster, "POLL", 3600.0)
    specs = quick_trials(12)
    results: list[TrialResult] = []

    def run() -> None:
        with open_executor("dask", scheduler=scheduler, timeout=60.0) as pool:
            results.extend(result for batch in pool.batches(specs) for result in batch)

    driver = threading.Thread(target=run, daemon=True)
    driver.start()
    driver.join(timeout=300)  # far beyond the seconds the run takes, far below the hour
    assert not driver.is_alive(), f"{len(results)} of {len(specs)} trials taken"
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)


def test_workers_joining_an_existing_scheduler_during_a_run_get_tasks(monkeypatch):
    """The tasks in flight follow an existing scheduler's thread count as workers join (an
    adaptive cluster can start with none): counted once at connection, a run kept two in flight
    on a cluster that had grown to four workers."""
    monkeypatch.setattr(dask_cluster, "RECOUNT", 0.0)
    specs = quick_trials(40)
    with (
        distributed.LocalCluster(
            n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
        open_executor("dask", scheduler=cluster.scheduler_address) as pool,
    ):
        batches = pool.batches(specs)
        cluster.scale(1)
        results = list(next(batches))  # the session counted one thread as it started
        cluster.scale(4)
        client.wait_for_workers(4, timeout=60)
        results += [result for batch in batches for result in batch]
        assert isinstance(pool, Session) and pool.threads == 4
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)


def test_worker_killing_trial_in_a_task_of_several_is_charged_alone(
    tmp_path,
    fragile_plugin,  # noqa: F811 - the imported fixture
):
    """On the executor's own cluster: the killer's task of several trials dies on a worker
    twice (``retries`` = 1 move), and is split into a task per trial; the killer's own task
    dies twice more and is recorded as failed, and the trials that shared its first task
    complete, with their results alone. No other task was on a worker that died (a worker
    holds only the task it runs), so none was moved or charged."""
    control = tmp_path / "control"
    control.write_text("die")
    specs = fragile_among_quick_trials(control)
    killer = specs[AT]
    with open_executor("dask", workers=THREADS, retries=1) as pool:
        assert isinstance(pool, Session)
        results = [result for batch in pool.batches(specs) for result in batch]
        events = pool.client.get_events("all")
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)
    failed = [(r.trial_id, r.error) for r in results if r.status != "done"]
    assert failed == [(killer.id, died(2))]
    assert_as_alone([r for r in results if r.trial_id != killer.id])

    deaths = [
        tasks_by_first_trial(message["processing-tasks"], specs)
        for _, message in events
        if isinstance(message, dict) and message.get("action") == "remove-worker"
    ]
    assert len(deaths) == 4 and all(len(tasks) == 1 for tasks in deaths)
    (first, size), *_ = deaths[0].items()
    assert first <= AT < first + size and size > 1
    assert deaths[1] == deaths[0] and deaths[2] == deaths[3] == {AT: 1}


def run_fragile(
    tmp_path: Path, scheduler: str, mode: str
) -> tuple[list[TrialSpec], list[TrialResult], dict[int, int]]:
    """Quick trials and a fragile one doing ``mode`` on the cluster, each under a 1 s limit:
    the specs, the results, and the tasks that ran (first trial's place -> trials)."""
    control = tmp_path / "control"
    control.write_text(mode)
    specs = fragile_among_quick_trials(control)
    with (
        distributed.Client(scheduler) as client,
        distributed.get_task_stream(client) as stream,
        open_executor("dask", scheduler=scheduler, timeout=1.0) as pool,
    ):
        results = [r for batch in pool.batches(specs) for r in batch]
        client.wait_for_workers(THREADS, timeout=60)  # a restarted one back, for later tests
    return specs, results, tasks_by_first_trial([task["key"] for task in stream.data], specs)


def test_trial_past_its_time_limit_in_a_task_of_several_fails_alone(tmp_path, scheduler):
    specs, ran, tasks = run_fragile(tmp_path, scheduler, "spin")
    results = {r.trial_id: r for r in ran}
    assert sorted(results) == sorted(spec.id for spec in specs)
    error = results.pop(specs[AT].id).error
    assert error is not None and error.startswith("TrialTimeout: time limit reached after 1.0")
    assert_as_alone(list(results.values()))
    assert any(i <= AT < i + n and n > 1 for i, n in tasks.items())  # it shared its task


@pytest.mark.slow  # the nanny waits 4 s for the stuck worker to stop before it kills it
def test_trial_stuck_in_native_code_in_a_task_of_several_fails_alone(tmp_path, scheduler):
    """Its task is cancelled and its worker restarted; the task's other trials, those before
    the stuck one (finished, but their results went with the task) and after it, run again as
    tasks of their own."""
    specs, results, tasks = run_fragile(tmp_path, scheduler, "native")
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)
    failed = [r for r in results if r.status != "done"]
    assert [r.trial_id for r in failed] == [specs[AT].id]
    assert failed[0].error is not None and "its Dask worker was restarted" in failed[0].error
    assert_as_alone([r for r in results if r.trial_id != specs[AT].id])
    assert AT not in tasks and 1 in (tasks.get(AT - 1), tasks.get(AT + 1))  # task-mates, alone
