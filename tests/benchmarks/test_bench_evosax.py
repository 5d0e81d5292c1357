"""Guided ES against evosax's jitted Guided ES on the paper's Fig. 1 instance.

The same instance (``perturbed_quadratic``, n = 1000, m = 2000, instance seed 0: the same
``H = A'A/m``, ``c = A'b/m`` and bias direction on both sides), the same algorithm (alpha 0.5,
beta 2, k 1, one antithetic pair, sigma 0.1, SGD with lr 0.2, which are gesbench's defaults;
evosax's estimate is gesbench's for one pair) and the same seed numbers. The draws themselves
differ: numpy's and JAX's generators give different numbers for one seed, so the two
trajectories are different samples of the same process (both must lower the loss).

- gesbench: ``GuidedES.minimize`` on the problem's vectorised loss (both points of a pair in
  one call) and its surrogate gradient, BLAS on one thread as in a trial;
- evosax: one ``jax.jit``-compiled step (surrogate gradient, ``ask``, the loss of the pair,
  ``tell``) called once per iteration from Python, the way an ask/tell loop runs, compiled
  before timing, XLA on one thread.

Each round runs ``ITERATIONS`` iterations on each side, one after the other (interleaved, so
drift in the machine's speed hits both); the benchmark times gesbench's, and ``extra_info``
records both per-iteration times (medians over rounds) and ``ratios.ges_over_evosax``
(gesbench's time over evosax's; lower is better) for ``gesbench bench-compare``. float64 on
both sides (JAX's x64 mode), and float32 (Guided ES's and the problem's ``dtype="float32"``:
the float64 instance rounded, which is what evosax gets too) when Guided ES takes a ``dtype``.
Skipped when evosax (the ``bench`` extra: ``pip install -e .[bench]``) is not installed, and
in the default test run (benchmarks disabled): importing JAX and compiling take seconds.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from gesbench.core.errors import GesbenchError
from gesbench.core.registry import problems
from gesbench.ges.guided_es import GuidedES

ITERATIONS = 200
ROUNDS = 10  # enough for bench-compare's rank test to have power
SEED = 1
SIGMA, ALPHA, BETA, LR = 0.1, 0.5, 2.0, 0.2
DTYPES = ["float64", "float32"]


@pytest.fixture(scope="module")
def fig1():
    """The Fig. 1 instance, built once."""
    with threadpool_limits(limits=1):
        return problems.create("perturbed_quadratic", {}, rng=0)


def ges_has_dtype() -> bool:
    return "dtype" in GuidedES.defaults


def gesbench_run(problem: Any, dtype: str) -> Callable[[], float]:
    """A function running ``ITERATIONS`` of gesbench's Guided ES at ``dtype`` on ``problem``
    (the instance at that dtype); returns the final loss."""
    options: dict[str, Any] = {} if dtype == "float64" else {"dtype": dtype}

    def run() -> float:
        noise_rng = np.random.default_rng(SEED)
        ges = GuidedES(rng=SEED, sigma=SIGMA, alpha=ALPHA, beta=BETA, lr=LR, **options)
        result = ges.minimize(
            problem.loss,
            lambda x: problem.surrogate_grad(x, noise_rng),
            problem.x0,
            budget=ITERATIONS,
            vectorized=True,
        )
        return float(problem.loss(np.asarray(result.x)[None, :])[0])

    return run


def at_dtype(fig1: Any, dtype: str) -> Any:
    """The Fig. 1 instance at ``dtype`` (skips when the problem has no dtype parameter)."""
    if dtype == "float64":
        return fig1
    try:
        with threadpool_limits(limits=1):
            return problems.create("perturbed_quadratic", {"dtype": dtype}, rng=0)
    except GesbenchError as exc:
        pytest.skip(f"perturbed_quadratic does not take a dtype: {exc}")


def import_jax() -> tuple[Any, Any, Any, Any]:
    """JAX (x64 on, XLA on one thread), its numpy, optax and evosax's Guided ES; skips the test
    when evosax is not installed. Imported only here: importing JAX takes seconds."""
    # XLA's CPU backend reads its thread settings when it starts: one thread, like a trial's BLAS.
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )
    evosax_algorithms = pytest.importorskip("evosax.algorithms")
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    return jax, jnp, optax, evosax_algorithms.GuidedES


def evosax_run(problem: Any, dtype: str) -> Callable[[], float]:
    """A function running ``ITERATIONS`` of evosax's jitted Guided ES; returns the final loss.
    Compiled here, before any timing."""
    jax, jnp, optax, EvosaxGuidedES = import_jax()
    jdtype = jnp.dtype(dtype)
    H, c = jnp.asarray(problem.H, jdtype), jnp.asarray(problem.c, jdtype)
    offset = jnp.asarray(problem._offset, jdtype)
    bias = jnp.asarray(problem.bias_direction, jdtype)
    noise = problem.params.noise
    n = problem.dim
    es = EvosaxGuidedES(
        population_size=2,
        solution=jnp.zeros(n, jdtype),
        subspace_dims=1,
        optimizer=optax.sgd(LR),
        std_schedule=optax.constant_schedule(SIGMA),
    )
    params = es.default_params.replace(alpha=ALPHA, beta=BETA)

    def loss(X: Any) -> Any:
        return 0.5 * jnp.einsum("ij,ij->i", X @ H, X) - X @ c + offset

    def surrogate(x: Any, key: Any) -> Any:
        grad = H @ x - c
        nu = jax.random.normal(key, (n,), jdtype)
        return grad + (bias + noise * nu / jnp.linalg.norm(nu)) * jnp.linalg.norm(grad)

    @jax.jit
    def step(state: Any, key: Any) -> tuple[Any, Any]:
        key, k_grad, k_ask, k_tell = jax.random.split(key, 4)
        state = state.replace(grad=surrogate(state.mean, k_grad))
        population, state = es.ask(k_ask, state, params)
        state, _ = es.tell(k_tell, population, loss(population), state, params)
        return state, key

    def run() -> float:
        key = jax.random.PRNGKey(SEED)
        state = es.init(key, jnp.asarray(problem.x0, jdtype), params)
        for _ in range(ITERATIONS):
            state, key = step(state, key)
        mean = np.asarray(state.mean.block_until_ready(), dtype=float)
        return float(problem.loss(mean[None, :])[0])

    run()  # compile
    return run


@pytest.mark.parametrize("dtype", DTYPES)
def test_guided_es_against_evosax_on_fig1(benchmark: Any, request: Any, dtype: str) -> None:
    if benchmark.disabled:  # importing JAX and compiling take seconds: not in the default run
        pytest.skip("runs only with --benchmark-enable")
    if dtype != "float64" and not ges_has_dtype():
        pytest.skip("Guided ES has no dtype parameter yet: float64 only")
    import_jax()  # skips here when evosax is not installed, before the instance is built
    fig1 = request.getfixturevalue("fig1")
    ges, evo = gesbench_run(at_dtype(fig1, dtype), dtype), evosax_run(fig1, dtype)
    evosax_times: list[float] = []
    finals: dict[str, float] = {}

    def time_evosax() -> tuple[tuple[()], dict[str, Any]]:
        """Runs before each timed gesbench round, outside its timer: the interleaved twin."""
        t0 = time.perf_counter()
        finals["evosax"] = evo()
        evosax_times.append(time.perf_counter() - t0)
        return (), {}

    def timed_ges() -> None:
        finals["gesbench"] = ges()

    benchmark.group = f"fig1-vs-evosax-{dtype}"
    with threadpool_limits(limits=1):
        benchmark.pedantic(timed_ges, setup=time_evosax, rounds=ROUNDS, iterations=1)
    start = fig1.loss(fig1.x0[None, :])[0]
    # Both sides are the same algorithm: both lower the loss in ITERATIONS iterations.
    assert finals["gesbench"] < start and finals["evosax"] < start, (finals, start)
    info: dict[str, Any] = {"n": fig1.dim, "iterations": ITERATIONS, "dtype": dtype, **finals}
    info.update(cpus=os.cpu_count(), load_average_1min=os.getloadavg()[0])  # how busy it was
    if benchmark.stats is not None:  # None when benchmarks are disabled
        ges_times = benchmark.stats.stats.data  # in round order, like evosax_times
        ges_s = statistics.median(ges_times) / ITERATIONS
        evo_s = statistics.median(evosax_times) / ITERATIONS
        info.update(gesbench_per_iteration_s=ges_s, evosax_per_iteration_s=evo_s)
        per_round = [g / e for g, e in zip(ges_times, evosax_times, strict=True)]
        info["ratios"] = {
            "ges_over_evosax": {
                "value": ges_s / evo_s,
                "values": per_round,
                "lower_is_better": True,
            }
        }
    benchmark.extra_info.update(info)
