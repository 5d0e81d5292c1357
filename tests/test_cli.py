"""The command line, end to end on a small spec file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gesbench.cli import main

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
