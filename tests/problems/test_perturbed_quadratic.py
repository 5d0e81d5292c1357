"""The Fig. 1 problem: f*, gradients, surrogate statistics, paired instances."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

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
    x_star = np.asarray(np.linalg.lstsq(p.A, p.b, rcond=None)[0], dtype=float)
    assert p.f_star is not None
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


def general_loss(p: PerturbedQuadratic, X: np.ndarray) -> np.ndarray:
    """The loss with general products, as the problem's docstring writes it."""
    return 0.5 * np.einsum("ij,ij->i", X @ p.H, X) - X @ p.c + p._offset


@pytest.mark.parametrize("rows", [1, 2, PerturbedQuadratic.SYMV_ROWS, 20])
def test_symmetric_products_give_the_general_formula_to_rounding(rows):
    """H is exactly symmetric (so symv may read one triangle); a batch is evaluated row by row
    with symv up to SYMV_ROWS rows (each row's value then equals its value alone, bit for
    bit), in one product above."""
    p = PerturbedQuadratic(np.random.default_rng(6), n=50, m=90)
    np.testing.assert_array_equal(p.H, p.H.T)
    X = np.random.default_rng(7).standard_normal((rows, p.dim))
    values = p.loss(X)
    np.testing.assert_allclose(values, general_loss(p, X), rtol=1e-13)
    if rows <= PerturbedQuadratic.SYMV_ROWS:
        np.testing.assert_array_equal(values, [p.loss(x[None])[0] for x in X])
    x = X[0]
    np.testing.assert_allclose(p.true_grad(x), p.H @ x - p.c, rtol=1e-12, atol=1e-13)


def test_surrogate_and_true_grad_agree_with_the_separate_calls():
    p = PerturbedQuadratic(np.random.default_rng(8), n=30, m=60)
    x = np.random.default_rng(9).standard_normal(30)
    surrogate, true = p.surrogate_and_true_grad(x, np.random.default_rng(1))
    np.testing.assert_array_equal(surrogate, p.surrogate_grad(x, np.random.default_rng(1)))
    np.testing.assert_array_equal(true, p.true_grad(x))


def test_float32_is_the_float64_instance_rounded_and_computes_in_float32():
    p64 = PerturbedQuadratic(np.random.default_rng(3), n=40, m=80)
    p32 = PerturbedQuadratic(np.random.default_rng(3), n=40, m=80, dtype="float32")
    assert p64.dtype == np.float64 and p32.dtype == np.float32
    assert "dtype" not in PerturbedQuadratic.params_dict({})  # float64 trial ids unchanged
    assert p32.f_star == p64.f_star
    X = np.random.default_rng(4).standard_normal((3, 40))
    for X_in in (X, X.astype(np.float32)):  # float64 points are rounded to float32 first
        values = p32.loss(X_in)  # type: ignore[arg-type]  # float32 points on purpose
        assert values.dtype == np.float32
        np.testing.assert_allclose(values, p64.loss(X), rtol=1e-5)
    rng = np.random.default_rng(0)
    surrogate, true = p32.surrogate_and_true_grad(X[0], rng)
    assert surrogate.dtype == true.dtype == p32.true_grad(X[0]).dtype == np.float32
    np.testing.assert_allclose(true, p64.true_grad(X[0]), rtol=1e-4, atol=1e-5)


def test_float32_keeps_the_papers_ordering():
    """Guided ES < vanilla ES < gradient descent on the surrogate, in float32, for every seed.
    The Fig. 1 problem at n = 200 (m = 2n as in the paper), where 2,000 iterations go as far
    as the paper's 10,000 at n = 1000 (vanilla ES's progress per iteration scales with 1/n)."""
    from gesbench import Budget
    from gesbench.core.optimizer import drive
    from gesbench.core.oracle import Oracle
    from gesbench.core.registry import optimizers

    problem = PerturbedQuadratic(np.random.default_rng(0), n=200, m=400, dtype="float32")
    methods: dict[str, tuple[str, dict[str, Any]]] = {
        "gradient descent": ("surrogate_descent", {"lr": 5e-3}),
        "vanilla ES": ("vanilla_es", {"dtype": "float32"}),
        "Guided ES": ("guided_es", {"dtype": "float32"}),
    }
    for seed in range(3):
        final = {}
        for label, (name, params) in methods.items():
            optimizer = optimizers.create(name, params, rng=np.random.default_rng(seed))
            oracle = Oracle(problem, Budget("iterations", 2000), np.random.default_rng(seed + 10))
            optimizer.start(oracle.x0)
            with threadpool_limits(limits=1):  # as in a trial; threads only slow n = 200 down
                drive(optimizer, oracle)
            final[label] = problem.loss(optimizer.x[None])[0] - problem.f_star
        assert final["Guided ES"] < final["vanilla ES"] < final["gradient descent"], final
        assert final["Guided ES"] < 0.5 * final["vanilla ES"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_instance_deep_copies_with_its_arrays_read_only(dtype):
    """The harness hands each trial a deep copy of a kept instance, sharing the read-only
    arrays that own their data: so nothing on the instance may be a Fortran routine (which
    does not copy) or a view."""
    import copy

    p = PerturbedQuadratic(np.random.default_rng(1), n=20, m=40, dtype=dtype)
    arrays = {k: v for k, v in vars(p).items() if isinstance(v, np.ndarray)}
    assert all(not v.flags.writeable and v.base is None for v in arrays.values())
    q = copy.deepcopy(p)
    X = np.random.default_rng(2).standard_normal((2, 20))
    np.testing.assert_array_equal(q.loss(X), p.loss(X))
