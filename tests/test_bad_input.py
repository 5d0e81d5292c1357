"""Bad input at every boundary gives gesbench's own error, naming what is wrong; the CLI turns
it into one line on stderr and exit code 2 (argparse's own checks also exit with 2)."""

from __future__ import annotations

from typing import Any

import pytest

from gesbench.cli import main
from gesbench.core.errors import GesbenchError, SpecError, StoreError
from gesbench.core.registry import optimizers, problems
from gesbench.run.executors import execute
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import load_experiment, parse_experiment

from spec_factory import small_spec

TINY = """
name = "tiny"
repetitions = 1
[budget]
limit = 5
[[problems]]
name = "perturbed_quadratic"
params = { n = 4, m = 8 }
[[optimizers]]
name = "guided_es"
"""


def with_optimizer_params(**params: object) -> dict:
    spec = small_spec()
    spec["optimizers"][2]["params"] = params
    return spec


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"k": True}, r"^optimizers\[2\]\.params\.k: expects int, got True \(bool\)$"),
        ({"k": 1.5}, r"^optimizers\[2\]\.params\.k: expects int, got 1.5 \(float\)$"),
        (
            {"sigma": [0.1]},
            r"^optimizers\[2\]\.params\.sigma: expects float, got \[0.1\] \(list\)$",
        ),
        ({"update": 1}, r"^optimizers\[2\]\.params\.update: expects str, got 1 \(int\)$"),
        ({"sigma": 0.0}, r"^optimizers\[2\]\.params\.sigma: must be > 0"),
        ({"beta": -1.0}, r"^optimizers\[2\]\.params\.beta: must be > 0"),
        ({"pairs": 0}, r"^optimizers\[2\]\.params\.pairs: must be >= 1"),
        ({"update": "adamw"}, r"^optimizers\[2\]\.params\.update: must be one of"),
        (
            {"sigam": 0.1},
            r"^optimizers\[2\]\.params: unknown parameter 'sigam'. Did you mean 'sigma'\?",
        ),
    ],
)
def test_mistyped_or_out_of_range_hyperparameters_name_the_field(params, message):
    with pytest.raises(SpecError, match=message):
        parse_experiment(with_optimizer_params(**params))


def test_unknown_names_suggest_close_matches_directly_and_in_specs():
    with pytest.raises(
        GesbenchError, match=r"unknown optimizer 'vanila_es'\. Did you mean 'vanilla_es'"
    ):
        optimizers.get("vanila_es")
    with pytest.raises(GesbenchError, match="Did you mean 'perturbed_quadratic'"):
        problems.get("perturbed_quadratik")
    spec = small_spec()
    spec["problems"][0]["name"] = "perturbed_quadratik"
    with pytest.raises(
        SpecError, match=r"problems\[0\]\.name: .*Did you mean 'perturbed_quadratic'"
    ):
        parse_experiment(spec)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("budget", {"kind": "iterations", "limit": 0}, r"budget\.limit: expected a positive"),
        ("budget", {"kind": "iterations", "limit": -1.5}, r"budget\.limit: expected a positive"),
        ("budget", {"kind": "evaluations", "limit": "10"}, r"budget\.limit"),
        ("budget", {"limit": 10, "evaluation_cost": 0}, r"budget\.evaluation_cost"),
        ("budget", {"limit": 10, "per": 3}, r"budget: unknown field\(s\) per"),
        ("repetitions", 0, r"repetitions: expected an integer >= 1, got 0"),
        ("repetitions", -3, r"repetitions: expected an integer >= 1"),
        ("repetitions", 2.0, r"repetitions: expected an integer >= 1, got 2.0"),
        ("repetitions", True, r"repetitions: expected an integer >= 1, got True"),
    ],
)
def test_budgets_and_repetitions_must_be_positive(field, value, message):
    with pytest.raises(SpecError, match=message):
        parse_experiment(small_spec(**{field: value}))


def test_executor_arguments_are_checked_before_anything_runs(small_experiment):
    trials = small_experiment.trials()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"executor": "threads"}, "unknown executor 'threads'; choose from sequential"),
        ({"workers": 0}, "workers must be >= 1"),
        ({"timeout": 0.0}, "trial timeout must be a positive finite number"),
        ({"timeout": float("inf")}, "trial timeout must be a positive finite number"),
        ({"retries": -1}, "retries must be >= 0"),
        (
            {"executor": "sequential", "scheduler": "tcp://localhost:8786"},
            "needs the 'dask' executor",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(GesbenchError, match=message):
            execute(trials, **kwargs)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--trial-timeout", "0"], "--trial-timeout: expected a positive number, got 0"),
        (["--trial-timeout", "-2"], "--trial-timeout: expected a positive number"),
        (["--workers", "0"], "--workers: expected an integer >= 1, got 0"),
        (["--repetitions", "0"], "--repetitions: expected an integer >= 1"),
        (["--budget", "0"], "--budget: expected a positive number"),
        (["--budget", "inf"], "--budget: expected a positive finite number, got inf"),
        (["--budget", "lots"], "--budget: expected a positive number, got lots"),
        (["--trial-timeout", "nan"], "--trial-timeout: expected a positive number, got nan"),
        (["--repetitions", "2.5"], "--repetitions: expected an integer >= 1, got 2.5"),
        (["--max-trials", "0"], "--max-trials: expected an integer >= 1, got 0"),
        (["--executor", "threads"], "--executor: invalid choice: 'threads'"),
    ],
)
def test_bad_run_options_are_refused_by_the_command_line(tmp_path, capsys, options, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "fig1", "--out", str(tmp_path / "run"), *options])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_scheduler_without_the_dask_executor_is_refused(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    args = ["run", str(spec), "--out", str(tmp_path / "run"), "--executor", "processes"]
    assert main([*args, "--scheduler", "tcp://localhost:8786"]) == 2
    assert "a scheduler address needs the 'dask' executor" in capsys.readouterr().err


def test_paths_that_do_not_exist_or_are_not_folders(tmp_path, capsys):
    with pytest.raises(SpecError, match=r"spec file .*missing\.toml' does not exist"):
        load_experiment(tmp_path / "missing.toml")
    for command in (["report"], ["export"]):
        assert main([*command, str(tmp_path / "nowhere")]) == 2
        assert "no gesbench result store in" in capsys.readouterr().err
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    assert main(["run", str(spec), "--out", str(a_file), "--no-progress"]) == 2
    assert f"cannot use '{a_file}' as a run folder" in capsys.readouterr().err
    with pytest.raises(StoreError, match="as a run folder"):
        run_experiment(parse_experiment(small_spec()), a_file / "sub", progress=False)


def test_a_store_that_is_not_sqlite_is_refused(tmp_path, capsys):
    (tmp_path / "results.sqlite").write_text("this is not a database" * 100)
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    assert main(["run", str(spec), "--out", str(tmp_path), "--no-progress"]) == 2
    assert "is not a readable gesbench result store" in capsys.readouterr().err
