"""Run an experiment into a run folder: expand, skip finished trials, execute, store."""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections import Counter
from collections.abc import Generator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gesbench.core.errors import SpecError
from gesbench.core.registry import Registry, optimizers, problems
from gesbench.ges.guided_es import GuidedES
from gesbench.run.executors import DEFAULT_RETRIES, ExecutorOptions, open_executor
from gesbench.run.progress import duration, progress_bar
from gesbench.run.tuning import Execute, forget_tuning, run_tuning, store_batches
from gesbench.spec.experiment import DEFAULT_MAX_TRIALS, Experiment
from gesbench.spec.filters import Selection
from gesbench.spec.trial import TrialSpec
from gesbench.store.database import ResultStore, run_lock
from gesbench.store.record import TrialResult


def physical_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its container's limit (cgroup
    v2 or v1) when lower; None when unknown."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        total = None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and (total is None or int(text) < total):
            total = int(text)
    return total


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 1e3:.3g} kB"


def check_memory(experiment: Experiment, at_once: int, available: int | None) -> None:
    """SpecError when ``at_once`` trials of one of the experiment's problems would need more
    than ``available`` bytes, by the problem's own estimate (``Problem.memory_estimate``;
    problems without one are not checked)."""
    if available is None:
        return
    for i, entry in enumerate(experiment.problems):
        cls = problems.get(entry.name)
        try:
            estimate = cls.memory_estimate(cls.resolve_params(entry.params))
        except Exception as exc:  # a plugin's estimate must never stop a run
            warnings.warn(
                f"{entry.name}.memory_estimate failed ({type(exc).__name__}: {exc}); "
                "its memory use is not checked",
                stacklevel=2,
            )
            continue
        if not estimate or estimate * at_once <= available:
            continue
        fit = int(available // estimate)
        advice = (
            f"run at most {fit} at once (--workers {fit})"
            if fit >= 1
            else "not even one trial fits: use smaller problem parameters"
        )
        raise SpecError(
            f"problems[{i}] ({entry.label}): one trial needs about {_size(estimate)} of memory "
            f"({entry.name}'s estimate for its parameters), {at_once} at once about "
            f"{_size(estimate * at_once)}, more than this machine's {_size(available)}; "
            f"{advice}, or pass --no-memory-check if the estimate is wrong for this machine"
        )


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
    max_trials: int | None = DEFAULT_MAX_TRIALS,
    memory_check: bool = True,
    only: Selection | None = None,
) -> Counter[str]:
    """Run every unfinished trial of ``experiment``, storing each as it finishes.

    Re-running resumes: trials already done or diverged are skipped; failed ones (including
    those stopped by ``trial_timeout`` or whose worker died ``retries + 1`` times) are retried.
    This process is the store's only writer, whichever executor runs the trials.
    Returns the count of trials by status after this run (over the experiment's trials, the
    tuning stage's included: a spec with ``tune`` entries runs it first, see :mod:`.tuning`).
    ``executor`` defaults to 'dask' when a ``scheduler`` address is given, else to
    'processes' when ``workers > 1``, else 'sequential' (see :mod:`.executors`).

    Before anything is expanded or written, an experiment of more than ``max_trials`` trials
    (None: no limit) is refused with its count, and so is one whose trials, as many at once
    as run locally, would need more memory than this machine has by their problems'
    estimates (``memory_check=False`` skips this; trials on a Dask scheduler are not checked).

    ``only`` (:class:`~gesbench.spec.filters.Selection`: ``--problems`` / ``--optimizers``)
    runs only the chosen problems' and methods' trials, and counts only those; the folder still
    records the whole experiment, so the others' finished trials stay in its results.
    """
    run_dir = Path(run_dir)
    experiment.check_size(max_trials)
    chosen_entries = only.resolve(experiment) if only is not None and only.active else None
    keep = None if chosen_entries is None else chosen_entries.keeps
    options = ExecutorOptions(workers, scheduler, trial_timeout, retries)
    chosen = executor or options.default_executor()
    if memory_check and scheduler is None:
        at_once = 1 if chosen == "sequential" else workers
        check_memory(experiment, min(at_once, experiment.trial_count), physical_memory())
    trials = experiment.trials()
    with (
        run_lock(run_dir),
        ResultStore(run_dir, create=True) as store,
        open_executor(
            executor, workers, scheduler=scheduler, timeout=trial_timeout, retries=retries
        ) as pool,
    ):
        store.set_meta("experiment", asdict(experiment))
        store.set_meta("trial_ids", [t.id for t in trials])
        store.set_meta("components", describe_components(experiment))
        stage, tuning_ids = "trials", []
        clock = _Throughput()
        run = clock.counting(pool.batches)
        if experiment.tuning is not None:  # the tuning stage first, then its selected settings
            tuned = run_tuning(experiment, store, run_dir, run, progress=progress, keep=keep)
            trials, tuning_ids, stage = tuned.evaluation, tuned.tuning_ids, "evaluation"
        else:
            forget_tuning(store)  # the selection of an earlier spec in this folder is void
        finished = store.finished_ids()
        store.relabel(t for t in trials if t.id in finished)
        shown = trials if keep is None else [t for t in trials if keep(t)]
        todo = [t for t in shown if t.id not in finished]
        with progress_bar(
            total=len(shown),
            initial=len(shown) - len(todo),
            desc=f"{experiment.name} {stage}",
            unit="trial",
            disable=not progress,
        ) as bar:
            if todo:
                store_batches(store, run(todo), bar)
        if progress and clock.trials:
            print(clock.line(), file=sys.stderr)
        if chosen_entries is not None and experiment.tuning is not None:
            tuning_ids = [
                row["id"]
                for row in tuned.record["trials"]
                if chosen_entries.keeps_row(row["problem_label"], row["label"], "tuning")
            ]
        return store.status_counts([*tuning_ids, *(t.id for t in shown)])


class _Throughput:
    """Trials run and the time from the first being handed to the executor to the last
    result, over every stage of a run."""

    def __init__(self) -> None:
        self.trials = 0
        self.seconds = 0.0

    def counting(self, batches: Execute) -> Execute:
        def run(specs: list[TrialSpec]) -> Generator[list[TrialResult], None, None]:
            start = time.perf_counter()
            try:
                for batch in batches(specs):
                    self.trials += len(batch)
                    yield batch
            finally:
                self.seconds += time.perf_counter() - start

        return run

    def line(self) -> str:
        rate = self.trials / self.seconds if self.seconds > 0 else float("inf")
        return f"ran {self.trials} trial(s) in {duration(self.seconds)}: {rate:.3g} trials/s"


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
