"""Executors: map trial specs to results, yielding each result as soon as it is ready.

Every executor runs the same pure function, :func:`gesbench.runner.run_trial`, on specs (not
data), so results are identical whichever executor or worker count is used.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from gesbench.errors import GesbenchError
from gesbench.runner import TRACE_COLUMNS, TrialResult, run_trial
from gesbench.trial import TrialSpec

EXECUTORS = ("sequential", "processes")


def failed_result(spec: TrialSpec, error: str) -> TrialResult:
    """A failed result for a trial whose worker died before it could report."""
    return TrialResult(
        spec=spec,
        status="failed",
        error=error,
        started=time.time(),
        wall_time=0.0,
        iterations=0,
        evaluations=0,
        gradient_calls=0,
        final_loss=float("nan"),
        trace={name: np.empty(0) for name in TRACE_COLUMNS},
    )


def sequential(specs: Sequence[TrialSpec]) -> Iterator[TrialResult]:
    for spec in specs:
        yield run_trial(spec)


def processes(specs: Sequence[TrialSpec], workers: int) -> Iterator[TrialResult]:
    """A local process pool ('spawn' start method: no inherited state, same on every OS)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: dict[Future[TrialResult], TrialSpec] = {
            pool.submit(run_trial, spec): spec for spec in specs
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = pending.pop(future)
                    try:
                        yield future.result()
                    except BrokenProcessPool as exc:
                        yield failed_result(spec, f"worker process died: {exc}")
        finally:
            for future in pending:
                future.cancel()


def execute(
    specs: Sequence[TrialSpec], executor: str = "sequential", workers: int = 1
) -> Iterator[TrialResult]:
    """Dispatch to the named executor."""
    if workers < 1:
        raise GesbenchError(f"workers must be >= 1, got {workers}")
    if executor == "sequential":
        return sequential(specs)
    if executor == "processes":
        return processes(specs, workers)
    raise GesbenchError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
