"""load_results reads traces in chunks, only those of the trials it returns, and joins each
row's trial columns in by position: the same frames whatever the chunk size."""

from __future__ import annotations

import pandas as pd
import pytest

from gesbench import load_results, parse_experiment
from gesbench.run.experiment import run_experiment
from gesbench.store import reader

from spec_factory import small_spec


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A folder holding two experiments' trials: the last run's (budget 60) and older ones
    (budget 150) that only ``all_trials`` returns."""
    folder = tmp_path_factory.mktemp("two_runs")
    for limit in (150, 60):
        spec = small_spec(budget={"kind": "iterations", "limit": limit})
        run_experiment(parse_experiment(spec), folder, progress=False)
    return folder


@pytest.mark.parametrize("all_trials", [False, True])
def test_chunk_size_changes_nothing(run_dir, monkeypatch, all_trials) -> None:
    whole = load_results(run_dir, all_trials=all_trials)
    monkeypatch.setattr(reader, "TRACE_CHUNK", 7)  # chunks ending mid-trial, many of them
    chunked = load_results(run_dir, all_trials=all_trials)
    for a, b in zip(whole, chunked, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("all_trials", [False, True])
def test_every_trace_row_carries_its_own_trials_columns(run_dir, monkeypatch, all_trials) -> None:
    monkeypatch.setattr(reader, "TRACE_CHUNK", 7)
    results = load_results(run_dir, all_trials=all_trials)
    trials, traces = results.trials.set_index("id"), results.traces
    assert set(traces["trial_id"]) == set(trials.index)  # none of the trials left out
    keys = ["problem_label", "label", "optimizer", "repetition", "status", "role"]
    expected = trials.loc[traces["trial_id"], keys].reset_index(drop=True)
    pd.testing.assert_frame_equal(traces[keys], expected, check_exact=True)
    # each trial's points in the order logged
    assert traces.groupby("trial_id")["iteration"].apply(lambda s: s.is_monotonic_increasing).all()


def test_older_trials_are_kept_apart(run_dir) -> None:
    last, everything = load_results(run_dir), load_results(run_dir, all_trials=True)
    assert len(everything.trials) == 2 * len(last.trials)
    assert last.traces["iteration"].max() == 60 < everything.traces["iteration"].max()


def test_a_shared_evaluation_trial_has_its_rows_once_per_label(tmp_path, monkeypatch) -> None:
    # GD at lr 0.02, and GD tuned over a grid whose best is 0.02: the same evaluation trials
    # stand for both labels.
    spec = small_spec(
        tuning={"repetitions": 1},
        optimizers=[
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.02}},
            {"name": "surrogate_descent", "label": "GD (tuned)", "tune": {"lr": [1e-6, 0.02]}},
        ],
    )
    with pytest.warns(UserWarning, match="[Uu]nequal"):
        run_experiment(parse_experiment(spec), tmp_path, progress=False)
    monkeypatch.setattr(reader, "TRACE_CHUNK", 7)
    results = load_results(tmp_path)
    evaluation = results.trials[results.trials["role"] == "evaluation"]
    shared = evaluation.groupby("id")["label"].apply(sorted)
    assert (shared.apply(len) == 2).all() and len(shared) == 2, shared  # both repetitions
    for trial_id, labels in shared.items():
        rows = results.traces[results.traces["trial_id"] == trial_id]
        per_label = rows.groupby("label")["iteration"].apply(list)
        assert sorted(per_label.index) == labels
        assert per_label.iloc[0] == per_label.iloc[1]  # the same points under each label


def test_ids_load_those_trials_as_filtering_everything_would(run_dir) -> None:
    everything = load_results(run_dir, all_trials=True)
    wanted = set(everything.trials["id"].iloc[::3]) | {"not-a-stored-trial"}
    some = load_results(run_dir, all_trials=True, ids=wanted)
    assert set(some.trials["id"]) == wanted - {"not-a-stored-trial"}
    for part, key in (("trials", "id"), ("traces", "trial_id")):
        full = getattr(everything, part)
        expected = full[full[key].isin(wanted)].reset_index(drop=True)
        got = getattr(some, part)
        # (a parameter only other trials have is no column of theirs)
        assert set(got.columns) <= set(expected.columns)
        pd.testing.assert_frame_equal(got, expected[got.columns], check_exact=True)


def test_ids_without_sqlites_json_functions_scan_the_table(run_dir, monkeypatch) -> None:
    """An SQLite built without JSON functions has no json_each: the index lookup gives way to
    a scan, with the same frames."""
    everything = load_results(run_dir, all_trials=True)
    wanted = list(everything.trials["id"].iloc[::4])
    expected = load_results(run_dir, all_trials=True, ids=wanted)
    real = pd.read_sql_query
    asked: list[str] = []

    def without_json(query, *args, **kwargs):
        asked.append(query)
        if "json_each" in query:
            raise pd.errors.DatabaseError("Execution failed: no such table: json_each")
        return real(query, *args, **kwargs)

    monkeypatch.setattr(pd, "read_sql_query", without_json)
    got = load_results(run_dir, all_trials=True, ids=wanted)
    assert any("json_each" in q for q in asked)  # it was tried first
    for a, b in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_ids_as_one_string_is_refused(run_dir) -> None:
    # one trial's id, not in a list: taken as a set of characters it would match nothing
    one = str(load_results(run_dir).trials["id"].iloc[0])
    with pytest.raises(TypeError, match="collection of trial ids"):
        load_results(run_dir, ids=one)
