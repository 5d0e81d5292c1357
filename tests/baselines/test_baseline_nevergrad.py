"""The Nevergrad ES-family adapter: registration, budget, batching, seeding, lazy import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from gesbench.baselines.nevergrad_es import FAMILY, NevergradES
from gesbench.core.budget import Budget
from gesbench.core.errors import HyperparameterError
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem
from gesbench.core.registry import optimizers

NG_NAMES = [n for n in optimizers.names() if n.startswith("ng_")]
NgOnePlusOne = optimizers.get("ng_one_plus_one")
NgCMA = optimizers.get("ng_cma")
EXPECTED = {"OnePlusOne", "CMA", "DiagonalCMA", "TBPSA", "EDA", "ES", "RecES", "MixES"}


def sphere(X: Array) -> Array:
    return 0.5 * np.sum((X - 0.3) ** 2, axis=1)


def run(opt: NevergradES, budget: Budget, dim: int = 4) -> Oracle:
    problem = FunctionProblem(sphere, None, np.zeros(dim), vectorized=True)
    oracle = Oracle(problem, budget, np.random.default_rng(0))
    opt.start(oracle.x0)
    drive(opt, oracle)
    return oracle


def test_each_family_member_is_registered_under_its_own_name() -> None:
    import nevergrad as ng

    classes = [optimizers.get(n) for n in NG_NAMES]
    assert all(issubclass(c, NevergradES) for c in classes)
    wrapped = {c.ng_name for c in classes}
    assert EXPECTED.issubset(wrapped)
    assert len(wrapped) == len(classes)
    assert wrapped <= set(ng.optimizers.registry)
    assert sorted(NG_NAMES) == sorted(FAMILY)  # one registered optimizer per row


@pytest.mark.parametrize(
    ("budget", "workers", "expected"),
    [
        (Budget("evaluations", 300), 4, 300),
        (Budget("cost", 301.0, evaluation_cost=2.0), 1, 150),
        (Budget("iterations", 50), 4, 200),
        (Budget("gradient_calls", 10), 1, None),
    ],
)
def test_announced_budget(budget: Budget, workers: int, expected: int | None) -> None:
    assert budget.total_evaluations(workers) == expected


def test_optimizer_is_told_the_trial_budget_and_asks_in_batches() -> None:
    opt = NgOnePlusOne(rng=0, num_workers=4, sigma=0.5)
    oracle = run(opt, Budget("evaluations", 10))
    assert opt._ng.budget == 10
    assert oracle.evaluations == 10 == opt._ng.num_tell  # batches of 4, 4, then 2
    assert oracle.iterations == 3
    opt = NgOnePlusOne(rng=0, num_workers=3)
    oracle = run(opt, Budget("iterations", 5))
    assert opt._ng.budget == 15 and oracle.evaluations == 15


def test_seeded_by_the_trial_generator() -> None:
    def final(seed: int) -> Array:
        opt = NgOnePlusOne(rng=seed, sigma=0.5)
        run(opt, Budget("evaluations", 60))
        return opt.x

    np.testing.assert_array_equal(final(1), final(1))
    assert not np.array_equal(final(1), final(2))


@pytest.mark.parametrize("name", ["ng_one_plus_one", "ng_diagonal_cma", "ng_tbpsa"])
def test_improves_on_a_quadratic(name: str) -> None:
    opt = optimizers.create(name, {"sigma": 0.3}, rng=0)
    run(opt, Budget("evaluations", 300), dim=4)
    start = sphere(np.zeros((1, 4)))[0]
    assert sphere(opt.x[None])[0] < 0.5 * start


def test_cma_refuses_dimension_one_clearly() -> None:
    with pytest.raises(HyperparameterError, match="fcmaes"):
        NgCMA(rng=0).start(np.zeros(1))


@pytest.mark.parametrize(
    ("params", "field"), [({"sigma": 0.0}, "sigma"), ({"num_workers": 0}, "num_workers")]
)
def test_invalid_parameters_name_the_field(params: dict[str, float], field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        NgOnePlusOne(rng=0, **params)


def test_listing_optimizers_imports_neither_nevergrad_nor_cma() -> None:
    code = (
        "import sys\n"
        "from gesbench.core.registry import optimizers\n"
        "loaded, broken = optimizers.load_all()\n"
        "assert not broken, broken\n"
        "print('nevergrad' in sys.modules, 'cma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
