"""The report of a tuned run: the verdict uses evaluation trials only, and a Tuning section
states the protocol, each method's budget, the selection with its notes, default vs tuned, and
draws a sensitivity figure per method."""

from __future__ import annotations

import pandas as pd
import pytest

from gesbench.report.build import build_report, load_run
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.tuning import UnequalTuningBudget

from spec_factory import small_spec


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    """GD at a stated step and tuned, vanilla ES and Guided ES tuned (GES's grid has a
    diverging edge), 2 tuning seeds, 2 evaluation repetitions."""
    run_dir = tmp_path_factory.mktemp("tuned")
    spec = small_spec(
        tuning={"repetitions": 2},
        optimizers=[
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.02}},
            {"name": "surrogate_descent", "label": "GD (tuned)", "tune": {"lr": [0.01, 0.02]}},
            {"name": "vanilla_es", "label": "ES", "tune": {"lr": [0.2, 0.5, 1.0]}},
            {"name": "guided_es", "label": "GES", "tune": {"lr": [0.1, 0.2, 0.5]}},
        ],
    )
    with pytest.warns(UnequalTuningBudget):
        run_experiment(parse_experiment(spec), run_dir, progress=False)
    build_report(run_dir)
    return run_dir


def test_the_verdict_never_sees_a_tuning_trial(tuned_run):
    run = load_run(tuned_run)
    assert set(run.trials["role"]) == {"evaluation"}
    assert set(run.traces["trial_id"]) <= set(run.trials["id"])
    assert sorted(run.labels) == ["ES", "GD", "GD (tuned)", "GES"]
    finals = pd.read_csv(tuned_run / "final_results.csv")
    assert set(finals["label"]) == {"ES", "GD", "GD (tuned)", "GES"}
    assert (finals["n"] == 2).all()  # the evaluation repetitions, nothing from tuning
    curves = pd.read_csv(tuned_run / "convergence.csv")
    assert not curves["label"].str.contains("tuning").any()


def test_tuning_section_states_protocol_budgets_selection_and_notes(tuned_run):
    text = (tuned_run / "summary.md").read_text()
    section = text.split("## Tuning")[1].split("\n## ")[0]
    assert "selected on 2 tuning seeds" in section
    assert "no tuning trial enters them" in section
    assert "Unequal tuning budgets" in section and "GD 0" in section
    assert "not tuned" in section
    tuning = pd.read_csv(tuned_run / "tuning.csv")
    assert list(tuning["label"]) == ["GD (tuned)", "ES", "GES"]
    assert set(tuning.columns) >= {"problem_label", "setting", "param_lr", "score", "notes"}
    es = tuning.set_index("label").loc["ES"]
    if es["param_lr"] == 1.0:  # the largest value of ES's grid: said so
        assert "lr = 1 is the largest value tried" in es["notes"]
        assert "lr = 1 is the largest value tried" in section
    budget = pd.read_csv(tuned_run / "tuning_budget.csv").set_index("label")
    assert budget.loc["ES", "per_problem"] == 3 * 2 * 150
    assert budget.loc["GD", "per_problem"] == 0


def test_default_vs_tuned_is_shown_where_the_spec_runs_both(tuned_run):
    compared = pd.read_csv(tuned_run / "default_vs_tuned.csv")
    assert compared[["tuned", "default"]].values.tolist() == [["GD (tuned)", "GD"]]
    row = compared.iloc[0]
    assert row["default_setting"] == "lr=0.02"
    assert row["tuned_n"] == row["default_n"] == 2
    assert row["same_trials"] == (row["tuned_setting"] == "lr=0.02")
    if row["same_trials"]:
        assert row["tuned_median"] == row["default_median"]
    # Two values: the interval is [min, max] (coverage 50%), and the report says so.
    assert row["tuned_low"] <= row["tuned_median"] <= row["tuned_high"]
    assert "[min, max] of 2, 50%" in (tuned_run / "summary.md").read_text()


def test_a_sensitivity_figure_per_tuned_method(tuned_run):
    for slug in ("gd_tuned", "es", "ges"):
        assert (tuned_run / f"sensitivity_{slug}.png").is_file()
        data = pd.read_csv(tuned_run / f"sensitivity_{slug}.csv")
        assert set(data["repetition"]) == {0, 1}  # the tuning seeds
    assert not (tuned_run / "sensitivity_gd.png").exists()  # GD is not tuned


def test_a_run_without_tuning_has_no_tuning_section(tmp_path, small_experiment):
    run_experiment(small_experiment, tmp_path, progress=False)
    build_report(tmp_path)
    assert "## Tuning" not in (tmp_path / "summary.md").read_text()
    assert not (tmp_path / "tuning.csv").exists()
