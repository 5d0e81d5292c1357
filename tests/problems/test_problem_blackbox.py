"""The SGES paper's black-box functions: definitions, minima, gradients, start and surrogate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gesbench.core.errors import HyperparameterError
from gesbench.core.registry import problems
from gesbench.problems.blackbox import PROBLEMS, BlackBox, Lunacek, Rosenbrock

NAMES = sorted(PROBLEMS)


def plain(name: str, x: np.ndarray) -> float:
    """Reference: each function written out one coordinate at a time, as printed in the
    literature (Lunacek as the authors' code has it, without s on the second sphere)."""
    n = len(x)
    if name == "sphere":
        return sum(v * v for v in x)
    if name == "rosenbrock":
        return sum(100 * (x[i] ** 2 - x[i + 1]) ** 2 + (x[i] - 1) ** 2 for i in range(n - 1))
    if name == "rastrigin":
        return 10 * n + sum(v * v - 10 * math.cos(2 * math.pi * v) for v in x)
    s = 1 - 1 / (2 * math.sqrt(n + 20) - 8.2)
    mu1, mu2 = 2.5, -math.sqrt(abs((2.5**2 - 1) / s))
    first = sum((v - mu1) ** 2 for v in x)
    second = n + sum((v - mu2) ** 2 for v in x)
    ripples = sum(1 - math.cos(2 * math.pi * (v - mu1)) for v in x)
    return min(first, second) + 10 * ripples


def build(name: str, seed: int = 0, **params: object) -> BlackBox:
    problem = problems.create(name, params, rng=seed)
    assert isinstance(problem, BlackBox)
    return problem


@pytest.mark.parametrize("name", NAMES)
def test_batched_loss_matches_the_plain_definition_row_by_row(name: str) -> None:
    p = build(name, n=9)
    X = 2 * np.random.default_rng(1).standard_normal((6, 9))
    batched = p.loss(X)
    np.testing.assert_allclose(batched, [plain(name, x) for x in X], rtol=1e-12)
    np.testing.assert_allclose(batched, [p.loss(x[None, :])[0] for x in X], rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_minimum_is_zero_at_the_stated_point_and_nowhere_lower_nearby(name: str) -> None:
    p = build(name, n=30)
    assert p.f_star == 0.0
    assert p.loss(p.x_star[None, :])[0] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(p.true_grad(p.x_star), 0.0, atol=1e-12)
    rng = np.random.default_rng(2)
    for scale in (1e-3, 0.1, 1.0):
        near = p.x_star + scale * rng.standard_normal((200, 30))
        assert (p.loss(near) > 0).all()


@pytest.mark.parametrize("name", ["rastrigin", "lunacek"])
def test_multimodal_functions_are_never_below_their_minimum(name: str) -> None:
    # Both are sums of non-negative terms, so f >= 0 = f* everywhere; sample widely.
    p = build(name, n=10)
    X = 4 * np.random.default_rng(3).standard_normal((5000, 10))
    assert p.loss(X).min() > 0


@pytest.mark.parametrize("name", NAMES)
def test_true_gradient_matches_central_differences(name: str) -> None:
    p = build(name, n=12)
    x = 1.5 * np.random.default_rng(4).standard_normal(12)
    h = 1e-6
    steps = h * np.eye(12)
    fd = (p.loss(x + steps) - p.loss(x - steps)) / (2 * h)
    g = p.true_grad(x)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-6 * np.abs(g).max())


def test_lunacek_gradient_follows_the_lower_funnel() -> None:
    n = 1000
    assert Lunacek.mu2(n) == pytest.approx(-2.3121, abs=1e-4)
    p = build("lunacek", n=20)
    mu2 = Lunacek.mu2(20)
    # At x = mu1 - 5 on every axis the ripples vanish (x - mu1 is an integer) and the
    # deceptive funnel around mu2 (-2.60 at n = 20) is the lower one.
    far = np.full(20, 2.5 - 5.0)
    assert p.loss(far[None, :])[0] == pytest.approx(20 + 20 * (far[0] - mu2) ** 2)
    np.testing.assert_allclose(p.true_grad(far), 2 * (far - mu2), atol=1e-9)


def test_start_is_standard_normal_and_depends_only_on_the_seed() -> None:
    a, b = build("sphere", 5), build("sphere", 5, bias=0.0, noise=0.0)
    np.testing.assert_array_equal(a.x0, b.x0)  # the surrogate's settings do not move x0
    assert not np.array_equal(a.x0, build("sphere", 6).x0)
    x0 = build("rastrigin", 7, n=20_000).x0
    assert abs(x0.mean()) < 0.03 and abs(x0.var() - 1) < 0.05
    assert not x0.flags.writeable


@pytest.mark.parametrize("name", NAMES)
def test_surrogate_without_bias_or_noise_is_the_true_gradient(name: str) -> None:
    p = build(name, n=15, bias=0.0, noise=0.0)
    x = np.random.default_rng(8).standard_normal(15)
    np.testing.assert_array_equal(p.surrogate_grad(x, np.random.default_rng(0)), p.true_grad(x))


def test_surrogate_error_is_a_fixed_bias_plus_fresh_noise_scaled_by_the_gradient_norm() -> None:
    p = build("rosenbrock", 3, n=50, bias=1.0, noise=1.5)
    x = np.random.default_rng(9).standard_normal(50)
    g = p.true_grad(x)
    rng = np.random.default_rng(10)
    errors = np.array([(p.surrogate_grad(x, rng) - g) / np.linalg.norm(g) for _ in range(4000)])
    # each error is b + 1.5 nu with b a fixed unit vector and nu a fresh one
    noise = errors - p.bias_direction
    np.testing.assert_allclose(np.linalg.norm(noise, axis=1), 1.5, rtol=1e-10)
    np.testing.assert_allclose(errors.mean(axis=0), p.bias_direction, atol=0.1)
    assert np.linalg.norm(p.bias_direction) == pytest.approx(1.0)


def test_surrogate_alignment_is_the_fig1_value_in_high_dimension() -> None:
    # ||b + 1.5 nu|| ~ sqrt(1 + 2.25) for a large n, so cos(g~, g) ~ 1 / sqrt(1 + 3.25) = 0.485
    p = build("sphere", 0, n=1000)
    s, g = p.surrogate_grad(p.x0, np.random.default_rng(11)), p.true_grad(p.x0)
    assert s @ g / (np.linalg.norm(s) * np.linalg.norm(g)) == pytest.approx(0.485, abs=0.05)


def test_rosenbrock_needs_two_variables() -> None:
    with pytest.raises(HyperparameterError, match="n"):
        Rosenbrock(0, n=1)
    assert build("sphere", n=1).dim == 1


@pytest.mark.parametrize("name", NAMES)
def test_float32_computes_in_float32_on_the_same_instance(name: str) -> None:
    p64, p32 = build(name, 4, n=40), build(name, 4, n=40, dtype="float32")
    assert "dtype" not in type(p64).params_dict({"n": 40})  # float64 trials keep their ids
    np.testing.assert_array_equal(p32.x0, p64.x0.astype(np.float32))
    X = p64.x0 + 0.3 * np.random.default_rng(5).standard_normal((3, 40))
    values = p32.loss(X)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, p64.loss(X), rtol=1e-5)
    grad = p32.true_grad(X[0])
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, p64.true_grad(X[0]), atol=1e-4 * np.abs(grad).max())
    assert p32.surrogate_grad(X[0], np.random.default_rng(6)).dtype == np.float32
