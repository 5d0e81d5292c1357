"""The IOHprofiler export opens in iohinspector with the run's counts and values."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench import load_results, parse_experiment
from gesbench.run.experiment import run_experiment
from gesbench.store.ioh import export_ioh

from spec_factory import small_spec

iohinspector = pytest.importorskip("iohinspector")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ioh")
    run_experiment(parse_experiment(small_spec(repetitions=3)), run_dir, progress=False)
    result = export_ioh(run_dir)
    manager = iohinspector.DataManager()
    manager.add_folder(str(run_dir / "ioh"))
    return run_dir, result, manager


def test_one_algorithm_per_evaluating_method_and_one_run_per_trial(exported) -> None:
    run_dir, result, manager = exported
    trials = load_results(run_dir).trials
    overview = manager.overview.to_pandas()
    assert sorted(overview["algorithm_name"].unique()) == ["ES", "GES"]
    assert result.skipped == {"GD": "never evaluates the loss, so it has no evaluations axis"}
    assert set(overview["function_name"]) == {"perturbed-quadratic"}
    assert set(overview["dimension"]) == {30}
    for label, runs in overview.groupby("algorithm_name"):
        mine = trials[trials["label"] == label].sort_values("repetition")
        runs = runs.sort_values("instance")
        assert runs["instance"].tolist() == (mine["repetition"] + 1).tolist()
        assert runs["evals"].tolist() == mine["evaluations"].tolist()


def test_values_are_the_logged_excess_losses(exported) -> None:
    run_dir, _, manager = exported
    results = load_results(run_dir)
    data = manager.load(monotonic=False, include_meta_data=True).to_pandas()
    for (label, instance), run in data.groupby(["algorithm_name", "instance"]):
        trial = results.trials[
            (results.trials["label"] == label) & (results.trials["repetition"] == instance - 1)
        ].iloc[0]
        trace = results.traces[results.traces["trial_id"] == trial["id"]]
        assert run["raw_y"].iloc[-1] == trace["excess_loss"].iloc[-1]
        assert run["best_y"].iloc[0] == trace["excess_loss"].min()
        assert np.all(np.diff(run["evaluations"].to_numpy()) > 0)
        assert run["evaluations"].iloc[0] == 1


def test_the_command_line_exports_and_names_what_it_left_out(exported, tmp_path, capsys) -> None:
    from gesbench.cli import main

    run_dir, result, _ = exported
    assert main(["export", str(run_dir), "--format", "ioh"]) == 0
    out = capsys.readouterr().out
    assert "not exported: GD never evaluates the loss" in out
    assert out.count("wrote ") == len(result.written)
