"""Logistic regression with noisy gradients: exact gradient, accurate optimum, surrogate."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.core.errors import HyperparameterError
from gesbench.problems.logistic_regression import LogisticRegression


def mean_alignment(p: LogisticRegression, x: np.ndarray, draws: int = 200) -> float:
    rng = np.random.default_rng(0)
    d = p.true_grad(x)
    g = np.array([p.surrogate_grad(x, rng) for _ in range(draws)])
    return float(np.mean(g @ d / (np.linalg.norm(g, axis=1) * np.linalg.norm(d))))


@pytest.mark.parametrize(
    "params",
    [
        {"dataset": "breast_cancer"},
        {"dataset": "synthetic", "n_samples": 200, "n_features": 5, "n_classes": 3},
    ],
)
def test_true_grad_matches_central_differences(params: dict) -> None:
    p = LogisticRegression(0, **params)
    x = 0.3 * np.random.default_rng(1).standard_normal(p.dim)
    h = 1e-6
    steps = h * np.eye(p.dim)
    fd = (p.loss(x + steps) - p.loss(x - steps)) / (2 * h)
    np.testing.assert_allclose(p.true_grad(x), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dataset", ["breast_cancer", "digits", "synthetic"])
def test_f_star_is_the_optimum(dataset: str) -> None:
    p = LogisticRegression(0, dataset=dataset)
    assert p.f_star is not None
    assert np.linalg.norm(p.true_grad(p.x_star)) < 1e-7
    assert p.loss(p.x_star[None, :])[0] == pytest.approx(p.f_star, abs=1e-14)
    # Strong convexity: nearby points are higher by at least l2/2 * r^2.
    r = 1e-3
    nearby = p.x_star + r * np.random.default_rng(2).standard_normal((20, p.dim)) / np.sqrt(p.dim)
    assert (p.loss(nearby) > p.f_star).all()
    assert p.f_star < p.loss(p.x0[None, :])[0] == pytest.approx(np.log(p.n_classes))


def test_f_star_agrees_with_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression as SklearnLR

    p = LogisticRegression(0, dataset="synthetic", n_samples=300, n_features=4, n_classes=3)
    # Same objective for scikit-learn: mean loss + l2/2 ||w||^2 <=> C = 1 / (n * l2), with the
    # intercept regularised as our constant feature (fit_intercept=False on the augmented data).
    model = SklearnLR(C=1 / (300 * p.params["l2"]), fit_intercept=False, tol=1e-12, max_iter=10000)
    model.fit(p.features, p.labels)
    ours = p.loss(model.coef_.T.ravel()[None, :])[0]
    assert p.f_star <= ours + 1e-12
    assert ours - p.f_star < 1e-7


# Documented alignment of one minibatch gradient (batch 32) with the true gradient at x0.
@pytest.mark.parametrize(
    ("params", "low", "high"),
    [
        ({"dataset": "breast_cancer"}, 0.8, 0.97),
        ({"dataset": "digits"}, 0.5, 0.8),
        ({"dataset": "synthetic"}, 0.5, 0.95),
    ],
)
def test_surrogate_alignment_at_x0(params: dict, low: float, high: float) -> None:
    p = LogisticRegression(0, **params)
    assert low < mean_alignment(p, p.x0) < high


def test_clean_minibatch_surrogate_is_unbiased() -> None:
    p = LogisticRegression(0, dataset="breast_cancer", batch_size=16)
    x = 0.5 * p.x_star
    rng = np.random.default_rng(3)
    g = np.array([p.surrogate_grad(x, rng) for _ in range(3000)])
    d = p.true_grad(x)
    spread = np.linalg.norm(g.std(axis=0)) / np.sqrt(len(g))
    assert np.linalg.norm(g.mean(axis=0) - d) < 4 * spread


def test_label_noise_biases_the_surrogate() -> None:
    p = LogisticRegression(0, dataset="breast_cancer", label_noise=0.2)
    changed = (p.noisy_labels != p.labels).mean()
    assert 0.15 < changed < 0.25
    # The full-batch surrogate is the gradient on the corrupted labels: nonzero at x*.
    full = p._gradient(p.x_star, slice(None), p.noisy_labels)
    assert np.linalg.norm(full) > 1e-2
    assert mean_alignment(p, 0.5 * p.x_star) < mean_alignment(
        LogisticRegression(0, dataset="breast_cancer"), 0.5 * p.x_star
    )


def test_synthetic_instances_follow_the_seed() -> None:
    a, b = (LogisticRegression(s, dataset="synthetic") for s in (1, 2))
    assert not np.array_equal(a.features, b.features)
    np.testing.assert_array_equal(a.features, LogisticRegression(1, dataset="synthetic").features)


def test_accuracy_at_the_optimum() -> None:
    p = LogisticRegression(0, dataset="breast_cancer")
    acc = p.accuracy(np.stack([p.x0, p.x_star]))
    assert acc[1] > 0.97 and acc[1] > acc[0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"dataset": "iris"}, "dataset"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 10_000}, "batch_size"),
        ({"label_noise": 1.0}, "label_noise"),
        ({"l2": 0.0}, "l2"),
        ({"dataset": "synthetic", "n_classes": 1}, "n_classes"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        LogisticRegression(0, **params)
