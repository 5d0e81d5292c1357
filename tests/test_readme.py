"""The README's Python examples run as written and do what the text says."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from gesbench import parse_experiment
from gesbench.cli import build_parser
from gesbench.core.registry import optimizers, problems
from gesbench.run.experiment import run_experiment

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def run_blocks() -> dict:
    namespace: dict = {}
    for block in python_blocks():
        exec(compile(block, str(README), "exec"), namespace)
    return namespace


def test_ges_example_minimises_the_users_function(capsys):
    ns = run_blocks()
    result = ns["result"]
    assert result.fun < 0.1 * ns["f"](np.zeros(10))
    assert result.evaluations == 2 * result.iterations == 1000
    assert capsys.readouterr().out.strip()


def test_plugin_examples_run_through_the_harness(tmp_path):
    ns = run_blocks()
    with (
        problems.registered("readme_noisy_sphere", ns["NoisySphere"]),
        optimizers.registered("readme_sign_descent", ns["SignDescent"]),
    ):
        run_readme_plugins(tmp_path)


def run_readme_plugins(tmp_path):
    experiment = parse_experiment(
        {
            "name": "readme",
            "repetitions": 2,
            "budget": {"kind": "iterations", "limit": 100},
            "problems": [{"name": "readme_noisy_sphere", "params": {"n": 10}}],
            "optimizers": [
                {"name": "readme_sign_descent", "params": {"lr": 0.05}},
                {"name": "guided_es", "params": {"lr": 0.1}},
            ],
        }
    )
    counts = run_experiment(experiment, tmp_path, progress=False)
    assert counts == {"done": 4}


def test_the_contract_example_uses_every_hook_through_the_harness(tmp_path):
    from gesbench import load_results
    from gesbench.testing import check_optimizer, check_problem

    ns = run_blocks()
    check_problem(ns["ShiftedSphere"], {"n": 5})
    check_optimizer(ns["BestOfBatch"], {"batch": 4})
    with (
        problems.registered("readme_shifted_sphere", ns["ShiftedSphere"]),
        optimizers.registered("readme_best_of_batch", ns["BestOfBatch"]),
    ):
        experiment = parse_experiment(
            {
                "name": "contract",
                "repetitions": 2,
                "budget": {"kind": "evaluations", "limit": 203},
                "problems": [{"name": "readme_shifted_sphere", "params": {"n": 5}}],
                "optimizers": [{"name": "readme_best_of_batch", "params": {"batch": 8}}],
            }
        )
        assert run_experiment(experiment, tmp_path, progress=False) == {"done": 2}
    trials = load_results(tmp_path).trials
    assert (trials["evaluations"] == 203).all()  # the last step asked only for what was left
    assert (trials["final_distance"] < np.sqrt(5)).all()  # it moved towards the minimum


def test_the_command_list_names_every_subcommand():
    section = README.read_text().split("## Command line", 1)[1]
    listed = set(re.findall(r"^gesbench ([a-z-]+)", section.split("```")[1], flags=re.M))
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) <= listed, set(sub.choices) - listed
