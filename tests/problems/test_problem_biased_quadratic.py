"""The widened biased quadratic: exact gradient, optimum, conditioning and surrogate controls."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.core.errors import HyperparameterError
from gesbench.problems.biased_quadratic import BiasedQuadratic


def cosines(problem: BiasedQuadratic, x: np.ndarray, draws: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = problem.true_grad(x)
    g = np.array([problem.surrogate_grad(x, rng) for _ in range(draws)])
    return g @ d / (np.linalg.norm(g, axis=1) * np.linalg.norm(d))


def test_true_grad_matches_central_differences() -> None:
    p = BiasedQuadratic(1, n=15, condition=50.0)
    x = np.random.default_rng(2).standard_normal(15)
    h = 1e-5
    steps = h * np.eye(15)
    fd = (p.loss(x + steps) - p.loss(x - steps)) / (2 * h)
    np.testing.assert_allclose(p.true_grad(x), fd, rtol=1e-7, atol=1e-9)


def test_optimum_has_zero_gradient_and_zero_loss() -> None:
    p = BiasedQuadratic(3, n=30, condition=1e3)
    assert p.f_star == 0.0
    assert p.loss(p.x_star[None, :])[0] == pytest.approx(0.0, abs=1e-15)
    assert np.linalg.norm(p.true_grad(p.x_star)) < 1e-14
    assert p.loss(p.x0[None, :])[0] > 0


def test_condition_number_of_the_hessian() -> None:
    p = BiasedQuadratic(0, n=40, condition=250.0)
    eig = np.linalg.eigvalsh(p.hessian)
    assert eig.max() / eig.min() == pytest.approx(250.0, rel=1e-8)


def test_default_alignment_at_x0_is_the_fig1_value() -> None:
    # Documented range: bias 1, noise 1.5 gives 1 / sqrt(1 + 1 + 2.25) ~= 0.485 at x0.
    c = cosines(BiasedQuadratic(0, n=500), np.zeros(500), 200)
    assert 0.40 < c.mean() < 0.57
    assert c.min() > 0 and c.max() < 1


@pytest.mark.parametrize("alignment", [0.1, 0.3, 0.6, 0.9])
def test_alignment_knob_sets_the_expected_alignment(alignment: float) -> None:
    p = BiasedQuadratic(4, n=500, alignment=alignment)
    c = cosines(p, p.x0, 200)
    # Off by up to ~1/sqrt(n) from the bias direction's random overlap with grad f.
    assert c.mean() == pytest.approx(alignment, abs=0.05)
    assert 0 < c.mean() < 1


def test_alignment_one_is_the_true_gradient() -> None:
    p = BiasedQuadratic(4, n=20, alignment=1.0)
    x = np.ones(20)
    np.testing.assert_array_equal(p.surrogate_grad(x, np.random.default_rng(0)), p.true_grad(x))


def test_noise_only_surrogate_is_unbiased() -> None:
    p = BiasedQuadratic(5, n=50, bias=0.0, noise=1.5)
    rng = np.random.default_rng(1)
    mean = np.mean([p.surrogate_grad(p.x0, rng) for _ in range(4000)], axis=0)
    d = p.true_grad(p.x0)
    # Each draw's noise has norm 1.5 ||d||: the mean of 4000 has norm ~1.5 ||d|| / sqrt(4000).
    assert np.linalg.norm(mean - d) < 4 * 1.5 * np.linalg.norm(d) / np.sqrt(4000)


def test_bias_only_surrogate_is_deterministic_and_biased() -> None:
    p = BiasedQuadratic(5, n=50, bias=1.0, noise=0.0)
    x = np.full(50, 0.1)
    g1 = p.surrogate_grad(x, np.random.default_rng(1))
    g2 = p.surrogate_grad(x, np.random.default_rng(2))
    np.testing.assert_array_equal(g1, g2)
    d = p.true_grad(x)
    np.testing.assert_allclose(g1 - d, np.linalg.norm(d) * p.bias_direction)


def test_fixed_bias_does_not_move_and_drifting_bias_turns_as_documented() -> None:
    fixed = BiasedQuadratic(6, n=400)
    np.testing.assert_array_equal(fixed.bias_at(fixed.x_star), fixed.bias_direction)
    drift = 2.0
    p = BiasedQuadratic(6, n=400, drift=drift)
    np.testing.assert_allclose(p.bias_at(p.x0), p.bias_direction)
    cos_at_solution = p.bias_at(p.x_star) @ p.bias_direction
    assert cos_at_solution == pytest.approx(1 / np.sqrt(1 + drift**2), abs=0.1)
    # Halfway there it has turned part of the way.
    halfway = p.bias_at(0.5 * p.x_star) @ p.bias_direction
    assert cos_at_solution < halfway < 1


def test_same_instance_for_drift_zero_as_before_drift_existed() -> None:
    # The drift map is drawn last and only when used, so every other array is unchanged.
    a, b = BiasedQuadratic(7, n=10), BiasedQuadratic(7, n=10, drift=1.0)
    np.testing.assert_array_equal(a.x_star, b.x_star)
    np.testing.assert_array_equal(a.bias_direction, b.bias_direction)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"condition": 0.5}, "condition"),
        ({"alignment": 0.0}, "alignment"),
        ({"alignment": 1.5}, "alignment"),
        ({"alignment": "high"}, "alignment"),
        ({"alignment": 0.5, "bias": 0.0, "noise": 0.0}, "alignment"),
        ({"drift": -1.0}, "drift"),
        ({"n": 0}, "n"),
    ],
)
def test_invalid_parameters_name_the_field(params: dict, field: str) -> None:
    with pytest.raises(HyperparameterError, match=field):
        BiasedQuadratic(0, **params)


def test_misspelled_parameter_suggests_the_right_one() -> None:
    with pytest.raises(HyperparameterError, match="alignment"):
        BiasedQuadratic(0, alignmnet=0.5)
