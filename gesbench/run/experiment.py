"""Run an experiment into a run folder: expand, skip finished trials, execute, store."""

from __future__ import annotations

import os
from collections import Counter
from contextlib import closing
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tqdm import tqdm

from gesbench.core.registry import Registry, optimizers, problems
from gesbench.ges.guided_es import GuidedES
from gesbench.run.executors import DEFAULT_RETRIES, execute
from gesbench.spec.experiment import Experiment
from gesbench.store.database import ResultStore, run_lock


def run_experiment(
    experiment: Experiment,
    run_dir: str | os.PathLike[str],
    *,
    workers: int = 1,
    executor: str | None = None,
    scheduler: str | None = None,
    trial_timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
    progress: bool = True,
) -> Counter[str]:
    """Run every unfinished trial of ``experiment``, storing each as it finishes.

    Re-running resumes: trials already done or diverged are skipped; failed ones (including
    those stopped by ``trial_timeout`` or whose worker died ``retries + 1`` times) are retried.
    This process is the store's only writer, whichever executor runs the trials.
    Returns the count of trials by status after this run (over the experiment's trials).
    ``executor`` defaults to 'dask' when a ``scheduler`` address is given, else to
    'processes' when ``workers > 1``, else 'sequential' (see :mod:`.executors`).
    """
    run_dir = Path(run_dir)
    trials = experiment.trials()
    with run_lock(run_dir), ResultStore(run_dir, create=True) as store:
        store.set_meta("experiment", asdict(experiment))
        store.set_meta("trial_ids", [t.id for t in trials])
        store.set_meta("components", describe_components(experiment))
        finished = store.finished_ids()
        store.relabel(t for t in trials if t.id in finished)
        todo = [t for t in trials if t.id not in finished]
        with tqdm(
            total=len(trials),
            initial=len(trials) - len(todo),
            desc=f"{experiment.name} trials",
            unit="trial",
            disable=not progress,
        ) as bar:
            results = execute(
                todo,
                executor,
                workers,
                scheduler=scheduler,
                timeout=trial_timeout,
                retries=retries,
            )
            with closing(results):  # on Ctrl-C, stop the workers before releasing the lock
                for result in results:
                    store.write(result)
                    bar.update()
        return store.status_counts(t.id for t in trials)


def _describe(registry: Registry[Any], name: str) -> dict[str, Any]:
    """What a report needs to know of a component, stored so that reporting never needs the
    component (or its plugin) again: its description, and whether it is a Guided ES."""
    return {**registry.describe(name), "guided_es": _is_guided_es(registry.get(name))}


def _is_guided_es(component: Any) -> bool:
    """Guided ES itself or a configuration of it (a preset keeps its base class)."""
    cls = component if isinstance(component, type) else getattr(component, "base", None)
    return isinstance(cls, type) and issubclass(cls, GuidedES)


def describe_components(experiment: Experiment) -> dict[str, dict[str, Any]]:
    """The run's problems and optimizers as :func:`_describe` sees them, by name."""
    return {
        "problems": {p.name: _describe(problems, p.name) for p in experiment.problems},
        "optimizers": {o.name: _describe(optimizers, o.name) for o in experiment.optimizers},
    }
