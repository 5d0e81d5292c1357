"""A small real run folder for the report tests, run through the real harness: two quadratics,
a GES sweep, one method that diverges, and one whose trials fail on the smaller problem."""

from __future__ import annotations

import shutil
from pathlib import Path

from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import parse_experiment

TINY_SPEC = {
    "name": "tiny",
    "description": "small report test run",
    "repetitions": 3,
    "budget": {"kind": "iterations", "limit": 60},
    "trace": {"dense": 10, "per_decade": 20},
    "problems": [
        {"name": "perturbed_quadratic", "label": "Quadratic n=20", "params": {"n": 20, "m": 40}},
        {"name": "perturbed_quadratic", "label": "Quadratic n=30", "params": {"n": 30, "m": 60}},
    ],
    "optimizers": [
        {"name": "surrogate_descent", "label": "Gradient descent", "params": {"lr": 0.05}},
        {"name": "surrogate_descent", "label": "Exploding descent", "params": {"lr": 1e3}},
        {"name": "vanilla_es", "label": "Vanilla ES", "params": {"sigma": 0.1, "lr": 0.2}},
        # k = 25 > n = 20: fails when started on the smaller problem (status 'failed').
        {"name": "guided_es", "label": "Too-large subspace", "params": {"k": 25}},
        {
            "name": "guided_es",
            "label": "Guided ES",
            "params": {"sigma": 0.1, "lr": 0.2},
            "sweep": {"alpha": [0.5, 0.75], "beta": [1.0, 2.0]},
        },
    ],
}

FIGURES = [
    "convergence", "alignment", "ecdf", "performance_profile", "win_rate", "sweep_guided_es",
    "theory_bias_variance", "theory_phase",
]  # fmt: skip
TABLES = ["final_results.csv", "ecdf_hits.csv"]
DOCUMENTS = ["report.html", "summary.md"]


def tiny_run(run_dir: Path) -> Path:
    """Run the tiny experiment into ``run_dir`` (sequentially, no progress bar)."""
    run_experiment(parse_experiment(TINY_SPEC), run_dir, progress=False)
    return run_dir


_BUILT: dict[str, tuple[Path, list[Path]]] = {}


def tiny_report(tmp_path_factory) -> tuple[Path, list[Path]]:
    """The tiny run folder and the paths its report wrote, built once per test session
    (the run and the report are read-only for the tests that share them)."""
    if "tiny" not in _BUILT:
        run_dir = tiny_run(tmp_path_factory.mktemp("tiny"))
        _BUILT["tiny"] = (run_dir, build_report(run_dir))
    return _BUILT["tiny"]


def tiny_store_copy(tmp_path_factory, name: str = "copy") -> Path:
    """A fresh run folder holding a copy of the tiny run's store and nothing else, for tests
    that build their own report (or alter the store) without touching the shared one."""
    run_dir, _ = tiny_report(tmp_path_factory)
    target = tmp_path_factory.mktemp(name)
    for path in run_dir.glob("results.sqlite*"):
        shutil.copy2(path, target / path.name)
    return target
