"""--problems / --optimizers for run and report: add or re-run one method in a run folder
without touching the others, and report a subset without overwriting the full report."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from gesbench import load_results
from gesbench.cli import _overrides, build_parser, main
from gesbench.core.errors import SpecError
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.filters import Selection, match_patterns
from gesbench.spec.tuning import UnequalTuningBudget
from gesbench.store.reader import read_meta

from spec_factory import small_spec

SPEC = """
name = "filters"
repetitions = 2
[budget]
kind = "iterations"
limit = 60
[trace]
dense = 5
per_decade = 5
[[problems]]
name = "perturbed_quadratic"
label = "Quad small"
params = { n = 8, m = 16 }
[[problems]]
name = "biased_quadratic"
label = "Biased"
params = { n = 8 }
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
    path = tmp_path / "filters.toml"
    path.write_text(SPEC)
    return path


def stored(run_dir: Path) -> pd.DataFrame:
    return load_results(run_dir).trials.set_index("id")[["problem_label", "label", "started"]]


def run(spec_file: Path, out: Path, *extra: str) -> int:
    return main(["run", str(spec_file), "--out", str(out), "--no-progress", *extra])


def test_patterns_match_names_or_labels_with_wildcards_and_no_case():
    entries = [("surrogate_descent", "GD"), ("vanilla_es", "ES"), ("guided_es", "GES")]
    assert match_patterns(["ges"], entries, "--optimizers") == ["GES"]
    assert match_patterns(["*_es"], entries, "--optimizers") == ["ES", "GES"]
    assert match_patterns(["G?", "vanilla*"], entries, "--optimizers") == ["GD", "ES"]
    with pytest.raises(SpecError) as caught:
        match_patterns(["cma*"], entries, "--optimizers")
    assert str(caught.value).startswith(
        "--optimizers 'cma*' matches nothing; available labels: GD, ES, GES "
        "(names: guided_es, surrogate_descent, vanilla_es)"
    )


def test_one_method_is_added_to_a_run_folder_without_touching_the_rest(spec_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(spec_file, out, "--optimizers", "GD", "ES", "--no-report") == 0
    assert "trials: 8 done" in capsys.readouterr().out
    first = stored(out)
    assert set(first["label"]) == {"GD", "ES"} and len(first) == 8

    assert run(spec_file, out, "--optimizers", "guided_es", "--problems", "quad*") == 0
    assert "trials: 2 done" in capsys.readouterr().out  # counts are the chosen trials'
    second = stored(out)
    pd.testing.assert_frame_equal(second.loc[first.index], first)  # the others untouched
    added = second.drop(index=first.index)
    assert set(added["label"]) == {"GES"} and set(added["problem_label"]) == {"Quad small"}
    # The folder still describes the whole spec, and its report shows every stored method.
    assert read_meta(out)["experiment"]["optimizers"][2]["label"] == "GES"
    curves = pd.read_csv(out / "convergence.csv")
    assert set(curves["label"]) == {"GD", "ES", "GES"}

    assert run(spec_file, out, "--no-report") == 0  # the rest: 2 more GES trials
    assert "trials: 12 done" in capsys.readouterr().out
    assert len(stored(out)) == 12


def test_rerun_runs_the_chosen_trials_again_and_only_those(spec_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert run(spec_file, out, "--no-report") == 0
    before = load_results(out).trials.set_index("id")
    assert run(spec_file, out, "--rerun", "--no-report") == 2
    assert "--rerun discards the stored trials" in capsys.readouterr().err
    assert run(spec_file, out, "--rerun", "--optimizers", "ES", "--problems", "Biased") == 0
    text = capsys.readouterr().out
    assert "--rerun: discarded 2 stored trial(s) of problems=Biased optimizers=ES" in text
    after = load_results(out).trials.set_index("id").loc[before.index]
    again = (before["label"] == "ES") & (before["problem_label"] == "Biased")
    assert (after.loc[again, "started"] > before.loc[again, "started"]).all()
    assert (after.loc[~again, "started"] == before.loc[~again, "started"]).all()
    # Same trials, same seeds: the same numbers.
    assert after["final_loss"].tolist() == before["final_loss"].tolist()


def test_a_pattern_that_matches_nothing_is_an_error_listing_what_there_is(
    spec_file, tmp_path, capsys
):
    out = tmp_path / "run"
    assert run(spec_file, out, "--optimizers", "cma*") == 2
    err = capsys.readouterr().err
    assert "--optimizers 'cma*' matches nothing; available labels: GD, ES, GES" in err
    assert not (out / "results.sqlite").exists()
    assert run(spec_file, out, "--dry-run", "--problems", "nope") == 2
    assert "available labels: Quad small, Biased" in capsys.readouterr().err


def test_a_filtered_report_goes_to_its_own_folder_and_leaves_the_full_report(
    spec_file, tmp_path, capsys
):
    out = tmp_path / "run"
    assert run(spec_file, out) == 0
    full = {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()
    }
    capsys.readouterr()
    assert main(["report", str(out), "--optimizers", "GES", "ES", "--problems", "Biased"]) == 0
    written = [Path(line.removeprefix("wrote ")) for line in capsys.readouterr().out.splitlines()]
    subset = out / "subsets" / Selection(("Biased",), ("GES", "ES")).slug()
    assert subset.name.startswith("problems=Biased+optimizers=GES,ES-")
    assert written and all(p.parent == subset for p in written)
    assert {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir() if p.is_file()
    } == full
    curves = pd.read_csv(subset / "convergence.csv")
    assert set(curves["label"]) == {"GES", "ES"} and set(curves["problem_label"]) == {"Biased"}
    assert "GD" not in set(pd.read_csv(subset / "final_results.csv")["label"])
    assert (subset / "report.html").is_file() and (subset / "summary.md").is_file()
    assert main(["report", str(out), "--problems", "nope"]) == 2
    assert "--problems 'nope' matches nothing" in capsys.readouterr().err


def test_a_filtered_run_resumes_filtered():
    args = build_parser().parse_args(["run", "x", "--optimizers", "GES", "E*", "--problems", "q"])
    assert _overrides(args) == ["--problems", "q", "--optimizers", "GES", "E*"]


def tuned_spec() -> dict:
    return small_spec(
        repetitions=1,
        tuning={"repetitions": 2},
        optimizers=[
            {"name": "surrogate_descent", "label": "GD", "tune": {"lr": [0.005, 0.01, 0.02]}},
            {"name": "guided_es", "label": "GES", "tune": {"lr": [0.05, 0.1, 0.2]}},
        ],
    )


def test_a_filtered_tuned_run_selects_exactly_what_the_full_run_selects(tmp_path):
    experiment = parse_experiment(tuned_spec())
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "tuning trials failed" for GD
        warnings.simplefilter("ignore", UnequalTuningBudget)
        counts = run_experiment(
            experiment, tmp_path / "part", progress=False, only=Selection.of(None, ["GES"])
        )
    assert counts == {"done": 3 * 2 + 1}
    run_experiment(experiment, tmp_path / "full", progress=False)

    def ges(run_dir: Path) -> tuple:
        trials = load_results(run_dir).trials
        ids = sorted(trials.loc[trials["label"].str.startswith("GES"), "id"])
        selected = read_meta(run_dir)["tuning"]["selected"]
        return ids, json.dumps([r for r in selected if r["label"] == "GES"], sort_keys=True)

    assert ges(tmp_path / "part") == ges(tmp_path / "full")
