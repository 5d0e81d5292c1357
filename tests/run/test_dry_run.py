"""gesbench run --dry-run: per stage, problem and method what would run, what is done, what
is retried, a time estimate from the folder's own timings; nothing runs, nothing is written."""

from __future__ import annotations

import hashlib
import sqlite3
import warnings
from pathlib import Path

import pytest

from gesbench import load_results
from gesbench.cli import main
from gesbench.run.experiment import run_experiment
from gesbench.run.plan import plan_run
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.filters import Selection
from gesbench.spec.tuning import UnequalTuningBudget
from gesbench.store.database import store_path

from spec_factory import small_spec

SPEC = """
name = "dry"
repetitions = 2
[budget]
kind = "iterations"
limit = 100
[trace]
dense = 5
per_decade = 5
[[problems]]
name = "perturbed_quadratic"
label = "Quad"
params = { n = 10, m = 20 }
[[optimizers]]
name = "surrogate_descent"
label = "GD"
params = { lr = 0.02 }
[[optimizers]]
name = "vanilla_es"
label = "ES"
[[optimizers]]
name = "guided_es"
label = "GES"
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "dry.toml"
    path.write_text(SPEC)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def table_row(out: str, stage: str, method: str) -> list[str]:
    for line in out.splitlines():
        words = line.split()
        if words[:1] == [stage] and method in words:
            return words
    raise AssertionError(f"no {stage} row for {method} in:\n{out}")


def test_a_dry_run_of_a_new_folder_creates_nothing(spec_file, tmp_path, capsys):
    out = tmp_path / "fresh"
    assert main(["run", str(spec_file), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert not out.exists()
    assert "nothing runs and nothing is written" in text
    assert table_row(text, "evaluation", "GES")[2:] == ["GES", "2", "0", "0", "2", "2", "?"]
    assert table_row(text, "total", "6")[:2] == ["total", "6"]
    assert "6 trial(s) would run" in text
    assert "no time estimate: the store has no finished trial to time" in text


def test_a_dry_run_counts_done_retried_and_new_estimates_and_writes_nothing(
    spec_file, tmp_path, capsys
):
    out = tmp_path / "run"
    base = ["run", str(spec_file), "--out", str(out), "--no-report", "--no-progress"]
    assert main([*base, "--optimizers", "GES"]) == 0
    # One GES trial failed; the other took 3 s for its budget of 100 iterations.
    with sqlite3.connect(store_path(out)) as db:
        ids = [row[0] for row in db.execute("SELECT id FROM trials ORDER BY repetition")]
        db.execute("UPDATE trials SET status = 'failed' WHERE id = ?", (ids[0],))
        db.execute("UPDATE trials SET wall_time = 3.0 WHERE id = ?", (ids[1],))
    db.close()
    before = snapshot(out)
    capsys.readouterr()
    assert main(["run", str(spec_file), "--out", str(out), "--dry-run", "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert snapshot(out) == before  # byte for byte, and no new file (no SQLite side files)
    header = next(line for line in text.splitlines() if "would run" in line)
    columns = ["stage", "problem", "method", "trials", "done", "failed (retried)", "not run yet"]
    columns += ["would run", "est. time"]
    places = [header.index(c) for c in columns]
    assert places == sorted(places)
    assert table_row(text, "evaluation", "GES")[2:] == ["GES", "2", "1", "1", "0", "1", "3s"]
    # No GD or ES trial has run: timed by every finished trial of the folder (3 s each).
    assert table_row(text, "evaluation", "GD")[2:] == ["GD", "2", "0", "0", "2", "2", "6s"]
    assert table_row(text, "total", "6")[1:] == ["6", "1", "1", "4", "5", "15s"]
    assert "5 trial(s) would run; 1 finished trial(s) are skipped" in text
    assert "estimated time: 15s of trial time, about 8s on 2 workers" in text
    # What the plan says is what the run does.
    stored_before = set(load_results(out).trials.query("status != 'failed'")["id"])
    assert main([*base]) == 0
    after = load_results(out).trials
    assert len(set(after["id"]) - stored_before) == 5 and (after["status"] == "done").all()


def test_the_estimate_scales_with_each_trials_budget(spec_file, tmp_path):
    experiment = parse_experiment(small_spec(repetitions=1))
    run_experiment(experiment, tmp_path, progress=False, only=Selection.of(None, ["GES"]))
    with sqlite3.connect(store_path(tmp_path)) as db:
        db.execute("UPDATE trials SET wall_time = 1.5")  # 1.5 s per 150 iterations
    db.close()
    longer = experiment.with_overrides(budget_limit=600)
    plan = plan_run(longer, tmp_path, only=Selection.of(None, ["GES"]))
    assert plan.rows["estimate"].tolist() == pytest.approx([6.0])  # 4x the budget, 4x the time


def tuned(**overrides: object) -> dict:
    spec = small_spec(
        repetitions=1,
        tuning={"repetitions": 2, "strategy": "halving"},
        optimizers=[
            {"name": "surrogate_descent", "label": "GD", "tune": {"lr": [0.005, 0.01, 0.02]}},
            {"name": "vanilla_es", "label": "ES"},
            {"name": "guided_es", "label": "GES", "tune": {"lr": [0.05, 0.1, 0.2]}},
        ],
    )
    spec.update(overrides)
    return spec


def test_a_dry_run_follows_the_tuning_stage_rung_by_rung(tmp_path):
    experiment = parse_experiment(tuned())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnequalTuningBudget)
        fresh = plan_run(experiment, tmp_path / "none").rows.set_index(["stage", "label"])
        assert list(fresh.loc[("tuning rung 1/2", "GES"), ["trials", "new", "pending"]]) == [
            6,
            6,
            0,
        ]  # fmt: skip  -- 3 settings x 2 tuning seeds
        assert list(fresh.loc[("tuning rung 2/2", "GES"), ["trials", "pending"]]) == [2, 2]
        assert list(fresh.loc[("evaluation", "GES"), ["trials", "pending"]]) == [1, 1]
        assert list(fresh.loc[("evaluation", "ES"), ["new", "pending"]]) == [1, 0]

        run_dir = tmp_path / "run"
        counts = run_experiment(
            experiment, run_dir, progress=False, only=Selection.of(None, ["GES"])
        )
        assert counts == {"done": 6 + 2 + 1}
        plan = plan_run(experiment, run_dir)
        rows = plan.rows.set_index(["stage", "label"])
        for stage in ("tuning rung 1/2", "tuning rung 2/2", "evaluation"):
            assert rows.loc[(stage, "GES"), "to_run"] == 0  # known exactly, and done
        assert rows.loc[("tuning rung 2/2", "GD"), "pending"] == 2  # GD's rung 1 has not run
        assert plan.to_run == 6 + 2 + 1 + 1  # GD's tuning and evaluation, ES's evaluation

        stored = set(load_results(run_dir, all_trials=True).trials["id"])
        run_experiment(experiment, run_dir, progress=False)
        ran = set(load_results(run_dir, all_trials=True).trials["id"]) - stored
        assert len(ran) == plan.to_run
        known_new = {t.id for t in plan.known} - stored
        assert known_new <= ran and len(known_new) == 6 + 1  # GD's rung 1, ES's evaluation
        assert plan_run(experiment, run_dir).to_run == 0


def test_rerun_counts_the_chosen_finished_trials_again(tmp_path):
    experiment = parse_experiment(small_spec(repetitions=1))
    run_experiment(experiment, tmp_path, progress=False)
    plan = plan_run(experiment, tmp_path, only=Selection.of(None, ["es"]), rerun=True)
    assert plan.rows["label"].tolist() == ["ES"]
    assert plan.rows[["done", "rerun", "to_run"]].values.tolist() == [[1, 1, 1]]
    assert len(plan.rerun_ids()) == 1
