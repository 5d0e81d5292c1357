"""The tuning stage end to end: tuning trials first, selection on tuning seeds only, evaluation
at the selection; stored, resumable and identical on any executor."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from gesbench import load_results
from gesbench.cli import main
from gesbench.core.optimizer import Optimizer
from gesbench.core.registry import optimizers
from gesbench.run import experiment as run_module
from gesbench.run import tuning as tuning_module
from gesbench.run.experiment import run_experiment
from gesbench.run.selection import rank_configurations
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.trial import TrialSpec
from gesbench.spec.tuning import UnequalTuningBudget
from gesbench.store.reader import read_meta

from spec_factory import small_spec

GRID = [0.05, 0.1, 0.2, 0.5, 1.0]


def tuned_spec(**overrides: object) -> dict:
    """Two tuned methods with equal grids and one untuned, on the small quadratic."""
    spec = small_spec(
        tuning={"repetitions": 2},
        optimizers=[
            {"name": "surrogate_descent", "label": "GD", "tune": {"lr": [0.005, 0.01, 0.02]}},
            {"name": "vanilla_es", "label": "ES", "tune": {"lr": GRID[:3]}},
            {"name": "guided_es", "label": "GES", "tune": {"lr": GRID[:3]}},
        ],
    )
    spec.update(overrides)
    return spec


def selection(run_dir) -> dict:
    """What a run selected and why: the whole stored tuning record (all of it must be
    reproducible)."""
    return read_meta(run_dir)["tuning"]


def numbers(run_dir) -> pd.DataFrame:
    """Every stored trace point (wall time aside), in a fixed order."""
    traces = load_results(run_dir).traces.drop(columns="wall_time")
    return traces.sort_values(["trial_id", "iteration"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Iterator:
    """A sequential run of :func:`tuned_spec`, done once for the module."""
    run_dir = tmp_path_factory.mktemp("reference")
    counts = run_experiment(parse_experiment(tuned_spec()), run_dir, progress=False)
    assert counts == {"done": 2 * 3 * 3 + 2 * 3}  # 18 tuning trials, 6 evaluation trials
    yield run_dir


def test_both_stages_are_stored_with_their_role_and_the_selection(reference):
    results = load_results(reference)
    trials = results.trials
    assert trials["role"].value_counts().to_dict() == {"tuning": 18, "evaluation": 6}
    assert set(trials.loc[trials["role"] == "tuning", "stage"]) == {"tuning"}
    assert set(trials.loc[trials["role"] == "tuning", "repetition"]) == {0, 1}
    assert set(results.traces["role"]) == {"tuning", "evaluation"}
    selected = results.selected.set_index("label")
    assert list(selected.index) == ["GD", "ES", "GES"]
    assert selected.loc["GES", "lr"] in GRID[:3]
    # The evaluation trials run exactly the selected setting.
    evaluation = trials[trials["role"] == "evaluation"].set_index("label")
    for label, lr in selected["lr"].items():
        assert isinstance(label, str)
        params = {json.loads(s)["optimizer_params"]["lr"] for s in evaluation["spec"].loc[[label]]}
        assert params == {lr}


def test_selection_is_the_best_median_final_value_on_the_tuning_seeds(reference):
    record = selection(reference)
    points = pd.DataFrame(record["trials"])
    points["lr"] = points["params"].map(lambda p: p["lr"])
    medians = points.groupby(["label", "lr"])["final"].median()
    for row in record["selected"]:
        best = medians[row["label"]].idxmin()
        assert row["params"] == {"lr": best}
        assert row["score"] == pytest.approx(medians[row["label"]].min())
    # Every tuning trial's final value is its last logged excess loss.
    traces = load_results(reference).traces
    last = traces.sort_values("iteration").groupby("trial_id")["excess_loss"].last()
    assert points.set_index("id")["final"].to_dict() == last[points["id"]].to_dict()


def test_selection_ignores_evaluation_repetitions_and_never_shares_their_seeds(tmp_path, reference):
    more = parse_experiment(tuned_spec(repetitions=4))
    run_experiment(more, tmp_path, progress=False)
    mine = selection(tmp_path)
    theirs = selection(reference)
    for key in ("trials", "table", "settings", "costs"):
        assert mine[key] == theirs[key], key
    assert [{k: v for k, v in r.items() if k != "trial_ids"} for r in mine["selected"]] == [
        {k: v for k, v in r.items() if k != "trial_ids"} for r in theirs["selected"]
    ]
    # No evaluation trial shares a problem instance or a seed stream with a tuning trial.
    trials = [TrialSpec.from_dict(json.loads(s)) for s in load_results(tmp_path).trials["spec"]]
    draws = {
        t.id: [tuple(g.integers(0, 2**63, size=4)) for g in t.streams()] + [t.stage] for t in trials
    }
    tuning = [d for d in draws.values() if d[-1] == "tuning"]
    evaluation = [d for d in draws.values() if d[-1] == "evaluation"]
    assert len(tuning) == 18 and len(evaluation) == 12
    for stream in range(4):  # problem instance, optimizer, surrogate noise, logging
        seen = {d[stream] for d in tuning}
        assert not seen & {d[stream] for d in evaluation}, stream


def test_same_selection_and_numbers_on_the_process_pool(tmp_path, reference):
    run_experiment(parse_experiment(tuned_spec()), tmp_path, workers=2, progress=False)
    assert selection(tmp_path) == selection(reference)
    pd.testing.assert_frame_equal(numbers(tmp_path), numbers(reference), check_exact=True)


def interrupting(after: int, real=run_module.open_executor):
    """An ``open_executor`` whose session yields ``after`` results, then raises
    KeyboardInterrupt (Ctrl-C)."""
    state = {"left": after}

    @contextmanager
    def open_executor(*args, **kwargs):
        with real(*args, **kwargs) as session:
            real_batches = session.batches

            def batches(specs):
                results = real_batches(specs)
                try:
                    for batch in results:
                        for result in batch:
                            if state["left"] == 0:
                                raise KeyboardInterrupt
                            state["left"] -= 1
                            yield [result]
                finally:
                    results.close()

            session.batches = batches
            yield session

    return open_executor


@pytest.mark.parametrize("after", [7, 20])  # in the tuning stage; in the evaluation stage
def test_resume_after_an_interruption_gives_the_same_selection_and_numbers(
    tmp_path, reference, monkeypatch, after
):
    experiment = parse_experiment(tuned_spec())
    with monkeypatch.context() as patch:
        patch.setattr(run_module, "open_executor", interrupting(after))
        with pytest.raises(KeyboardInterrupt):
            run_experiment(experiment, tmp_path, progress=False)
    stored = load_results(tmp_path, all_trials=True).trials
    assert len(stored) == after
    counts = run_experiment(experiment, tmp_path, progress=False)
    assert counts == {"done": 24}
    assert selection(tmp_path) == selection(reference)
    pd.testing.assert_frame_equal(numbers(tmp_path), numbers(reference), check_exact=True)
    # Running again re-selects identically and runs nothing.
    before = load_results(tmp_path).trials.set_index("id")["started"]
    run_experiment(experiment, tmp_path, progress=False)
    assert load_results(tmp_path).trials.set_index("id")["started"].equals(before)
    assert selection(tmp_path) == selection(reference)


def test_successive_halving_runs_rungs_at_fractions_of_the_budget(tmp_path):
    spec = tuned_spec(tuning={"repetitions": 2, "strategy": "halving", "eta": 2})
    spec["optimizers"] = [
        {"name": "vanilla_es", "label": "ES", "tune": {"lr": GRID[:4]}},
        {"name": "guided_es", "label": "GES", "tune": {"lr": GRID[:4]}},
    ]
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    record = selection(tmp_path)
    assert [r["budget"]["limit"] for r in record["schedule"]] == [38, 75, 150]
    table = pd.DataFrame(record["table"])
    runs = table.groupby(["label", "rung"]).size().to_dict()
    assert runs == {(m, r): n for m in ("ES", "GES") for r, n in enumerate([4, 2, 1])}
    # The survivors of a rung are its best half; the one left at the last rung is selected.
    for label, g in table.groupby("label"):
        first = g[g["rung"] == 0].sort_values("score")
        second = g[g["rung"] == 1]
        assert set(second["config"]) == set(first["config"].iloc[:2])
        last = g[g["rung"] == 2]
        chosen = next(r for r in record["selected"] if r["label"] == label)
        assert chosen["config"] == int(last["config"].iloc[0])
    trials = load_results(tmp_path).trials
    tuning = trials[trials["role"] == "tuning"]
    assert sorted(tuning["iterations"].unique()) == [38, 75, 150]
    assert len(tuning) == 2 * 2 * (4 + 2 + 1)


def test_shared_scope_selects_one_setting_per_method_for_every_problem(tmp_path):
    spec = tuned_spec(tuning={"repetitions": 2, "scope": "shared", "select": "mean_rank"})
    spec["problems"] = [
        {"name": "perturbed_quadratic", "label": "Q30", "params": {"n": 30, "m": 60}},
        {"name": "perturbed_quadratic", "label": "Q20", "params": {"n": 20, "m": 40}},
    ]
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    selected = load_results(tmp_path).selected
    assert len(selected) == 6
    assert (selected.groupby("label")["lr"].nunique() == 1).all()
    assert set(selected["scope"]) == {"shared"}


class Exploding(Optimizer):
    """Diverges at once when its step is above 1 (a stand-in for a too-large step size)."""

    defaults: ClassVar = {"lr": 0.1}

    def step(self, oracle):
        grad = oracle.surrogate_grad(self.x)
        self.x = self.x - (np.inf if self.params["lr"] > 1 else self.params["lr"]) * grad


@pytest.fixture
def exploding():
    with optimizers.registered("test_exploding_step", Exploding):
        yield


def test_edges_and_divergence_are_noted(tmp_path, exploding):
    spec = tuned_spec()
    spec["optimizers"] = [
        {"name": "test_exploding_step", "label": "Big", "tune": {"lr": [2.0, 3.0, 4.0]}},
        {"name": "test_exploding_step", "label": "Small", "tune": {"lr": [0.0005, 0.001, 0.002]}},
    ]
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    notes = load_results(tmp_path).selected.set_index("label")["notes"]
    assert "every configuration diverged (or failed) on every tuning seed" in notes["Big"]
    assert "lr = 0.002 is the largest value tried (lr in [0.0005, 0.001, 0.002])" in notes["Small"]
    trials = load_results(tmp_path).trials
    assert set(trials.loc[trials["role"] == "tuning", "status"]) == {"done", "diverged"}


def test_a_tuned_method_that_selects_another_entrys_setting_shares_its_trials(tmp_path):
    spec = tuned_spec()
    spec["optimizers"] = [
        {"name": "vanilla_es", "label": "ES (stated)", "params": {"lr": 1.0}},
        {"name": "vanilla_es", "label": "ES (tuned)", "tune": {"lr": [1.0, 100.0]}},
    ]
    with pytest.warns(UnequalTuningBudget, match=r"ES \(stated\) 0"):
        run_experiment(parse_experiment(spec), tmp_path, progress=False)
    results = load_results(tmp_path)
    assert results.selected["lr"].tolist() == [1.0]  # lr 100 diverges
    evaluation = results.trials[results.trials["role"] == "evaluation"]
    assert evaluation.groupby("label").size().to_dict() == {"ES (stated)": 2, "ES (tuned)": 2}
    assert evaluation["id"].nunique() == 2  # the same two trials, shown under both labels
    assert len(read_meta(tmp_path)["trial_ids"]) == 2 * 2 + 2


def test_unequal_budgets_warn_and_the_cli_states_each_cost(tmp_path, capsys):
    spec = tuned_spec()
    spec["optimizers"][0] = {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.01}}
    with pytest.warns(UnequalTuningBudget, match="GD 0, ES 900, GES 900"):
        run_experiment(parse_experiment(spec), tmp_path / "api", progress=False)
    path = tmp_path / "spec.toml"
    path.write_text(
        'name = "tiny"\nrepetitions = 2\n[budget]\nlimit = 60\n[tuning]\nrepetitions = 2\n'
        '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 20, m = 40 }\n'
        '[[optimizers]]\nname = "guided_es"\ntune = { lr = [0.1, 0.2] }\n'
        '[[optimizers]]\nname = "vanilla_es"\nparams = { lr = 0.5 }\n'
    )
    out = tmp_path / "cli"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnequalTuningBudget)  # printed, not raised
        code = main(["run", str(path), "--out", str(out), "--no-progress", "--no-report"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tuning: 4 tuning trials first; 2 tuning seeds, select median_final" in printed
    assert "  guided_es: 2 configurations, 4 tuning trials = 240 iterations per problem" in printed
    assert "warning: methods get unequal tuning budgets" in printed
    assert "8 done" in printed
    assert main(["export", str(out)]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert trials["role"].value_counts().to_dict() == {"tuning": 4, "evaluation": 4}
    chosen = pd.read_csv(out / "selected.csv")
    assert chosen[["problem_label", "label"]].values.tolist() == [
        ["perturbed_quadratic", "guided_es"]
    ]
    assert chosen["lr"].iloc[0] in (0.1, 0.2)


def test_a_later_spec_without_tuning_in_the_same_folder_drops_the_old_selection(tmp_path):
    run_experiment(parse_experiment(tuned_spec()), tmp_path, progress=False)
    run_experiment(parse_experiment(small_spec()), tmp_path, progress=False)
    results = load_results(tmp_path)
    assert results.selected.empty and set(results.trials["role"]) == {"evaluation"}
    assert "tuning" not in read_meta(tmp_path)
    everything = load_results(tmp_path, all_trials=True).trials
    assert (everything["role"] == "tuning").sum() == 18  # kept in the store, not shown


class Flaky(Optimizer):
    """Gradient steps of 0.005 lr; above lr 1 a die cast from its own stream (one per trial)
    throws it off on about a third of the seeds (a step at the edge of stability)."""

    defaults: ClassVar = {"lr": 0.1}

    def start(self, x0):
        super().start(x0)
        self.off = self.params["lr"] > 1 and self.rng.random() < 1 / 3

    def step(self, oracle):
        grad = oracle.surrogate_grad(self.x)
        self.x = self.x - (np.inf if self.off else 0.005 * self.params["lr"]) * grad


def worst_finals(record: dict) -> pd.Series:
    """Per (label, rung, config): the largest stored final value (None, not finite, is inf)."""
    points = pd.DataFrame(record["trials"])
    points["final"] = points["final"].astype(float).fillna(np.inf)
    return points.groupby(["label", "rung", "config"])["final"].max()


def test_worst_final_selects_a_setting_that_finished_every_tuning_seed(tmp_path):
    spec = tuned_spec(tuning={"repetitions": 3, "select": "worst_final"})
    spec["optimizers"] = [
        {"name": "test_flaky_step", "label": "Flaky", "tune": {"lr": [0.5, 1.5, 2.5, 3.5]}}
    ]
    with optimizers.registered("test_flaky_step", Flaky):
        run_experiment(parse_experiment(spec), tmp_path, progress=False)
    record = selection(tmp_path)
    worst = worst_finals(record)["Flaky"][0]
    (chosen,) = record["selected"]
    assert chosen["criterion"] == "worst_final"
    assert chosen["score"] == worst[chosen["config"]] == worst.min()
    assert np.isfinite(worst[0])  # lr 0.5 is never thrown off: the selection finished every seed
    assert np.isfinite(chosen["score"])
    # The case worst_final exists for: a larger step thrown off on some seeds, not all, with
    # the best median; median_final (on the same stored trials) takes it.
    points = pd.DataFrame(record["trials"])
    points["final"] = points["final"].astype(float).fillna(np.inf)
    medians = points.groupby("config")["final"].median()
    flaky = [c for c in worst.index if worst[c] == np.inf and np.isfinite(medians[c])]
    assert flaky, "no setting was thrown off on some seeds only: change the grid or the die"
    assert medians.idxmin() in flaky and chosen["config"] not in flaky


def test_worst_final_with_halving_keeps_the_lowest_worst_seed_at_every_rung(tmp_path):
    spec = tuned_spec(
        tuning={"repetitions": 2, "strategy": "halving", "eta": 2, "select": "worst_final"}
    )
    spec["optimizers"] = [{"name": "vanilla_es", "label": "ES", "tune": {"lr": GRID[:4]}}]
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    record = selection(tmp_path)
    worst = worst_finals(record)["ES"]
    table = pd.DataFrame(record["table"]).set_index(["rung", "config"])
    assert table["score"].to_dict() == worst.to_dict()
    for rung in (0, 1):
        kept = set(table.loc[rung + 1].index)
        assert kept == set(worst[rung].nsmallest(len(kept)).index)
    (chosen,) = record["selected"]
    assert chosen["score"] == worst[2][chosen["config"]] == worst[2].min()


def test_worst_final_notes_when_every_setting_diverged_on_some_tuning_seed():
    experiment = parse_experiment(tuned_spec(tuning={"select": "worst_final"}))
    cells = pd.DataFrame(
        [
            {
                "id": f"{c}-{r}",
                "problem": 0,
                "entry": 0,
                "config": c,
                "repetition": r,
                "status": "diverged" if r == c else "done",
                "final": np.inf if r == c else 0.1,
                "auc": np.inf if r == c else -1.0,
                "survival": 0.5 if r == c else 1.0,
            }
            for c in range(3)
            for r in range(3)  # config c diverged on seed c only
        ]
    )
    table = rank_configurations(cells, "worst_final", "per_problem")
    (pick,) = tuning_module._select(experiment, table, table, {}).values()
    assert pick["config"] == 0 and pick["score"] is None
    (note,) = [n for n in pick["notes"] if "tie" in n or "diverged" in n]
    assert "every configuration diverged (or failed) on at least one tuning seed" in note
    assert "lr=0.005" in note


@pytest.mark.parametrize(
    ("select", "said"),
    [
        ("worst_final", "(by the seed that diverged soonest, then the median over seeds)"),
        ("median_final", "(median over seeds)"),
    ],
)
def test_a_tie_note_states_the_tie_break_of_its_criterion(select, said):
    experiment = parse_experiment(
        small_spec(
            tuning={"select": select, "scope": "shared"},
            optimizers=[{"name": "guided_es", "label": "GES", "tune": {"lr": [0.1, 0.2]}}],
        )
    )
    first_rung = pd.DataFrame({"median_final": [1.0, 1.0], "diverged": 0, "failed": 0, "n": 3})
    notes = tuning_module._notes(
        experiment, experiment.optimizers[0], 0, [0, 1], first_rung, 0, 1.0
    )
    (tie,) = [note for note in notes if note.startswith("tie:")]
    assert f"budget spent before diverging {said}, then by listing order" in tie
