"""Run an experiment into a run folder: expand, skip finished trials, execute, store."""

from __future__ import annotations

import os
from collections import Counter
from contextlib import closing
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

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
    if executor is None:
        executor = "dask" if scheduler else "processes" if workers > 1 else "sequential"
    run_dir = Path(run_dir)
    trials = experiment.trials()
    with run_lock(run_dir), ResultStore(run_dir, create=True) as store:
        store.set_meta("experiment", asdict(experiment))
        store.set_meta("trial_ids", [t.id for t in trials])
        finished = store.finished_ids()
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
        ids = {t.id for t in trials}
        rows = store.db.execute("SELECT id, status FROM trials")
        return Counter(status for trial_id, status in rows if trial_id in ids)
