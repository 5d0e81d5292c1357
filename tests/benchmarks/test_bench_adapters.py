"""Per-evaluation overhead of the library adapters (CMA-ES via pycma, Nevergrad), loss excluded.

The loss is a trivially cheap sum of squares, so the time measured is the optimizer's own work
per evaluation: sampling, bookkeeping, covariance updates and the adapter around them. Each
round times a fixed number of steps of an optimizer already warmed up (started and stepped a
few times outside the timer), with BLAS on one thread as in the runner;
``extra_info["per_evaluation_s"]`` is the mean round time divided by the evaluations it made.

Run with ``pytest tests/benchmarks/test_bench_adapters.py --benchmark-enable``. Full CMA-ES at
n = 5000 (one generation takes tens of seconds) runs only with ``-m slow``; so does Nevergrad's
EDA at n = 1000, which factorises an n x n covariance for every candidate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gesbench.core.budget import Budget
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem
from gesbench.core.registry import optimizers

pytestmark = pytest.mark.filterwarnings(
    "ignore::nevergrad.common.errors.InefficientSettingsWarning"
)

CMA_NAMES = ["cma_es", "sep_cma_es", "cma_es_surrogate"]
NG_NAMES = [n for n in optimizers.names() if n.startswith("ng_")]
WARMUP_STEPS = 3
ROUNDS = 10  # enough for bench-compare's rank test to have power over ~60 benchmarks


def cheap_loss(X: Array) -> Array:
    return np.einsum("ij,ij->i", X, X)


def prepared(name: str, n: int, params: dict[str, Any]) -> tuple[Optimizer, Oracle]:
    problem = FunctionProblem(cheap_loss, lambda x: 2 * x, np.ones(n), vectorized=True)
    oracle = Oracle(problem, Budget("iterations", 10**9), np.random.default_rng(0))
    opt = optimizers.create(name, params, rng=0)
    opt.start(oracle.x0)
    for _ in range(WARMUP_STEPS):
        opt.step(oracle)
    return opt, oracle


def bench_steps(benchmark: Any, name: str, n: int, params: dict[str, Any], steps: int) -> None:
    made: list[int] = []
    finite: list[bool] = []

    def setup() -> tuple[tuple[Optimizer, Oracle], dict[str, Any]]:
        return prepared(name, n, params), {}

    def target(opt: Optimizer, oracle: Oracle) -> None:
        before = oracle.evaluations
        for _ in range(steps):
            opt.step(oracle)
        made.append(oracle.evaluations - before)
        finite.append(bool(np.isfinite(opt.x).all()))

    # one BLAS thread, as in the runner, so the numbers match what a trial sees
    with threadpool_limits(limits=1):
        benchmark.pedantic(target, setup=setup, rounds=ROUNDS, iterations=1)
    assert all(finite)
    evaluations = made[-1]
    benchmark.extra_info.update({"n": n, "evaluations_per_round": evaluations})
    if benchmark.stats is not None:  # None when benchmarks are disabled (the default run)
        benchmark.extra_info["per_evaluation_s"] = benchmark.stats.stats.mean / evaluations


def _cases(names: list[str], slow: set[tuple[str, int]]) -> list[Any]:
    return [
        pytest.param(name, n, marks=pytest.mark.slow) if (name, n) in slow else (name, n)
        for name in names
        for n in (100, 1000)
    ]


@pytest.mark.parametrize(("name", "n"), _cases(CMA_NAMES, set()))
def test_cma_overhead(benchmark: Any, name: str, n: int) -> None:
    # 10 generations per round, so pycma's periodic eigendecomposition is included on average
    bench_steps(benchmark, name, n, {"sigma0": 0.1}, steps=10)


@pytest.mark.parametrize(("name", "n"), _cases(NG_NAMES, {("ng_eda", 1000)}))
def test_nevergrad_overhead(benchmark: Any, name: str, n: int) -> None:
    # one candidate per step (num_workers = 1, Nevergrad's default); 50 per round
    bench_steps(benchmark, name, n, {"sigma": 0.1}, steps=50)


@pytest.mark.slow
def test_full_cma_at_n5000(benchmark: Any) -> None:
    bench_steps(benchmark, "cma_es", 5000, {"sigma0": 0.1}, steps=1)
