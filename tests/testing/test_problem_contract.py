"""Every registered problem honours the problem contract, and the contract catches violations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pytest

from gesbench.core.errors import UnknownNameError
from gesbench.core.problem import Array, Problem, frozen
from gesbench.core.registry import problems
from gesbench.testing import check_problem
from gesbench.testing.problem_contract import ContractError

# Smaller than the defaults where building the default instance is slow; the contract does
# not depend on size. Problems not listed (e.g. third-party plugins) run at their defaults.
SMALL: dict[str, dict[str, Any]] = {
    "perturbed_quadratic": {"n": 50, "m": 100},
    "binary_network": {"hidden": 8},
}


@pytest.mark.parametrize("name", problems.installed())
def test_registered_problem_passes_contract(name: str) -> None:
    check_problem(name, SMALL.get(name))


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("biased_quadratic", {"n": 20, "condition": 100.0, "drift": 1.5, "alignment": 0.3}),
        ("biased_quadratic", {"n": 20, "bias": 0.0}),
        ("logistic_regression", {"dataset": "digits", "label_noise": 0.2}),
        ("logistic_regression", {"dataset": "synthetic", "n_classes": 3, "n_samples": 100}),
        ("binary_network", {"dataset": "teacher", "n_samples": 200}),
        ("truncated_unroll", {"meta": "per_parameter", "T": 30, "K": 5}),
    ],
)
def test_problem_variants_pass_contract(name: str, params: dict[str, Any]) -> None:
    check_problem(name, params)


class _Quadratic(Problem):
    """A correct little problem that the broken variants below each spoil in one way."""

    defaults: ClassVar[Mapping[str, Any]] = {"n": 4}

    def _build(self, rng: np.random.Generator) -> None:
        self.dim = self.params["n"]
        self.center = frozen(rng.standard_normal(self.dim))
        self.x0 = frozen(np.zeros(self.dim))

    def loss(self, X: Array) -> Array:
        return ((X - self.center) ** 2).sum(axis=1)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return 2 * (x - self.center) + rng.standard_normal(self.dim)


class _GlobalRng(_Quadratic):
    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return 2 * (x - self.center) + np.random.standard_normal(self.dim)  # noqa: NPY002


class _NotBatched(_Quadratic):
    def loss(self, X: Array) -> Array:
        return np.full(len(X), float(((X[0] - self.center) ** 2).sum()))


class _Writable(_Quadratic):
    def _build(self, rng: np.random.Generator) -> None:
        super()._build(rng)
        self.x0 = np.zeros(self.dim)


class _Unseeded(_Quadratic):
    def _build(self, rng: np.random.Generator) -> None:
        super()._build(np.random.default_rng())


class _Mutating(_Quadratic):
    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        self.center = self.center + 1.0  # a problem that drifts with use
        return 2 * (x - self.center)


class _WrongShape(_Quadratic):
    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return np.zeros(self.dim + 1)


class _NonFinite(_Quadratic):
    def loss(self, X: Array) -> Array:
        return np.full(len(X), np.nan)


class _Int64Metric(_Quadratic):
    def final_metrics(self, x: Array) -> dict[str, float]:
        return {"hits": np.int64(3)}  # type: ignore[dict-item]


class _Float32Metric(_Quadratic):
    def final_metrics(self, x: Array) -> dict[str, float]:
        return {"accuracy": np.float32(0.5)}  # type: ignore[dict-item]


class _TextMetric(_Quadratic):
    def final_metrics(self, x: Array) -> dict[str, float]:
        return {"verdict": "good"}  # type: ignore[dict-item]


def test_a_correct_problem_passes() -> None:
    check_problem(_Quadratic)


@pytest.mark.parametrize(
    ("cls", "message"),
    [
        (_GlobalRng, "global random state"),
        (_NotBatched, "row-by-row"),
        (_Writable, "read-only"),
        (_Unseeded, "same seed"),
        (_Mutating, "immutable"),
        (_WrongShape, "surrogate_grad must have shape"),
        (_NonFinite, "finite"),
        (_Int64Metric, r"final_metrics\['hits'\] is int64 .*3.*; final metrics must be floats"),
        (_Float32Metric, r"final_metrics\['accuracy'\] is float32 .*0.5.*; .* \(return float"),
        (_TextMetric, r"final_metrics\['verdict'\] is str 'good'; final metrics must be floats"),
    ],
)
def test_contract_catches_violation(cls: type[Problem], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        check_problem(cls)


def test_unknown_problem_name_suggests_close_names() -> None:
    with pytest.raises(UnknownNameError, match="biased_quadratic"):
        check_problem("biased_quadratik")
