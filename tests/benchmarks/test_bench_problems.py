"""Speed of one batched loss evaluation of each problem family at its default size.

The batch is one Guided ES iteration's worth (2 points, one antithetic pair) plus a
population-sized batch (16 points), since CMA-style optimizers evaluate whole generations.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gesbench.core.problem import Problem
from gesbench.core.registry import problems

FAMILIES: list[tuple[str, dict[str, Any]]] = [
    ("biased_quadratic", {}),
    ("logistic_regression", {"dataset": "breast_cancer"}),
    ("logistic_regression", {"dataset": "digits"}),
    ("binary_network", {"dataset": "digits"}),
    ("binary_network", {"dataset": "teacher"}),
    ("truncated_unroll", {}),
]


@cache
def build(name: str, frozen_params: tuple[tuple[str, Any], ...]) -> Problem:
    """Each problem is built once for both batch sizes (building is not what is measured)."""
    return problems.create(name, dict(frozen_params), rng=0)


@pytest.mark.parametrize("batch", [2, 16])
@pytest.mark.parametrize(
    ("name", "params"), FAMILIES, ids=[f"{n}-{'-'.join(map(str, p.values()))}" for n, p in FAMILIES]
)
def test_batched_loss(benchmark: Any, name: str, params: dict[str, Any], batch: int) -> None:
    problem = build(name, tuple(sorted(params.items())))
    X = problem.x0 + 0.01 * np.random.default_rng(1).standard_normal((batch, problem.dim))
    benchmark.extra_info.update(dim=problem.dim, batch=batch)
    # One BLAS thread, as in a trial (the runner limits it so workers do not oversubscribe).
    with threadpool_limits(limits=1):
        values = benchmark(problem.loss, X)
    assert values.shape == (batch,) and np.isfinite(values).all()
