"""Result quality under regression tracking: small fixed-seed runs of Guided ES and the
baselines, whose final losses go into ``benchmark.extra_info["quality"]``.

Each metric records its per-seed values, their median and their seed-to-seed spread
(interquartile range), and its direction; ``gesbench bench-compare`` fails when a new median
is worse than the baseline's by more than that spread (see :mod:`gesbench.analysis.bench_compare`).
The seeds are fixed, so unchanged code reproduces the same numbers exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gesbench.run.trial import run_trial
from gesbench.spec.experiment import parse_experiment

SEEDS = 5
SPEC: dict[str, Any] = {
    "name": "quality",
    "repetitions": SEEDS,
    "budget": {"kind": "iterations", "limit": 1000},
    "trace": {"dense": 10, "per_decade": 10},
    "problems": [
        {
            "name": "perturbed_quadratic",
            "label": "Perturbed quadratic (n=100)",
            "params": {"n": 100, "m": 200, "bias": 1.0, "noise": 1.5},
        }
    ],
    "optimizers": [
        {"name": "guided_es", "label": "Guided ES", "params": {"sigma": 0.1, "lr": 0.2}},
        {"name": "vanilla_es", "label": "Vanilla ES", "params": {"sigma": 0.1, "lr": 0.2}},
        {"name": "surrogate_descent", "label": "Gradient descent", "params": {"lr": 5e-3}},
    ],
}
LABELS = [o["label"] for o in SPEC["optimizers"]]


def quality_metric(values: list[float], *, lower_is_better: bool = True) -> dict[str, Any]:
    """The record bench-compare reads: per-seed values, median, spread (IQR), direction."""
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return {
        "values": [float(v) for v in values],
        "median": float(median),
        "spread": float(q3 - q1),
        "lower_is_better": lower_is_better,
    }


def final_excess_losses(label: str) -> list[float]:
    """Final excess loss of each seed's trial of ``label``."""
    results = [run_trial(t) for t in parse_experiment(SPEC).trials() if t.label == label]
    assert all(r.status == "done" for r in results), [r.error for r in results]
    return [float(r.trace["excess_loss"][-1]) for r in results]


@pytest.fixture(scope="module")
def finals() -> dict[str, list[float]]:
    """Each method's final excess losses, filled by the benchmarks that ran them."""
    return {}


@pytest.mark.parametrize("label", LABELS)
def test_quality(benchmark, label: str, finals: dict[str, list[float]]) -> None:
    benchmark.group = "quality-perturbed-quadratic-n100"
    values = benchmark.pedantic(final_excess_losses, args=(label,), rounds=1, iterations=1)
    benchmark.extra_info["quality"] = {"final_excess_loss": quality_metric(values)}
    assert len(values) == SEEDS and np.isfinite(values).all()
    finals[label] = values


def test_quality_ordering(finals: dict[str, list[float]]) -> None:
    """On this problem, as in the paper's Fig. 1, Guided ES ends lowest (paired seeds).
    Reuses the benchmarks' runs when they ran in this session, else runs the trials."""
    ges, es, gd = (
        np.array(finals[label] if label in finals else final_excess_losses(label))
        for label in LABELS
    )
    assert np.median(ges) < np.median(es) and np.median(ges) < np.median(gd)
    assert (ges < es).sum() >= 4  # paired by seed
