"""Run one trial: build the problem and optimizer from the spec, drive, log a trace."""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from threadpoolctl import threadpool_limits

from gesbench.core.errors import Diverged, TrialTimeout
from gesbench.core.optimizer import Optimizer, drive
from gesbench.core.oracle import Oracle
from gesbench.core.problem import Problem
from gesbench.core.registry import optimizers, problems
from gesbench.core.vectors import norm
from gesbench.run.instances import INSTANCES
from gesbench.run.provenance import provenance
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TRACE_COLUMNS, Status, TrialResult, clean_metrics

_pinned = False
"""Whether this process's BLAS is held at one thread for good (see :func:`blas_pinned`)."""


@contextmanager
def blas_pinned() -> Iterator[None]:
    """Hold BLAS at one thread for the block, once, for every trial run in it: a worker
    process's whole life, or a sequential run (the limits before are restored after).

    Setting the limit costs milliseconds (threadpoolctl finds the loaded libraries each
    time), more than a small trial; inside the block :func:`run_trial` skips it.
    """
    global _pinned
    if _pinned:
        yield
        return
    limits = threadpool_limits(limits=1)
    _pinned = True
    try:
        yield
    finally:
        _pinned = False
        limits.restore_original_limits()


def pin_blas_threads() -> None:
    """Hold BLAS at one thread for the rest of this process's life: for worker processes, which
    run nothing but trials. (Call it from the thread that runs the trials: an OpenMP BLAS
    keeps its thread count per thread.)"""
    global _pinned
    if not _pinned:
        threadpool_limits(limits=1)
        _pinned = True


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS at one thread for the block (nothing to do where :func:`blas_pinned` holds it)."""
    if _pinned:
        yield
        return
    with threadpool_limits(limits=1):
        yield


class TraceRecorder:
    """Logs trace rows at the schedule's checkpoints (dense early, log-spaced later)."""

    def __init__(
        self,
        spec: TrialSpec,
        problem: Problem,
        oracle: Oracle,
        optimizer: Optimizer,
        rng: np.random.Generator,
    ) -> None:
        self.problem, self.oracle, self.optimizer = problem, oracle, optimizer
        # Each logged point draws from its own generator, keyed by its iteration, so a point's
        # alignment is the same whichever other points the schedule logs.
        self._logging_key = int(rng.integers(2**63))
        self.f_star = np.nan if problem.f_star is None else problem.f_star
        self._pair = problem.surrogate_and_true_grad if problem.has_true_grad else None
        self._iteration, self._counts, self._spent = (
            oracle._iteration,
            oracle._counts,
            oracle._spent,
        )
        self.rows: list[tuple[float, ...]] = []
        self._checkpoints = spec.trace.checkpoints()
        self._next = next(self._checkpoints)
        self._t0 = time.perf_counter()

    def _alignment(self, x: np.ndarray, iteration: int) -> float:
        if self._pair is None:
            return np.nan
        # One true gradient per logged point: the problem's hook returns it with the surrogate
        # draw when its surrogate computes it anyway (the quadratics).
        surrogate, true = self._pair(x, np.random.default_rng([self._logging_key, iteration]))
        denom = norm(true) * norm(surrogate)
        return float(true.dot(surrogate)) / denom if denom > 0 else np.nan

    def record(self) -> None:
        x = self.optimizer.x
        iterations, evaluations, gradient_calls = self._counts()
        loss = float(self.problem.loss(x[None, :])[0])
        self.rows.append(
            (
                iterations,
                evaluations,
                gradient_calls,
                self._spent(),
                time.perf_counter() - self._t0,
                loss,
                loss - self.f_star,
                self._alignment(x, iterations),
            )
        )
        if not math.isfinite(loss):
            raise Diverged(f"non-finite loss {loss} at iteration {iterations}")

    def after_iteration(self) -> None:
        iterations = self._iteration()
        if iterations >= self._next:
            self.record()
            while self._next <= iterations:
                self._next = next(self._checkpoints)

    def finish(self) -> None:
        """Log the final point unless it was just logged."""
        if not self.rows or self.rows[-1][0] != self._iteration():
            self.record()

    def columns(self) -> dict[str, np.ndarray]:
        table = np.array(self.rows, dtype=float).reshape(len(self.rows), len(TRACE_COLUMNS))
        return {name: table[:, i] for i, name in enumerate(TRACE_COLUMNS)}


def run_trial(spec: TrialSpec) -> TrialResult:
    """Run ``spec`` to the end of its budget and return its result; never raises for a trial
    that fails (the error is recorded; also ``SystemExit`` and other exceptions that are not
    errors, raised by plugin code), except on KeyboardInterrupt.

    BLAS is limited to one thread, so results are bit-identical whatever the worker count
    (set here for this call, unless the process already holds it: :func:`blas_pinned`). The
    problem instance comes from this process's :data:`~gesbench.run.instances.INSTANCES`
    cache, as a copy that behaves exactly as a freshly built one.
    Floating-point overflow and invalid operations are not warned about: the oracle and the
    trace check every loss and surrogate gradient, and a non-finite one ends the trial as
    diverged (with the iteration), which says more than a warning.
    """
    started = time.time()
    t0 = time.perf_counter()
    status: Status = "done"
    error: str | None = None
    recorder: TraceRecorder | None = None
    oracle: Oracle | None = None
    dim: int | None = None
    final_metrics: dict[str, float] = {}
    with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        try:
            streams = spec.streams()
            problem = INSTANCES.get(
                spec,
                lambda: problems.create(spec.problem, spec.problem_params, rng=streams.problem),
            )
            dim = problem.dim
            optimizer = optimizers.create(
                spec.optimizer, spec.optimizer_params, rng=streams.optimizer
            )
            oracle = Oracle(problem, spec.budget, streams.noise)
            optimizer.start(oracle.x0)
            recorder = TraceRecorder(spec, problem, oracle, optimizer, streams.logging)
            recorder.record()
            drive(optimizer, oracle, recorder.after_iteration)
            recorder.finish()
            final_metrics = clean_metrics(
                problem.final_metrics(optimizer.x), f"{spec.problem}: final_metrics()"
            )
        except Diverged as exc:
            status, error = "diverged", str(exc)
        except TrialTimeout:  # raised by the executor's time limit (gesbench.run.executors)
            status = "failed"
            error = (
                f"TrialTimeout: time limit reached after {time.perf_counter() - t0:.1f} s, "
                f"at iteration {oracle.iterations if oracle else 0}"
            )
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: plugin code must not end the run
            status = "failed"
            error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
    trace = (
        recorder.columns()
        if recorder is not None
        else {name: np.empty(0) for name in TRACE_COLUMNS}
    )
    return TrialResult(
        spec=spec,
        status=status,
        error=error,
        started=started,
        wall_time=time.perf_counter() - t0,
        iterations=oracle.iterations if oracle else 0,
        evaluations=oracle.evaluations if oracle else 0,
        gradient_calls=oracle.gradient_calls if oracle else 0,
        final_loss=float(trace["loss"][-1]) if len(trace["loss"]) else float("nan"),
        trace=trace,
        provenance=provenance(),
        metrics=final_metrics,
        dim=dim,
    )
