"""A copy of a started optimizer (to branch a run, or to keep it) continues exactly as the
original: its state is its own, and nothing in it still points into the original's buffers."""

from __future__ import annotations

import copy
import pickle
import sys
from typing import Any

import numpy as np
import pytest

from gesbench.core.budget import Budget
from gesbench.core.oracle import Oracle
from gesbench.core.problem import FunctionProblem
from gesbench.core.registry import optimizers

N = 8
PROBLEM = FunctionProblem(
    lambda X: np.sum((X - 1.0) ** 2, axis=1),
    lambda x: 2 * (x - 1.0) + 0.3,
    np.zeros(N),
    vectorized=True,
)
# every built-in with its defaults, and Guided ES with a subspace of several surrogates
CASES: list[tuple[str, dict[str, Any]]] = [(name, {}) for name in optimizers.names()] + [
    ("guided_es", {"k": 3, "alpha": 0.4}),
    ("guided_es_auto", {"k": 3}),
]


def by_reference(cls: type) -> bool:
    """Whether pickle can find the class by its module and name (a preset's class is built
    by the registry and is not a module attribute, so its instances copy but do not pickle)."""
    return getattr(sys.modules[cls.__module__], cls.__qualname__, None) is cls


def oracle() -> Oracle:
    return Oracle(PROBLEM, Budget("iterations", 1000), np.random.default_rng(0))


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}{p or ''}" for n, p in CASES])
def test_a_copy_taken_mid_run_continues_as_the_original(name: str, params: Any, how: str):
    original = optimizers.create(name, params, rng=np.random.default_rng(3))
    if how == "pickle" and not by_reference(type(original)):
        pytest.skip(f"{name} is a preset: its instances copy, but do not pickle")
    original.start(PROBLEM.x0)
    for _ in range(5):
        original.step(oracle())
    copied = copy.deepcopy(original) if how == "deepcopy" else pickle.loads(pickle.dumps(original))
    for _ in range(6):
        original.step(oracle())
        copied.step(oracle())
        np.testing.assert_array_equal(copied.x, original.x)
