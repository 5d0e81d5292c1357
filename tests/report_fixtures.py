"""A small real run folder for the report tests, run through the real harness: two quadratics,
a GES sweep, one method that diverges, and one whose trials fail on the smaller problem."""

from __future__ import annotations

import shutil
from pathlib import Path

from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import parse_experiment

TINY_SPEC = {
    "name": "tiny",
    "description": "small report test run",
    "repetitions": 3,
    "budget": {"kind": "iterations", "limit": 60},
    "trace": {"dense": 10, "per_decade": 20},
    "problems": [
        {"name": "perturbed_quadratic", "label": "Quadratic n=20", "params": {"n": 20, "m": 40}},
        {"name": "perturbed_quadratic", "label": "Quadratic n=30", "params": {"n": 30, "m": 60}},
    ],
    "optimizers": [
        {"name": "surrogate_descent", "label": "Gradient descent", "params": {"lr": 0.05}},
        {"name": "surrogate_descent", "label": "Exploding descent", "params": {"lr": 1e3}},
        {"name": "vanilla_es", "label": "Vanilla ES", "params": {"sigma": 0.1, "lr": 0.2}},
        # k = 25 > n = 20: fails when started on the smaller problem (status 'failed').
        {"name": "guided_es", "label": "Too-large subspace", "params": {"k": 25}},
        {
            "name": "guided_es",
            "label": "Guided ES",
            "params": {"sigma": 0.1, "lr": 0.2},
            "sweep": {"alpha": [0.5, 0.75], "beta": [1.0, 2.0]},
        },
    ],
}

FIGURES = [
    "convergence", "alignment", "critical_difference", "ecdf", "performance_profile",
    "win_rate", "sweep_guided_es", "theory_quadratic_n_20", "theory_quadratic_n_30",
]  # fmt: skip
TABLES = [
    "verdict.csv", "verdict.tex", "final_results.csv", "rank_comparisons.csv", "ecdf_hits.csv",
    "ecdf_area.csv", "ert.csv", "convergence_seeds.csv",
]  # fmt: skip
DOCUMENTS = ["report.html", "summary.md"]


def tiny_run(run_dir: Path) -> Path:
    """Run the tiny experiment into ``run_dir`` (sequentially, no progress bar)."""
    run_experiment(parse_experiment(TINY_SPEC), run_dir, progress=False)
    return run_dir


_BUILT: dict[str, tuple[Path, list[Path]]] = {}


def tiny_report(tmp_path_factory) -> tuple[Path, list[Path]]:
    """The tiny run folder and the paths its report wrote, built once per test session
    (the run and the report are read-only for the tests that share them)."""
    if "tiny" not in _BUILT:
        run_dir = tiny_run(tmp_path_factory.mktemp("tiny"))
        _BUILT["tiny"] = (run_dir, build_report(run_dir))
    return _BUILT["tiny"]


def tiny_store_copy(tmp_path_factory, name: str = "copy") -> Path:
    """A fresh run folder holding a copy of the tiny run's store and nothing else, for tests
    that build their own report (or alter the store) without touching the shared one."""
    run_dir, _ = tiny_report(tmp_path_factory)
    target = tmp_path_factory.mktemp(name)
    for path in run_dir.glob("results.sqlite*"):
        shutil.copy2(path, target / path.name)
    return target


# --- synthetic stores, written through the real store ------------------------------------------

SYNTHETIC_METHODS = {
    # label: (optimizer name, convergence rate per iteration, uses the surrogate, evaluates)
    "Guided ES": ("guided_es", 4e-3, True, True),
    "Vanilla ES": ("vanilla_es", 2e-3, False, True),
    "Gradient descent": ("surrogate_descent", 6e-3, True, False),
    "CMA-ES": ("cma_es", 3e-3, False, True),
    "Plugin method": ("plugin_not_installed", 1e-3, True, True),
}
GES_DEFAULTS = {"sigma": 0.1, "alpha": 0.5, "beta": 2.0, "k": 1, "pairs": 1, "lr": 0.2}


def trial_spec(problem_label, label, optimizer, repetition, *, limit=200, kind="iterations"):
    """A trial spec as a run would store it (no registry is asked: any optimizer name)."""
    from gesbench.core.budget import Budget
    from gesbench.spec.trial import TrialSpec

    params = dict(GES_DEFAULTS) if optimizer in ("guided_es", "vanilla_es") else {"lr": 0.1}
    if optimizer == "vanilla_es":
        params["alpha"] = 1.0
    return TrialSpec(
        problem="synthetic_problem",
        problem_params={"label": problem_label},
        optimizer=optimizer,
        optimizer_params=params,
        budget=Budget(kind, limit),
        repetition=repetition,
        experiment="synthetic",
        problem_label=problem_label,
        label=label,
    )


