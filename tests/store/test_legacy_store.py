"""A run folder written before trial identity was science-only (schema 0, identity 1)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from gesbench import load_results, parse_experiment
from gesbench.cli import main
from gesbench.core.errors import StoreError
from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment
from gesbench.store.database import SCHEMA_VERSION, store_path
from gesbench.store.reader import legacy_trials

from spec_factory import small_spec

# The schema and a row as gesbench wrote them before stores had a version.
OLD_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    id TEXT PRIMARY KEY, experiment TEXT NOT NULL, problem TEXT NOT NULL,
    problem_label TEXT NOT NULL, optimizer TEXT NOT NULL, label TEXT NOT NULL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'diverged')), error TEXT,
    started REAL NOT NULL, wall_time REAL NOT NULL, iterations INTEGER NOT NULL,
    evaluations INTEGER NOT NULL, gradient_calls INTEGER NOT NULL, final_loss REAL,
    spec TEXT NOT NULL, provenance TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE traces (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    iteration REAL, evaluations REAL, gradient_calls REAL, cost REAL, wall_time REAL,
    loss REAL, excess_loss REAL, alignment REAL
);
"""
OLD_ID = "0123456789abcdef0123"


def write_old_store(run_dir) -> None:
    spec = small_spec()
    old_spec = {
        "experiment": "small",
        "problem": "perturbed_quadratic",
        "problem_params": {"n": 30, "m": 60, "bias": 1.0, "noise": 1.5},
        "problem_label": "perturbed_quadratic",
        "optimizer": "guided_es",
        "optimizer_params": {},
        "label": "GES",
        "budget": spec["budget"],
        "repetition": 0,
        "trace": spec["trace"],
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(store_path(run_dir)) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "INSERT INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (OLD_ID, "small", "perturbed_quadratic", "perturbed_quadratic", "guided_es", "GES",
             0, "done", None, 0.0, 1.0, 150, 300, 150, 0.05, json.dumps(old_spec), "{}", "{}"),
        )  # fmt: skip
        for it, loss in ((0, 0.3), (150, 0.05)):
            db.execute(
                "INSERT INTO traces VALUES (?,?,?,?,?,?,?,?,?)",
                (OLD_ID, it, 2 * it, it, it, 0.0, loss, loss - 0.01, 0.4),
            )
        db.execute("INSERT INTO meta VALUES ('trial_ids', ?)", (json.dumps([OLD_ID]),))
        db.execute("INSERT INTO meta VALUES ('experiment', ?)", (json.dumps({"name": "small"}),))


def test_an_old_store_is_read_as_it_is_and_reported_without_migrating_it(tmp_path) -> None:
    write_old_store(tmp_path)
    trials = load_results(tmp_path).trials
    assert list(trials["id"]) == [OLD_ID]
    assert trials["identity_version"].tolist() == [1]
    assert trials["dim"].isna().all()
    assert legacy_trials(tmp_path) == 1
    assert (tmp_path / "report.html") in build_report(tmp_path)
    with sqlite3.connect(store_path(tmp_path)) as db:  # reading never writes
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0


def test_running_into_an_old_store_migrates_it_keeps_old_trials_and_runs_anew(
    tmp_path, capsys
) -> None:
    write_old_store(tmp_path)
    spec_file = tmp_path / "small.toml"
    spec_file.write_text(
        'name = "small"\nrepetitions = 1\n[budget]\nkind = "iterations"\nlimit = 150\n'
        '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 30, m = 60 }\n'
        '[[optimizers]]\nname = "guided_es"\nlabel = "GES"\n'
    )
    assert (
        main(["run", str(spec_file), "--out", str(tmp_path), "--no-progress", "--no-report"]) == 0
    )
    assert "holds 1 trial(s) from an older gesbench" in capsys.readouterr().out
    with sqlite3.connect(store_path(tmp_path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    everything = load_results(tmp_path, all_trials=True).trials.set_index("id")
    assert everything.loc[OLD_ID, "identity_version"] == 1
    assert everything.loc[OLD_ID, "final_loss"] == 0.05
    current = load_results(tmp_path).trials
    assert OLD_ID not in set(current["id"]) and len(current) == 1
    assert current["identity_version"].tolist() == [2] and current["dim"].tolist() == [30]


def test_a_store_from_a_newer_gesbench_or_another_program_is_refused_untouched(tmp_path):
    run_experiment(parse_experiment(small_spec(repetitions=1)), tmp_path / "new", progress=False)
    with sqlite3.connect(store_path(tmp_path / "new")) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer gesbench"):
        load_results(tmp_path / "new")
    with pytest.raises(StoreError, match="newer gesbench"):
        run_experiment(parse_experiment(small_spec()), tmp_path / "new", progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(store_path(foreign)) as db:
        db.execute("CREATE TABLE trials (id TEXT)")
    with pytest.raises(StoreError, match="not a gesbench result store"):
        run_experiment(parse_experiment(small_spec()), foreign, progress=False)
    with sqlite3.connect(store_path(foreign)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert tables == {"trials"}
        assert {r[1] for r in db.execute("PRAGMA table_info(trials)")} == {"id"}
