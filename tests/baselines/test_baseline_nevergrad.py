"""The Nevergrad ES-family adapter: registration, budget, batching, seeding, lazy import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, cast

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gesbench.baselines.nevergrad_es import BEST, FAMILY, NevergradES
from gesbench.core.budget import Budget
from gesbench.core.errors import HyperparameterError
from gesbench.core.optimizer import drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array, FunctionProblem
from gesbench.core.registry import optimizers

NG_NAMES = [n for n in optimizers.names() if n.startswith("ng_")]
NgOnePlusOne = cast(type[NevergradES], optimizers.get("ng_one_plus_one"))
EXPECTED = {"OnePlusOne", "ParametrizedCMA", "CMA", "TBPSA", "EDA", "ES", "RecES", "MixES"}


def sphere(X: Array) -> Array:
    return 0.5 * np.sum((X - 0.3) ** 2, axis=1)


def run(opt: NevergradES, budget: Budget, dim: int = 4) -> Oracle:
    problem = FunctionProblem(sphere, None, np.zeros(dim), vectorized=True)
    oracle = Oracle(problem, budget, np.random.default_rng(0))
    opt.start(oracle.x0)
    drive(opt, oracle)
    return oracle


def test_each_family_member_is_registered_under_its_own_name() -> None:
    classes = [optimizers.get(n) for n in NG_NAMES]
    assert all(issubclass(c, NevergradES) for c in classes)
    assert sorted(NG_NAMES) == sorted(FAMILY)  # one registered optimizer per row
    assert {c.ng_name for c in classes if issubclass(c, NevergradES)} >= EXPECTED


def nevergrad_factory(name: str) -> Any:
    """What a row builds in Nevergrad: a registered optimizer or a configured family."""
    import nevergrad as ng

    m = FAMILY[name]
    if m.settings:
        return getattr(ng.optimizers, m.ng_name)(**m.settings)
    return ng.optimizers.registry[m.ng_name]


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_each_row_is_one_fixed_algorithm_except_the_chooser(name: str) -> None:
    # Nevergrad's CMA (a ChoiceBase) picks its variant from budget, workers and dimension;
    # every other row builds one fixed configuration.
    from nevergrad.optimization.optimizerlib import ChoiceBase

    factory = nevergrad_factory(name)
    chooser = isinstance(factory, type) and issubclass(factory, ChoiceBase)
    assert chooser == (name == "ng_cma_auto")


def test_cma_rows_are_nevergrads_named_configurations() -> None:
    import nevergrad as ng

    old_cma, diagonal = ng.optimizers.OldCMA, ng.optimizers.DiagonalCMA
    assert nevergrad_factory("ng_cma")._config == old_cma._config
    assert nevergrad_factory("ng_diagonal_cma")._config == diagonal._config
    assert old_cma._config["scale"] == 1.0  # so sigma is pycma's sigma0


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


@pytest.mark.parametrize("name", ["ng_cma", "ng_diagonal_cma"])
def test_cma_refuses_dimension_one_clearly(name: str) -> None:
    with pytest.raises(HyperparameterError, match=r"fcmaes.*ng_cma_auto"):
        optimizers.create(name, {}, rng=0).start(np.zeros(1))


class Recording(FunctionProblem):
    """The sphere, remembering every point evaluated."""

    def __init__(self, x0: Array) -> None:
        super().__init__(sphere, None, x0, vectorized=True)
        self.points: list[Array] = []

    def loss(self, X: Array) -> Array:
        self.points.extend(np.array(X, copy=True))
        return super().loss(X)


def run_recording(
    name: str, budget: Budget, x0: Array, sigma: float = 0.5, seed: int = 0, steps: int = 0
) -> tuple[NevergradES, Recording, list[Array]]:
    """Run a registered row (``steps`` steps only, if given); its points and trajectory."""
    problem = Recording(x0)
    opt = optimizers.create(name, {"sigma": sigma}, rng=seed)
    oracle = Oracle(problem, budget, np.random.default_rng(0))
    opt.start(oracle.x0)
    xs: list[Array] = []
    with threadpool_limits(limits=1):  # as in the runner (EDA factorises n x n matrices)
        if steps:
            for _ in range(steps):
                opt.step(oracle)
                xs.append(opt.x.copy())
        else:
            drive(opt, oracle, lambda: xs.append(opt.x.copy()))
    return opt, problem, xs


def nevergrad_direct(
    factory: Any,
    budget: int,
    x0: Array,
    sigma: float,
    seed: int,
    user_style: bool = False,
    until_restart: bool = False,
) -> tuple[list[Array], list[Array]]:
    """Nevergrad used directly with the adapter's seed, one candidate at a time: the points
    evaluated and the recommendation after each. ``user_style`` parametrizes as a user would,
    ``ng.p.Array(init=x0).set_mutation(sigma=sigma)``; otherwise as the adapter does
    (standardized ``u``, ``x = x0 + sigma u``). ``until_restart``: stop at the first
    recommendation a million times worse than an earlier one (a restart forgot it)."""
    import nevergrad as ng

    if user_style:
        parametrization = ng.p.Array(init=x0).set_mutation(sigma=sigma)
    else:
        parametrization = ng.p.Array(shape=(x0.size,))
    parametrization.random_state = np.random.RandomState(
        int(np.random.default_rng(seed).integers(2**32))
    )
    opt = factory(parametrization=parametrization, budget=budget, num_workers=1)

    def point(u: Array) -> Array:
        return np.asarray(u, dtype=float) if user_style else x0 + sigma * u

    points, recommended = [], []
    best = np.inf
    for _ in range(budget):
        candidate = opt.ask()
        x = point(candidate.value)
        opt.tell(candidate, float(sphere(x[None])[0]))
        points.append(x)
        recommended.append(point(opt.recommend().value))
        if until_restart:
            loss = sphere(recommended[-1][None])[0]
            if loss > 1e6 * best:
                break
            best = min(best, loss)
    return points, recommended


X0 = np.array([0.2, -0.4, 0.1, 0.5])


@pytest.mark.parametrize("name", ["ng_cma", "ng_diagonal_cma", "ng_one_plus_one", "ng_tbpsa"])
def test_same_search_as_nevergrad_used_directly(name: str) -> None:
    # paired: the adapter's seed, and its parametrization (x = x0 + sigma u), bit for bit
    _, problem, _ = run_recording(name, Budget("evaluations", 120), X0, sigma=0.5, seed=3)
    points, _ = nevergrad_direct(nevergrad_factory(name), 120, X0, 0.5, seed=3)
    np.testing.assert_array_equal(np.array(problem.points), np.array(points))


@pytest.mark.parametrize("name", ["ng_one_plus_one", "ng_tbpsa", "ng_es"])
def test_same_search_as_the_parametrization_a_user_would_write(name: str) -> None:
    # ng.p.Array(init=x0).set_mutation(sigma=sigma) is the same affine map, up to rounding
    _, problem, _ = run_recording(name, Budget("evaluations", 120), X0, sigma=0.5, seed=3)
    user, _ = nevergrad_direct(nevergrad_factory(name), 120, X0, 0.5, seed=3, user_style=True)
    np.testing.assert_allclose(np.array(problem.points), np.array(user), rtol=0, atol=1e-13)


@pytest.mark.parametrize("name", ["ng_cma", "ng_diagonal_cma"])
def test_pycma_recognises_every_candidate_it_sampled(name: str) -> None:
    # Through Array(init=x0).set_mutation(sigma) the data Nevergrad tells pycma differ from what
    # pycma sampled by rounding, so pycma takes many as foreign solutions (left in its archive of
    # sent solutions, and re-derived); through the exact map every one is matched.
    opt, _, _ = run_recording(name, Budget("evaluations", 80), X0, sigma=0.5, seed=3)
    assert opt._ng._es.countiter == 10
    assert len(opt._ng._es.sent_solutions) == 0


def test_ng_cma_is_one_algorithm_whatever_the_budget() -> None:
    short = run_recording("ng_cma", Budget("evaluations", 40), X0, seed=1)[1].points
    long = run_recording("ng_cma", Budget("evaluations", 400), X0, seed=1)[1].points
    np.testing.assert_array_equal(np.array(short), np.array(long[:40]))
    # Nevergrad's CMA picks an elitist CMAtuning under 50 evaluations, CMAstd above
    short = run_recording("ng_cma_auto", Budget("evaluations", 40), X0, seed=1)[1].points
    long = run_recording("ng_cma_auto", Budget("evaluations", 400), X0, seed=1)[1].points
    assert not np.array_equal(np.array(short), np.array(long[:40]))


def test_ng_cma_auto_in_dimension_one_is_the_one_plus_one_nevergrad_picks() -> None:
    budget = Budget("evaluations", 60)
    auto = run_recording("ng_cma_auto", budget, np.zeros(1), seed=2)
    plain = run_recording("ng_one_plus_one", budget, np.zeros(1), seed=2)
    np.testing.assert_array_equal(np.array(auto[2]), np.array(plain[2]))
    assert sphere(auto[0].x[None])[0] < 1e-6


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_sigma_is_the_initial_step_size(name: str) -> None:
    # RMS distance of the first candidates from x0, in units of sigma, at n = 400
    x0 = np.linspace(-1.0, 1.0, 400)
    _, problem, _ = run_recording(name, Budget("iterations", 100), x0, sigma=0.01, steps=2)
    steps = [np.sqrt(np.mean((x - x0) ** 2)) / 0.01 for x in problem.points]
    expected = {
        "ng_cma_auto": 0.4699,  # CMAstd at a budget of 100 evaluations
        "ng_one_plus_one": 2.0,  # x0 is evaluated first, a success that doubles the step
    }.get(name, 1.0)
    first = steps[1] if name == "ng_one_plus_one" else steps[0]
    assert steps[0] > 0 or name == "ng_one_plus_one"
    assert 0.85 * expected < first < 1.15 * expected


@pytest.mark.parametrize(
    ("name", "nevergrad_name"),
    [
        ("ng_cma", "OldCMA"),
        pytest.param("ng_diagonal_cma", "DiagonalCMA", marks=pytest.mark.slow),
        pytest.param("ng_cma_auto", "CMA", marks=pytest.mark.slow),
    ],
)
def test_cma_rows_keep_the_best_recommendation_across_restarts(
    name: str, nevergrad_name: str
) -> None:
    # Nevergrad restarts pycma from x0 once it has converged, and recommend() then returns the
    # best point of the restarted run only. End the trial just after such a restart: Nevergrad
    # used directly recommends a point near f(x0); the adapter records the best recommendation
    # it made, which is the converged one.
    import nevergrad as ng

    x0 = X0[:2]  # converges (and restarts) sooner in dimension 2
    _, recommended = nevergrad_direct(
        ng.optimizers.registry[nevergrad_name], 3000, x0, 0.5, seed=4, until_restart=True
    )
    losses = np.array([sphere(r[None])[0] for r in recommended])
    end = len(losses)
    assert end < 3000, "no restart within the budget"
    assert losses[:-1].min() < 1e-10 and losses[-1] > 1e-3
    opt, problem, xs = run_recording(name, Budget("evaluations", end), x0, sigma=0.5, seed=4)
    assert len(problem.points) == end
    np.testing.assert_array_equal(opt.x, recommended[int(np.argmin(losses[:end]))])
    logged = np.array([sphere(x[None])[0] for x in xs])
    assert np.all(np.diff(logged) <= 0)  # never worse than before


@pytest.mark.parametrize("name", [n for n, m in FAMILY.items() if m.recommends == BEST])
def test_best_point_rows_recommend_the_best_point_evaluated(name: str) -> None:
    opt, problem, _ = run_recording(name, Budget("evaluations", 150), X0, seed=5)
    values = sphere(np.array(problem.points))
    assert any(np.array_equal(opt.x, p) for p in problem.points)
    assert sphere(opt.x[None])[0] == values.min()


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
