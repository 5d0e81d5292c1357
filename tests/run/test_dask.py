"""The Dask executor on a real local cluster (2 worker processes): identical results to
sequential runs, results streamed back as they finish, and workers killed mid-trial."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from test_faults import (
    fragile_experiment,
    fragile_plugin,  # noqa: F401 - a fixture used below
    kill_when_hung,
    reference,  # noqa: F401 - a fixture used below
    rows_per_trial,
    stored_traces,
)

from gesbench import load_results
from gesbench.cli import main
from gesbench.core.errors import GesbenchError
from gesbench.run.executors import execute
from gesbench.run.experiment import run_experiment

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def scheduler(fragile_plugin) -> Iterator[str]:  # noqa: F811 - the imported fixture
    """Address of a real local cluster: 2 single-threaded worker processes."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_dask_gives_the_traces_of_a_sequential_run(tmp_path, small_experiment, scheduler):
    run_experiment(small_experiment, tmp_path / "seq", progress=False)
    counts = run_experiment(
        small_experiment, tmp_path / "dask", scheduler=scheduler, progress=False
    )
    assert counts == {"done": 6}
    seq, dask = stored_traces(tmp_path / "seq"), stored_traces(tmp_path / "dask")
    assert len(seq) > 0
    pd.testing.assert_frame_equal(seq, dask, check_exact=True)
    # Provenance is each worker's own; the spec is what travelled.
    trials = load_results(tmp_path / "dask").trials
    assert trials["provenance"].str.contains('"host"').all()


def test_results_stream_back_as_each_trial_finishes(small_experiment, scheduler):
    trials = small_experiment.with_overrides(repetitions=3).trials()
    results = execute(trials, "dask", scheduler=scheduler)
    first = next(results)  # available while other trials are still queued or running
    rest = list(results)
    assert sorted(r.trial_id for r in [first, *rest]) == sorted(t.id for t in trials)
    assert all(r.status == "done" for r in [first, *rest])


def test_cli_runs_on_a_scheduler_address(tmp_path, scheduler, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\nrepetitions = 2\n[budget]\nlimit = 50\n'
        '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 20, m = 40 }\n'
        '[[optimizers]]\nname = "guided_es"\n'
    )
    out = tmp_path / "run"
    args = ["run", str(spec), "--out", str(out), "--scheduler", scheduler, "--no-progress"]
    assert main([*args, "--no-report"]) == 0
    assert "2 done" in capsys.readouterr().out


def test_worker_killed_mid_trial_is_rescheduled_and_results_are_unchanged(
    tmp_path,
    reference,  # noqa: F811 - the imported fixture
    scheduler,
):
    control, reference_dir = reference
    control.write_text("hang-once")
    watcher = kill_when_hung(control)
    run_dir = tmp_path / "run"
    counts = run_experiment(
        fragile_experiment(control), run_dir, scheduler=scheduler, progress=False
    )
    watcher.join()
    assert Path(f"{control}.hung").is_file()  # the fault really happened
    assert counts == {"done": 4}
    assert set(rows_per_trial(run_dir).values()) == {1}
    pd.testing.assert_frame_equal(stored_traces(run_dir), stored_traces(reference_dir))


def test_trial_that_always_kills_its_worker_is_failed_then_completed_on_rerun(
    tmp_path,
    reference,  # noqa: F811 - the imported fixture
    scheduler,
):
    control, reference_dir = reference
    control.write_text("die")
    run_dir = tmp_path / "run"
    experiment = fragile_experiment(control, repetitions=1)
    # A local cluster of the executor's own, whose scheduler allows `retries` worker deaths.
    counts = run_experiment(
        experiment, run_dir, executor="dask", workers=2, retries=1, progress=False
    )
    assert counts == {"done": 1, "failed": 1}
    trials = load_results(run_dir).trials
    failed = trials[trials["status"] == "failed"]
    assert set(failed["label"]) == {"Fragile"}
    assert failed["error"].str.startswith("WorkerDied:").all()

    control.write_text("off")
    assert run_experiment(experiment, run_dir, scheduler=scheduler, progress=False) == {"done": 2}
    assert set(rows_per_trial(run_dir).values()) == {1}
    expected = stored_traces(reference_dir, like=run_dir)
    pd.testing.assert_frame_equal(stored_traces(run_dir), expected)


