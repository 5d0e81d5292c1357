"""Executors: map trial specs to results, yielding each result as soon as it is ready.

Every executor runs the same pure function, :func:`gesbench.run.trial.run_trial`, on specs (not
data: a worker rebuilds the problem from the spec's parameters and seed), so results are
identical whichever executor or worker count is used. Each spec given to an executor yields
exactly one result, whatever happens to the workers: a trial whose worker process dies is run
again up to ``retries`` times, then recorded as failed (a later run of the same command retries
it, since the store re-runs failed trials).

Backends are a table (name -> module), each module imported only when chosen, each exposing
``run(specs, options)``; adding an executor is one module plus one row.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator, Sequence

from gesbench.core.errors import GesbenchError
from gesbench.run.executors.options import DEFAULT_RETRIES, ExecutorOptions
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

BACKENDS = {
    "sequential": "gesbench.run.executors.sequential",
    "processes": "gesbench.run.executors.processes",
    "dask": "gesbench.run.executors.dask_cluster",
}
EXECUTORS = tuple(BACKENDS)

__all__ = ["BACKENDS", "DEFAULT_RETRIES", "EXECUTORS", "ExecutorOptions", "execute"]


def execute(
    specs: Sequence[TrialSpec],
    executor: str | None = None,
    workers: int = 1,
    *,
    scheduler: str | None = None,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Generator[TrialResult, None, None]:
    """Run ``specs`` on the named executor (default: see
    :meth:`ExecutorOptions.default_executor`); yields one result per spec as each finishes."""
    options = ExecutorOptions(workers, scheduler, timeout, retries)
    executor = executor or options.default_executor()
    if executor not in BACKENDS:
        raise GesbenchError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if scheduler is not None and executor != "dask":
        raise GesbenchError(f"a scheduler address needs the 'dask' executor, not {executor!r}")
    backend = importlib.import_module(BACKENDS[executor])
    results: Generator[TrialResult, None, None] = backend.run(specs, options)
    return results
