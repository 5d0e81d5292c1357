"""Random SIGKILLs of the driver and of its worker processes during a process-pool run and a
Dask run, each followed by a resume (the same command again) until the run completes: every
trial is then stored exactly once, and its numbers are those of an uninterrupted run."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pandas as pd
import psutil
import pytest

from gesbench import load_results, parse_experiment
from gesbench.run.experiment import run_experiment
from gesbench.store.database import store_path

pytestmark = pytest.mark.slow

SPEC = """
name = "chaos"
repetitions = 6
[budget]
limit = 80000
[trace]
dense = 20
per_decade = 20
[[problems]]
name = "perturbed_quadratic"
params = { n = 100, m = 200 }
[[optimizers]]
name = "guided_es"
[[optimizers]]
name = "vanilla_es"
"""
ATTACKS = 6


def traces(run_dir: Path) -> pd.DataFrame:
    t = load_results(run_dir).traces.drop(columns="wall_time")
    return t.sort_values(["trial_id", "iteration"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The spec run sequentially, without faults."""
    import tomllib

    run_dir = tmp_path_factory.mktemp("reference") / "run"
    run_experiment(parse_experiment(tomllib.loads(SPEC)), run_dir, progress=False)
    return run_dir


def workers_of(driver: int) -> list[psutil.Process]:
    """The driver's worker processes: spawned interpreters, or processes forked by its fork
    server (not the fork server itself, nor the resource tracker)."""
    try:
        children = psutil.Process(driver).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for child in children:
        try:
            parent = child.parent()
            forked = parent is not None and "forkserver" in " ".join(parent.cmdline())
            if forked or "spawn_main" in " ".join(child.cmdline()):
                out.append(child)
        except psutil.Error:
            continue
    return out


def rows_per_trial(run_dir: Path) -> dict[str, int]:
    with closing(sqlite3.connect(store_path(run_dir))) as db:
        return dict(db.execute("SELECT id, COUNT(*) FROM trials GROUP BY id").fetchall())


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_random_kills_then_resume_store_every_trial_once_with_unchanged_numbers(
    tmp_path, reference, executor, seed
):
    rng = random.Random(seed)
    spec = tmp_path / "chaos.toml"
    spec.write_text(SPEC)
    run_dir = tmp_path / "run"
    command = [
        sys.executable, "-m", "gesbench.cli", "run", str(spec), "--out", str(run_dir),
        "--no-progress", "--no-report", "--executor", executor, "--workers", "2",
    ]  # fmt: skip
    kills = {"driver": 0, "worker": 0}
    startup = 4.0 if executor == "processes" else 7.0  # interpreter, imports, workers
    for _ in range(30):
        driver = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        wait = rng.uniform(startup / 2, startup * 1.5)  # some attacks come during start-up
        while sum(kills.values()) < ATTACKS and driver.poll() is None:
            time.sleep(wait)
            wait = rng.uniform(0.5, 3.0)
            if driver.poll() is not None:
                break
            # the first attack kills a worker, the second the driver, then at random
            target = (
                ["worker", "driver"][sum(kills.values())]
                if sum(kills.values()) < 2
                else (rng.choice(["worker", "worker", "driver"]))
            )
            workers = workers_of(driver.pid)
            deadline = time.monotonic() + 15.0  # a loaded machine may take long to get there
            while target == "worker" and not workers and driver.poll() is None:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
                workers = workers_of(driver.pid)
            if target == "worker" and workers:
                rng.choice(workers).send_signal(signal.SIGKILL)
                kills["worker"] += 1
                continue
            driver.send_signal(signal.SIGKILL)
            kills["driver"] += 1
            break
        out, err = driver.communicate(timeout=600)
        assert "Traceback" not in err, err
        if driver.returncode == 0:
            break
        # -9: killed above; 1: trials whose workers were killed too often were recorded
        # as failed (WorkerDied), which the next run retries; 2: a Dask cluster whose worker
        # was killed while it started
        assert driver.returncode in (-signal.SIGKILL, 1, 2), err
        if driver.returncode == 1:
            assert "WorkerDied" in out
        if driver.returncode == 2:
            assert err.startswith("gesbench: error: the local Dask cluster did not start"), err
    else:
        raise AssertionError("the run never completed")
    assert kills["driver"] >= 1 and kills["worker"] >= 1, kills  # the faults really happened

    trials = load_results(run_dir).trials
    expected = load_results(reference).trials
    assert sorted(trials["id"]) == sorted(expected["id"])
    assert (trials["status"] == "done").all()
    assert set(rows_per_trial(run_dir).values()) == {1}
    with closing(sqlite3.connect(store_path(run_dir))) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    pd.testing.assert_frame_equal(traces(run_dir), traces(reference), check_exact=True)