def test_hung_trial_on_a_worker_thread_is_stopped_by_the_time_limit(
    tmp_path,
    fragile_plugin,  # noqa: F811 - the imported fixture
    scheduler,
):
    control = tmp_path / "control"
    control.write_text("spin")
    run_dir = tmp_path / "run"
    counts = run_experiment(
        fragile_experiment(control, repetitions=1),
        run_dir,
        scheduler=scheduler,
        trial_timeout=1.5,
        progress=False,
    )
    assert counts == {"done": 1, "failed": 1}
    error = load_results(run_dir).trials.set_index("label").loc["Fragile", "error"]
    assert isinstance(error, str)
    assert error.startswith("TrialTimeout: time limit reached") and "iteration 5" in error


def test_unreachable_scheduler_is_a_clear_error(small_experiment, tmp_path):
    import dask.config

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(GesbenchError, match="cannot connect to the Dask scheduler at"),
    ):
        run_experiment(small_experiment, tmp_path, scheduler="tcp://127.0.0.1:9", progress=False)


def test_multithreaded_workers_are_warned_about(small_experiment, tmp_path):
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=":0"
        ) as cluster,
        pytest.warns(UserWarning, match="start workers with --nthreads 1"),
    ):
        counts = run_experiment(
            small_experiment.with_overrides(repetitions=1),
            tmp_path,
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    assert counts == {"done": 3}


@pytest.mark.slow
def test_trial_stuck_in_native_code_is_cancelled_and_its_worker_restarted(
    tmp_path,
    fragile_plugin,  # noqa: F811 - the imported fixture
    scheduler,
):
    """A Dask worker thread cannot be interrupted inside a native call: past the limit and
    its grace the driver cancels the trial and restarts the worker through the client."""
    control = tmp_path / "control"
    control.write_text("native")
    run_dir = tmp_path / "run"
    client = distributed.Client(scheduler)
    before = set(client.scheduler_info()["workers"])
    counts = run_experiment(
        fragile_experiment(control, repetitions=1),
        run_dir,
        scheduler=scheduler,
        trial_timeout=1.5,
        progress=False,
    )
    assert counts == {"done": 1, "failed": 1}
    error = load_results(run_dir).trials.set_index("label").loc["Fragile", "error"]
    assert isinstance(error, str) and error.startswith(
        "TrialTimeout: time limit of 1.5 s reached and the trial did not stop within 2 s more "
        "(stuck in native code, which Python cannot interrupt on a Dask worker thread); its "
        "Dask worker was restarted"
    )
    client.wait_for_workers(2, timeout=60)
    after = set(client.scheduler_info()["workers"])
    assert len(after) == 2 and len(after - before) == 1  # one worker replaced
    client.close()
    control.write_text("off")
    assert run_experiment(
        fragile_experiment(control, repetitions=1), run_dir, scheduler=scheduler, progress=False
    ) == {"done": 2}


def test_ctrl_c_silences_dask_logging_before_the_cluster_stops(small_experiment, scheduler):
    # open_executor closes the session in a finally while the KeyboardInterrupt unwinds; the
    # nannies then log a warning for each worker still busy with a trial, unless Dask's
    # loggers were silenced first (the interrupt never passes through the session's own
    # context stack, so silencing there never happened).
    import logging

    from gesbench.run.executors import open_executor

    names = ("distributed", "tornado", "asyncio")
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        with pytest.raises(KeyboardInterrupt), open_executor("dask", scheduler=scheduler) as pool:
            assert next(pool.batches(small_experiment.trials()[:1]))[0].status == "done"
            assert logging.getLogger("distributed").level < logging.CRITICAL
            raise KeyboardInterrupt
        assert all(logging.getLogger(name).level == logging.CRITICAL for name in names)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
