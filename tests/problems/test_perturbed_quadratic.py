"""The Fig. 1 problem: f*, gradients, surrogate statistics, paired instances."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.problems.perturbed_quadratic import PerturbedQuadratic


@pytest.fixture(scope="module")
def fig1_problem() -> PerturbedQuadratic:
    return PerturbedQuadratic(np.random.default_rng(0))


def test_initial_excess_loss_matches_the_paper(fig1_problem):
    """The paper's Fig. 1 starts near 0.26: E f(0) = 1/2 and E f* = (m - n) / (2m) = 1/4."""
    excess = fig1_problem.loss(fig1_problem.x0[None])[0] - fig1_problem.f_star
    assert 0.22 < excess < 0.30


def test_f_star_is_the_minimum():
    p = PerturbedQuadratic(np.random.default_rng(1), n=200, m=400)
    x_star = np.linalg.lstsq(p.A, p.b, rcond=None)[0]
    assert np.linalg.norm(p.true_grad(x_star)) < 1e-10
    assert p.loss(x_star[None])[0] == pytest.approx(p.f_star, abs=1e-12)
    rng = np.random.default_rng(1)
    nearby = x_star + 1e-3 * rng.standard_normal((10, p.dim))
    assert (p.loss(nearby) > p.f_star).all()


def test_true_grad_matches_central_differences():
    p = PerturbedQuadratic(np.random.default_rng(2), n=7, m=11)
    x = np.random.default_rng(3).standard_normal(7)
    h = 1e-6
    eye = np.eye(7)
    fd = (p.loss(x + h * eye) - p.loss(x - h * eye)) / (2 * h)
    np.testing.assert_allclose(p.true_grad(x), fd, rtol=1e-6, atol=1e-8)


def test_batched_loss_equals_row_by_row(fig1_problem):
    X = np.random.default_rng(4).standard_normal((5, fig1_problem.dim))
    rows = [fig1_problem.loss(x[None])[0] for x in X]
    np.testing.assert_allclose(fig1_problem.loss(X), rows, rtol=1e-12)


def test_surrogate_alignment_at_x0_is_near_0_48(fig1_problem):
    """cos = 1 / sqrt(1 + bias^2 + noise^2) in high dimension: about 0.485 for Fig. 1."""
    p = fig1_problem
    rng = np.random.default_rng(5)
    d = p.true_grad(p.x0)
    cosines = []
    for _ in range(200):
        g = p.surrogate_grad(p.x0, rng)
        cosines.append(d @ g / (np.linalg.norm(d) * np.linalg.norm(g)))
    assert np.mean(cosines) == pytest.approx(1 / np.sqrt(1 + 1 + 1.5**2), abs=0.02)
    assert np.std(cosines) > 0  # fresh noise at every call


def test_same_seed_same_instance_and_data_is_read_only():
    a = PerturbedQuadratic(np.random.default_rng(9), n=5, m=8)
    b = PerturbedQuadratic(np.random.default_rng(9), n=5, m=8)
    c = PerturbedQuadratic(np.random.default_rng(10), n=5, m=8)
    np.testing.assert_array_equal(a.A, b.A)
    assert not np.array_equal(a.A, c.A)
    with pytest.raises(ValueError):
        a.A[0, 0] = 1.0
