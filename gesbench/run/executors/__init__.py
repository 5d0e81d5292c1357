"""Executors: map trial specs to results, yielding each result as soon as it is ready.

Every executor runs the same pure function, :func:`gesbench.run.trial.run_trial`, on specs (not
data: a worker rebuilds the problem from the spec's parameters and seed), so results are
identical whichever executor or worker count is used. Each spec given to an executor yields
exactly one result, whatever happens to the workers: a trial whose worker process dies is run
again up to ``retries`` times, then recorded as failed (a later run of the same command retries
it, since the store re-runs failed trials).

An executor is opened once per run (:func:`open_executor`): its workers start with the first
trials and stay warm for the whole run, tuning rungs and evaluation alike. Its
``batches(specs)`` yields the results in lists, each of the results that came in together, so
the driver can store them in one transaction.

Backends are a table (name -> module), each module imported only when chosen, each exposing a
``Session(options)`` class with ``batches(specs)`` and ``close()``, and ``prepare(options)``
(what can start before the run, :func:`prepare`); adding an executor is one module plus one
row.
"""

from __future__ import annotations

import importlib
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

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

__all__ = [
    "BACKENDS",
    "DEFAULT_RETRIES",
    "EXECUTORS",
    "ExecutorOptions",
    "Session",
    "execute",
    "open_executor",
    "prepare",
]


class Session(Protocol):
    """An open executor."""

    def batches(self, specs: Sequence[TrialSpec]) -> Generator[list[TrialResult], None, None]:
        """Run ``specs``; yield one result per spec, in lists of those ready together."""
        ...

    def close(self) -> None: ...


def _backend(
    executor: str | None, options: ExecutorOptions
) -> Session:  # validated before anything starts
    executor = executor or options.default_executor()
    if executor not in BACKENDS:
        raise GesbenchError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
    if options.scheduler is not None and executor != "dask":
        raise GesbenchError(f"a scheduler address needs the 'dask' executor, not {executor!r}")
    session: Session = importlib.import_module(BACKENDS[executor]).Session(options)
    return session


def prepare(executor: str | None = None, workers: int = 1, scheduler: str | None = None) -> None:
    """Start what the named executor's local workers will be forked from, now, so that its
    imports overlap what the caller does before the run (loading the spec, planning); nothing
    for an executor without local workers, or an unknown one (:func:`open_executor` says)."""
    options = ExecutorOptions(workers, scheduler)
    module = BACKENDS.get(executor or options.default_executor())
    if module is not None:
        importlib.import_module(module).prepare(options)


@contextmanager
def open_executor(
    executor: str | None = None,
    workers: int = 1,
    *,
    scheduler: str | None = None,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Iterator[Session]:
    """The named executor (default: see :meth:`ExecutorOptions.default_executor`), open for
    the block: its workers start with the first trials and stop when the block ends."""
    session = _backend(executor, ExecutorOptions(workers, scheduler, timeout, retries))
    try:
        yield session
    finally:
        session.close()


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
    :meth:`ExecutorOptions.default_executor`), opened for these trials only; yields one result
    per spec as each finishes."""
    session = _backend(executor, ExecutorOptions(workers, scheduler, timeout, retries))

    def results() -> Generator[TrialResult, None, None]:
        try:
            for batch in session.batches(specs):
                yield from batch
        finally:
            session.close()

    return results()
