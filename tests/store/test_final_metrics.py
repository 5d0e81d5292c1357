"""Final metrics (e.g. accuracy) that problems report for a trial's final point: kept in the
store, loaded as ``final_NAME`` columns, summarised in the report's final-results table."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from gesbench import load_results, parse_experiment
from gesbench.cli import main
from gesbench.problems.binary_network import BinaryNetwork
from gesbench.problems.logistic_regression import LogisticRegression
from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment
from gesbench.run.trial import run_trial
from gesbench.store.database import ResultStore, store_path
from gesbench.store.reader import LOSS_COLUMNS, metric_columns

from spec_factory import small_spec

CLASSIFIER_SPEC = {
    "name": "classifier",
    "repetitions": 2,
    "budget": {"kind": "iterations", "limit": 300},
    "trace": {"dense": 10, "per_decade": 10},
    "problems": [
        {
            "name": "logistic_regression",
            "label": "Synthetic",
            "params": {"dataset": "synthetic", "n_samples": 300, "n_features": 10},
        }
    ],
    "optimizers": [
        {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.3}},
        {"name": "guided_es", "label": "GES", "params": {"lr": 0.1}},
    ],
}


@pytest.mark.parametrize(
    "problem",
    [
        LogisticRegression(0, dataset="synthetic", n_samples=200, n_features=5),
        BinaryNetwork(0, dataset="teacher", n_samples=200, n_features=5, hidden=4),
    ],
)
def test_final_metrics_report_the_accuracy_of_the_point(problem) -> None:
    x = problem.x0 + 0.1 * np.random.default_rng(1).standard_normal(problem.dim)
    metrics = problem.final_metrics(x)
    assert metrics == {"accuracy": pytest.approx(problem.accuracy(x[None, :])[0])}
    assert 0.0 <= metrics["accuracy"] <= 1.0


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("classifier")
    run_experiment(parse_experiment(CLASSIFIER_SPEC), run_dir, progress=False)
    return run_dir


def test_final_accuracy_is_stored_per_trial_and_training_improves_it(classifier_run) -> None:
    trials = load_results(classifier_run).trials
    assert (trials["status"] == "done").all()
    assert trials["final_accuracy"].between(0.0, 1.0).all()
    # x0 = 0 predicts one class for every example: accuracy is the larger class's share.
    problem = LogisticRegression(0, dataset="synthetic", n_samples=300, n_features=10)
    at_start = problem.final_metrics(problem.x0)["accuracy"]
    assert (trials["final_accuracy"] > at_start + 0.1).all()


def test_report_table_gives_the_median_final_accuracy(classifier_run) -> None:
    build_report(classifier_run)
    table = pd.read_csv(classifier_run / "final_results.csv")
    trials = load_results(classifier_run).trials
    expected = trials.groupby("label")["final_accuracy"].median()
    assert table.set_index("label")["final_accuracy"].to_dict() == pytest.approx(expected.to_dict())
    assert "| median accuracy |" in (classifier_run / "summary.md").read_text()


def test_problems_without_final_metrics_add_no_columns(tmp_path) -> None:
    run_experiment(parse_experiment(small_spec(repetitions=1)), tmp_path, progress=False)
    trials = load_results(tmp_path).trials
    assert metric_columns(trials) == []
    assert [c for c in trials.columns if c.startswith("final_")] == list(LOSS_COLUMNS)


def test_a_store_from_before_final_metrics_loads_and_resumes(tmp_path) -> None:
    experiment = parse_experiment(small_spec(repetitions=1))
    run_experiment(experiment, tmp_path, progress=False)
    with sqlite3.connect(store_path(tmp_path)) as db:
        for column in ("metrics", "identity_version", "stage", "dim"):
            db.execute(f"ALTER TABLE trials DROP COLUMN {column}")
        db.execute("PRAGMA user_version = 0")
        db.execute("DELETE FROM trials WHERE label = 'GES'")
    assert set(load_results(tmp_path).trials["label"]) == {"GD", "ES"}
    assert run_experiment(experiment, tmp_path, progress=False) == {"done": 3}
    assert set(load_results(tmp_path).trials["label"]) == {"GD", "ES", "GES"}


def test_a_stored_metric_that_is_not_a_number_spoils_only_its_own_trial(tmp_path) -> None:
    """A store written before metrics were checked may hold text where a number belongs:
    loading, reporting and exporting it still work, with NaN for that trial."""
    run_experiment(parse_experiment(small_spec(repetitions=1)), tmp_path, progress=False)
    with sqlite3.connect(store_path(tmp_path)) as db:
        db.execute("""UPDATE trials SET metrics = '{"accuracy": 0.75}' WHERE label = 'ES'""")
        db.execute("""UPDATE trials SET metrics = '{"accuracy": "high"}' WHERE label = 'GD'""")
        db.execute("UPDATE trials SET metrics = 'not json' WHERE label = 'GES'")
    trials = load_results(tmp_path).trials.set_index("label")
    assert trials.loc["ES", "final_accuracy"] == 0.75
    assert np.isnan(trials["final_accuracy"].loc["GD"])
    assert np.isnan(trials["final_accuracy"].loc["GES"])
    assert any(path.name == "report.html" for path in build_report(tmp_path))
    assert main(["export", str(tmp_path)]) == 0
    assert len(pd.read_csv(tmp_path / "trials.csv")) == 3


def test_final_metrics_are_stored_as_floats_whatever_number_type_a_problem_returns(
    tmp_path,
) -> None:
    spec = parse_experiment(small_spec(repetitions=1))
    trial = spec.trials()[0]
    result = run_trial(trial)
    store_dir = tmp_path / "store"
    with ResultStore(store_dir, create=True) as store:
        # NumPy numbers and a string where metrics are floats, on purpose
        store.write(replace(result, metrics={"hits": np.int64(3), "share": np.float32(0.5)}))  # type: ignore[dict-item]
        store.write(replace(run_trial(spec.trials()[1]), metrics={"x": "3"}))  # type: ignore[dict-item]
    trials = load_results(store_dir).trials.set_index("label")
    assert trials.loc[trial.label, "final_hits"] == 3.0
    assert trials.loc[trial.label, "final_share"] == 0.5
    other = trials.drop(index=trial.label).iloc[0]
    assert other["status"] == "failed"
    assert "returned str '3' for metric 'x'; final metrics must be numbers" in other["error"]
