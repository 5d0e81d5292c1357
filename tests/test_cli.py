"""The command line, end to end on a small spec file."""

from __future__ import annotations

import csv
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gesbench.cli import build_parser, main
from gesbench.spec.experiment import load_experiment
from gesbench.store.reader import neutralise_formulas

SPEC = """
name = "tiny"
repetitions = 2
[budget]
kind = "evaluations"
limit = 120
[trace]
dense = 5
per_decade = 10
[[problems]]
name = "perturbed_quadratic"
params = { n = 20, m = 40 }
[[optimizers]]
name = "guided_es"
label = "Guided ES"
[[optimizers]]
name = "vanilla_es"
label = "Vanilla ES"
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(SPEC)
    return path


def test_list_shows_components_defaults_and_experiments(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("perturbed_quadratic", "guided_es", "vanilla_es", "surrogate_descent", "fig1"):
        assert name in out
    assert "alpha=0.5" in out and "beta=2.0" in out
    reproductions = out.split("Reproductions")[1]
    assert "fig1" in reproductions and "ICML 2019" in reproductions
    assert "logistic_regression" in reproductions and "not a published result" in reproductions


def test_a_run_without_a_report_never_imports_the_report_layer(spec_file, tmp_path):
    """The report layer (matplotlib, scipy.stats: about a second of imports) is loaded only to
    build a report, so a --no-report run starts its trials that much sooner."""
    script = (
        "import sys\n"
        "from gesbench.cli import main\n"
        f"assert main(['run', {str(spec_file)!r}, '--out', {str(tmp_path / 'run')!r}, "
        "'--no-report', '--no-progress']) == 0\n"
        "print(sorted(m for m in sys.modules if m.startswith('gesbench.report') "
        "or m in ('matplotlib', 'scipy.stats')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_run_report_export_round_trip(spec_file, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(spec_file), "--out", str(out), "--no-progress"]) == 0
    assert "4 done" in capsys.readouterr().out
    for name in ("results.sqlite", "convergence.png", "convergence.csv", "alignment.csv"):
        assert (out / name).is_file(), name
    curves = pd.read_csv(out / "convergence.csv")
    assert set(curves["label"]) == {"Guided ES", "Vanilla ES"}
    assert (curves["low"] <= curves["median"] + 1e-12).all()
    assert (curves["median"] <= curves["high"] + 1e-12).all()
    assert curves.loc[curves["x_name"] == "evaluations", "x"].max() == 120
    # Re-running resumes: nothing left to do, same store.
    assert main(["run", str(spec_file), "--out", str(out), "--no-progress", "--no-report"]) == 0
    assert main(["export", str(out), "--format", "csv"]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and trials["id"].is_unique


def test_overrides_from_the_command_line(spec_file, tmp_path):
    out = tmp_path / "quick"
    args = ["run", str(spec_file), "--out", str(out), "--no-progress", "--no-report"]
    assert main([*args, "--repetitions", "1", "--budget", "10"]) == 0
    assert main(["export", str(out)]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 2 and (trials["evaluations"] == 10).all()


def test_bad_input_gives_a_clear_message_and_exit_code_2(tmp_path, capsys):
    assert main(["run", "fig"]) == 2
    assert "Did you mean 'fig1'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text(SPEC.replace('name = "vanilla_es"', 'name = "vanila_es"'))
    assert main(["run", str(bad), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "optimizers[1].name" in err and "'vanilla_es'" in err
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "no gesbench result store" in capsys.readouterr().err


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("options", "exact"),
    [
        (["--budget", "1234567"], "--budget 1234567"),
        (["--budget", "0.30000000000000004"], "--budget 0.30000000000000004"),
        (["--budget", "1e3", "--repetitions", "3"], "--repetitions 3 --budget 1000"),
        (["--max-trials", "7"], "--max-trials 7"),
    ],
)
def test_the_resume_hint_repeats_the_overrides_exactly(
    spec_file, tmp_path, capsys, monkeypatch, options, exact
):
    """Following the printed hint must run the same trials: overrides are printed exactly
    (never 1.23457e+06), and the command reads back as the same arguments."""
    from gesbench.run import experiment

    monkeypatch.setattr(experiment, "run_experiment", interrupted)
    out = tmp_path / "a folder with spaces"
    args = ["run", str(spec_file), "--out", str(out), *options]
    assert main([*args, "--no-progress"]) == 130
    err = capsys.readouterr().err
    hint = err.split("Resume with the same command, e.g.: ")[1].strip()
    assert hint.endswith(exact)
    again = build_parser().parse_args(shlex.split(hint)[1:])
    first = build_parser().parse_args(args)
    for name in ("spec", "out", "budget", "repetitions", "max_trials"):
        assert getattr(again, name) == getattr(first, name), name
    spec = load_experiment(again.spec).with_overrides(again.repetitions, again.budget)
    original = load_experiment(first.spec).with_overrides(first.repetitions, first.budget)
    assert [t.id for t in spec.trials()] == [t.id for t in original.trials()]


def test_the_reproduce_resume_hint_repeats_its_overrides(tmp_path, capsys, monkeypatch):
    from gesbench.reproduce import check

    monkeypatch.setattr(check, "reproduce", interrupted)
    out = tmp_path / "fig1 quick"
    args = ["reproduce", "fig1", "--out", str(out), "--repetitions", "2", "--budget", "1234567"]
    assert main(args) == 130
    err = capsys.readouterr().err
    hint = err.split("Resume with the same command, e.g.: ")[1].strip()
    assert shlex.split(hint) == ["gesbench", *args]


def test_an_infinite_trial_timeout_means_no_limit(spec_file, tmp_path, capsys):
    args = ["run", str(spec_file), "--out", str(tmp_path / "run"), "--no-progress"]
    assert main([*args, "--no-report", "--trial-timeout", "inf"]) == 0
    assert "4 done" in capsys.readouterr().out
    assert build_parser().parse_args([*args, "--trial-timeout", "none"]).trial_timeout is None


def test_export_writes_the_current_experiment_unless_asked_for_all(spec_file, tmp_path):
    out = tmp_path / "run"
    args = ["run", str(spec_file), "--out", str(out), "--no-progress", "--no-report"]
    assert main(args) == 0
    assert main([*args, "--budget", "60"]) == 0  # another experiment in the same folder
    assert main(["export", str(out)]) == 0
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and (trials["evaluations"] == 60).all()
    traces = pd.read_csv(out / "traces.csv")
    assert set(traces["trial_id"]) == set(trials["id"])
    assert main(["export", str(out), "--all"]) == 0
    everything = pd.read_csv(out / "trials.csv")
    assert len(everything) == 8 and set(everything["evaluations"]) == {60, 120}


def test_exported_text_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    spec = tmp_path / "labels.toml"
    spec.write_text(
        SPEC.replace('label = "Guided ES"', 'label = "=HYPERLINK(\\"http://x\\",\\"y\\")"')
        .replace('label = "Vanilla ES"', 'label = "-2+3"')
        .replace('name = "perturbed_quadratic"', 'name = "perturbed_quadratic"\nlabel = "@SUM(A1)"')
    )
    out = tmp_path / "run"
    assert main(["run", str(spec), "--out", str(out), "--no-progress", "--no-report"]) == 0
    assert main(["export", str(out)]) == 0
    with open(out / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["label"] for r in rows} == {'\'=HYPERLINK("http://x","y")', "'-2+3"}
    assert {r["problem_label"] for r in rows} == {"'@SUM(A1)"}
    for row in rows:  # numbers, negative ones included, are untouched
        assert float(row["final_loss"]) == pytest.approx(float(row["final_loss"]))
        assert not row["final_loss"].startswith("'") and not row["repetition"].startswith("'")
    traces = pd.read_csv(out / "traces.csv")
    assert set(traces["label"]) == {'\'=HYPERLINK("http://x","y")', "'-2+3"}
    assert traces["loss"].dtype == float
    # Parquet keeps the values as they are: it is not opened by spreadsheets as text.
    assert main(["export", str(out), "--format", "parquet"]) == 0
    labels = set(pd.read_parquet(out / "trials.parquet")["label"])
    assert labels == {'=HYPERLINK("http://x","y")', "-2+3"}


def test_only_text_is_neutralised_never_numbers():
    frame = pd.DataFrame(
        {
            "number": [-1.5, 2.0],
            "count": [-3, 4],
            "text": ["-1.5", "+cmd|' /C calc'!A0"],
            "mixed": [-2.0, "=1+1"],
            "safe": ["GES", "a=b"],
        }
    )
    out = neutralise_formulas(frame)
    assert out["number"].tolist() == [-1.5, 2.0] and out["count"].tolist() == [-3, 4]
    assert out["text"].tolist() == ["'-1.5", "'+cmd|' /C calc'!A0"]
    assert out["mixed"].tolist() == [-2.0, "'=1+1"]
    assert out["safe"].tolist() == ["GES", "a=b"]
    assert frame["text"].tolist() == ["-1.5", "+cmd|' /C calc'!A0"]  # the input is left alone
