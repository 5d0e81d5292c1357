"""The binary-hidden-unit network: discrete forward pass and straight-through surrogate."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gesbench.core.errors import HyperparameterError
from gesbench.problems.binary_network import BinaryNetwork

SMALL: dict[str, Any] = {
    "dataset": "teacher",
    "n_samples": 200,
    "n_features": 5,
    "hidden": 8,
    "n_classes": 2,
    "teacher_hidden": 4,
    "batch_size": 32,
}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def reference_loss(p: BinaryNetwork, x: np.ndarray) -> float:
    """The network written out for one parameter vector, one example at a time."""
    w1, b1, w2, b2 = (part[0] for part in p.unpack(x[None, :]))
    total = 0.0
    for a, label in zip(p.inputs, p.labels, strict=True):
        h = np.where(w1 @ a + b1 >= 0, 1.0, -1.0)
        z = w2 @ h + b2
        total += np.log(np.exp(z - z.max()).sum()) + z.max() - z[label]
    return total / len(p.labels)


@pytest.mark.parametrize("dataset", ["teacher", "digits"])
def test_batched_loss_matches_the_plain_forward_pass(dataset: str) -> None:
    p = BinaryNetwork(0, dataset=dataset, hidden=6)
    X = p.x0 + 0.1 * np.random.default_rng(1).standard_normal((3, p.dim))
    np.testing.assert_allclose(p.loss(X), [reference_loss(p, x) for x in X], rtol=1e-12)


def test_loss_is_piecewise_constant_in_the_first_layer() -> None:
    p = BinaryNetwork(0, **SMALL)
    bump = np.zeros(p.dim)
    bump[: p.sizes[0]] = 1e-10  # far smaller than any pre-activation's distance from 0
    assert p.loss((p.x0 + bump)[None, :])[0] == p.loss(p.x0[None, :])[0]


def test_output_layer_block_of_the_surrogate_is_exact() -> None:
    p = BinaryNetwork(0, **SMALL)
    g = p.straight_through_grad(p.x0, slice(None))
    start = p.sizes[0] + p.sizes[1]
    h = 1e-6
    steps = h * np.eye(p.dim)[start:]
    fd = (p.loss(p.x0 + steps) - p.loss(p.x0 - steps)) / (2 * h)
    np.testing.assert_allclose(g[start:], fd, rtol=1e-6, atol=1e-9)


def smoothed_gradient(p: BinaryNetwork, sigma: float, pairs: int, seed: int) -> np.ndarray:
    """Antithetic Monte Carlo gradient of the Gaussian-smoothed loss at x0 (the quantity an
    ES step follows; the discrete loss itself has no useful gradient)."""
    rng = np.random.default_rng(seed)
    total = np.zeros(p.dim)
    for _ in range(pairs // 1000):
        eps = sigma * rng.standard_normal((1000, p.dim))
        total += (p.loss(p.x0 + eps) - p.loss(p.x0 - eps)) @ eps
    return total / (2 * sigma**2 * pairs)


def test_straight_through_surrogate_is_informative_but_imperfect() -> None:
    # Documented ranges at x0 on this small teacher task, against the sigma = 0.1 smoothed
    # gradient: full-batch straight-through ~0.95, one 32-example minibatch ~0.8 on average.
    p = BinaryNetwork(0, **SMALL)
    reference = smoothed_gradient(p, 0.1, 8000, seed=0)
    full = p.straight_through_grad(p.x0, slice(None))
    assert 0.85 < cosine(full, reference) < 0.99
    rng = np.random.default_rng(1)
    minibatch = np.mean([cosine(p.surrogate_grad(p.x0, rng), reference) for _ in range(100)])
    assert 0.6 < minibatch < 0.95


def test_teacher_task_is_realisable() -> None:
    # The student contains the teacher: copying its weights (padded with zero units) is exact.
    p = BinaryNetwork(0, **{**SMALL, "hidden": 4})
    assert p.accuracy(p.x0[None, :])[0] < 1.0
    # Rebuild the teacher from the same draws: inputs, then its hidden and output weights.
    rng = np.random.default_rng(0)
    d, th, c = SMALL["n_features"], SMALL["teacher_hidden"], SMALL["n_classes"]
    rng.standard_normal((SMALL["n_samples"], d))
    w1 = rng.standard_normal((d, th)).T
    w2 = rng.standard_normal((th, c)).T
    x = np.concatenate([w1.ravel(), np.zeros(th), 10 * w2.ravel(), np.zeros(c)])
    assert p.accuracy(x[None, :])[0] == 1.0


def test_accuracy_and_loss_at_x0() -> None:
    p = BinaryNetwork(0)
    assert p.dim == 64 * 32 + 32 + 32 * 10 + 10
    acc = p.accuracy(p.x0[None, :])[0]
    assert 0.0 <= acc < 0.5
    assert np.isfinite(p.loss(p.x0[None, :])).all()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dataset": "mnist"}, "dataset"),
        ({"hidden": 0}, "hidden"),
        ({"batch_size": 5000}, "batch_size"),
        ({"dataset": "teacher", "n_classes": 1}, "n_classes"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        BinaryNetwork(0, **params)
