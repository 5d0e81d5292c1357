"""Trials written together in one transaction, provenance kept once per distinct value, and
what a killed writer leaves behind."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace

import pandas as pd
import pytest
from test_legacy_store import OLD_ID, write_old_store

from gesbench import load_results, parse_experiment
from gesbench.run.experiment import run_experiment
from gesbench.run.trial import run_trial
from gesbench.store.database import SCHEMA_VERSION, ResultStore, store_path

from spec_factory import small_spec


def small(repetitions: int = 2):
    spec = small_spec(repetitions=repetitions, budget={"kind": "iterations", "limit": 30})
    return parse_experiment(spec)


def stored_ids(run_dir) -> set[str]:
    with sqlite3.connect(store_path(run_dir)) as db:
        return {row[0] for row in db.execute("SELECT id FROM trials")}


def test_provenance_is_stored_once_and_read_back_with_every_trial(tmp_path):
    experiment = small()
    run_experiment(experiment, tmp_path, progress=False)
    with sqlite3.connect(store_path(tmp_path)) as db:
        assert db.execute("SELECT COUNT(*) FROM provenance").fetchone()[0] == 1
        per_trial = db.execute("SELECT DISTINCT provenance, provenance_id FROM trials").fetchall()
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert len(per_trial) == 1 and per_trial[0][0] == ""  # no copy in each trial's row
    trials = load_results(tmp_path).trials
    assert len(trials) == experiment.trial_count
    for text in trials["provenance"]:
        assert {"versions", "git_commit", "host", "platform", "python"} <= set(json.loads(text))


def test_a_migrated_store_keeps_its_trials_provenance_and_adds_new_ones_once(tmp_path):
    write_old_store(tmp_path)
    with sqlite3.connect(store_path(tmp_path)) as db:
        db.execute("UPDATE trials SET provenance = ?", (json.dumps({"host": "old-host"}),))
    run_experiment(small(1), tmp_path, progress=False)
    trials = load_results(tmp_path, all_trials=True).trials.set_index("id")
    hosts = trials["provenance"].map(lambda text: json.loads(text)["host"])
    assert hosts[OLD_ID] == "old-host"
    assert hosts.drop(OLD_ID).nunique() == 1 and "old-host" not in set(hosts.drop(OLD_ID))


def test_a_batch_is_written_whole_or_not_at_all(tmp_path):
    results = [run_trial(t) for t in small().trials()]
    first, second = results[:2], results[2:]
    broken = replace(second[-1], trace={"iteration": second[-1].trace["iteration"]})
    with ResultStore(tmp_path, create=True) as store:
        store.write_many(first)
        with pytest.raises(KeyError):
            store.write_many([*second[:-1], broken])  # fails on its last trial's trace
        assert stored_ids(tmp_path) == {r.trial_id for r in first}
        store.write_many(second)  # the store, its provenance row included, still works
    assert stored_ids(tmp_path) == {r.trial_id for r in results}
    traces = load_results(tmp_path).traces
    assert traces.groupby("trial_id").size().to_dict() == {
        r.trial_id: len(r.trace["iteration"]) for r in results
    }


def test_a_later_result_of_the_same_trial_replaces_the_earlier(tmp_path):
    result = run_trial(small(1).trials()[0])
    failed = replace(result, status="failed", error="boom")
    with ResultStore(tmp_path, create=True) as store:
        store.write_many([failed])
        store.write_many([failed, result])  # the failed attempt, then the retry
    trials = load_results(tmp_path).trials
    assert trials["status"].tolist() == ["done"]


KILLED_MID_BATCH = """
import os, signal, sys
from dataclasses import replace
from gesbench.spec.experiment import parse_experiment
from gesbench.run.trial import run_trial
from gesbench.store.database import ResultStore
sys.path.insert(0, {tests!r})
from spec_factory import small_spec

class Killing(dict):
    def __getitem__(self, key):  # reached while the batch's transaction is open
        os.kill(os.getpid(), signal.SIGKILL)

spec = small_spec(repetitions=2, budget={{"kind": "iterations", "limit": 30}})
results = [run_trial(t) for t in parse_experiment(spec).trials()]
with ResultStore({run_dir!r}, create=True) as store:
    store.write_many(results[:3])  # committed
    print("committed", flush=True)
    store.write_many([*results[3:-1], replace(results[-1], trace=Killing())])
"""


def test_a_writer_killed_mid_batch_keeps_committed_batches_and_the_rest_runs_on_resume(
    tmp_path, request
):
    run_dir = tmp_path / "run"
    tests = str(request.config.rootpath / "tests")
    script = textwrap.dedent(KILLED_MID_BATCH).format(tests=tests, run_dir=str(run_dir))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == -9 and "committed" in done.stdout, done.stderr
    experiment = small()
    committed = {t.id for t in experiment.trials()[:3]}
    assert stored_ids(run_dir) == committed  # none of the killed batch
    with sqlite3.connect(store_path(run_dir)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Resuming runs exactly the trials of the lost batch, with the numbers of a clean run.
    before = load_results(run_dir).trials.set_index("id")["started"]
    assert run_experiment(experiment, run_dir, progress=False) == {"done": 6}
    after = load_results(run_dir).trials.set_index("id")["started"]
    assert after[sorted(committed)].equals(before[sorted(committed)])
    run_experiment(experiment, tmp_path / "clean", progress=False)

    def numbers(folder):
        t = load_results(folder).traces.drop(columns="wall_time")
        return t.sort_values(["trial_id", "iteration"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(numbers(run_dir), numbers(tmp_path / "clean"), check_exact=True)