def trial_result(spec, status, trace, *, dim=10, error=None, metrics=None):
    """A stored trial record with the given status and trace (dict of equal-length arrays)."""
    import numpy as np

    from gesbench.store.record import TRACE_COLUMNS, TrialResult

    trace = {c: np.asarray(trace.get(c, np.full(len(trace["iteration"]), np.nan)), dtype=float)
             for c in TRACE_COLUMNS}  # fmt: skip
    last = trace["loss"][-1] if len(trace["loss"]) else float("nan")
    counters = {c: int(trace[c][-1]) if len(trace[c]) else 0
                for c in ("iteration", "evaluations", "gradient_calls")}  # fmt: skip
    return TrialResult(
        spec=spec,
        status=status,
        error=error if error is not None else (None if status == "done" else f"{status} here"),
        started=1.7e9,
        wall_time=float(trace["wall_time"][-1]) if len(trace["wall_time"]) else 0.0,
        iterations=counters["iteration"],
        evaluations=counters["evaluations"],
        gradient_calls=counters["gradient_calls"],
        final_loss=float(last),
        trace=trace,
        provenance={"host": "synthetic", "versions": {"numpy": "x"}},
        metrics=metrics or {},
        dim=dim,
    )


def synthetic_trace(rng, rate, points=200, limit=200, *, evaluates=True, surrogate=True,
                    f_star=True, start=1.0, diverge_at=None):  # fmt: skip
    """A trace of ``points`` logged iterations (log-spaced, always 0 and ``limit``)."""
    import numpy as np

    its = np.unique(np.round(np.geomspace(1, limit, points - 1)))
    while len(its) < points - 1:  # fill to exactly `points` logged iterations
        its = np.unique(np.append(its, rng.integers(1, limit)))
    iteration = np.concatenate([[0.0], its])
    noise = np.exp(0.1 * rng.standard_normal(len(iteration)))
    excess = start * np.exp(-rate * iteration) * noise
    trace = {
        "iteration": iteration,
        "evaluations": 2 * iteration if evaluates else np.zeros_like(iteration),
        "gradient_calls": iteration if surrogate else np.zeros_like(iteration),
        "cost": iteration,
        "wall_time": 1e-4 * (iteration + 1) * np.exp(0.05 * rng.standard_normal()),
        "loss": excess + 0.5,
        "excess_loss": excess if f_star else np.full_like(excess, np.nan),
        "alignment": 0.48 * np.exp(-iteration / 50) + 0.02,
    }
    if diverge_at is not None:
        cut = max(1, int(diverge_at * len(iteration)))
        trace = {k: v[: cut + 1].copy() for k, v in trace.items()}
        trace["loss"][-1] = np.inf
        trace["excess_loss"][-1] = np.nan
        trace["loss"][-2] *= 1e150
        trace["excess_loss"][-2] *= 1e150
    return trace


def write_store(run_dir, results, *, experiment=None, components=None) -> Path:
    """Write trial records into ``run_dir``'s store with the meta a run would set."""
    from gesbench.store.database import ResultStore

    run_dir = Path(run_dir)
    with ResultStore(run_dir, create=True) as store:
        if experiment is not None:
            store.set_meta("experiment", experiment)
        store.set_meta("trial_ids", [r.spec.id for r in results])
        if components is not None:
            store.set_meta("components", components)
        for result in results:
            store.write(result)
    return run_dir


def synthetic_meta(labels, *, kind="iterations", limit=200):
    """The experiment and components meta of a synthetic run over ``labels``."""
    optimizers = [
        {"name": SYNTHETIC_METHODS[label][0], "label": label, "params": {}} for label in labels
    ]
    experiment = {
        "name": "synthetic",
        "description": "generated store",
        "budget": {"kind": kind, "limit": limit},
        "optimizers": optimizers,
        "problems": [],
    }
    components = {
        "problems": {"synthetic_problem": {"summary": "generated"}},
        "optimizers": {
            SYNTHETIC_METHODS[label][0]: {
                "summary": label,
                "defaults": dict(GES_DEFAULTS) if "ES" in label else {},
                "uses_surrogate": SYNTHETIC_METHODS[label][2],
                "guided_es": SYNTHETIC_METHODS[label][0] in ("guided_es", "vanilla_es"),
            }
            for label in labels
        },
    }
    return experiment, components


def synthetic_run(run_dir, *, problems=1, methods=("Guided ES", "Vanilla ES", "Gradient descent"),
                  repetitions=5, points=200, limit=200, seed=0) -> Path:  # fmt: skip
    """A done-only run of ``problems x methods x repetitions`` trials with ``points``-point
    traces, written through the real store (for scale benchmarks)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    results = []
    for p in range(problems):
        for label in methods:
            optimizer, rate, surrogate, evaluates = SYNTHETIC_METHODS[label]
            for r in range(repetitions):
                spec = trial_spec(f"Problem {p}", label, optimizer, r, limit=limit)
                trace = synthetic_trace(
                    rng, rate * (1 + 0.2 * p), points, limit, evaluates=evaluates,
                    surrogate=surrogate,
                )  # fmt: skip
                results.append(trial_result(spec, "done", trace))
    experiment, components = synthetic_meta(list(methods), limit=limit)
    return write_store(run_dir, results, experiment=experiment, components=components)
