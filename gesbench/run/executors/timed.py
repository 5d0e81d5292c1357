"""What every executor runs on a worker: one trial under a time limit, and the failed result
recorded for a trial that could not report one itself."""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import numpy as np

from gesbench.core.errors import TrialTimeout
from gesbench.run.trial import run_trial
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TRACE_COLUMNS, TrialResult


def failed_result(spec: TrialSpec, error: str) -> TrialResult:
    """A failed result for a trial that could not report one itself."""
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


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`~gesbench.core.errors.TrialTimeout` in the calling thread after ``seconds``.

    In a process's main thread (sequential runs, process-pool workers) this is SIGALRM, which
    also interrupts sleeps and blocking system calls. Elsewhere (Dask runs tasks in worker
    threads) the exception is injected into the thread and takes effect at its next Python
    bytecode, so a single native call that never returns cannot be interrupted there.
    """
    if seconds is None:
        yield
    elif threading.current_thread() is threading.main_thread():
        with _alarm(seconds):
            yield
    else:
        with _thread_alarm(seconds):
            yield


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def on_alarm(signum: int, frame: FrameType | None) -> None:
        raise TrialTimeout

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def _thread_alarm(seconds: float) -> Iterator[None]:
    target = ctypes.c_ulong(threading.get_ident())
    lock = threading.Lock()
    state = {"active": True, "fired": False}

    def fire() -> None:
        with lock:
            if state["active"]:
                state["fired"] = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, ctypes.py_object(TrialTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            state["active"] = False
            if state["fired"]:  # clear an injection still pending, so it cannot escape
                ctypes.pythonapi.PyThreadState_SetAsyncExc(target, None)


def run_timed(spec: TrialSpec, timeout: float | None = None) -> TrialResult:
    """:func:`run_trial` under a time limit: what every executor submits to its workers.

    A trial stopped by the limit is recorded as failed (``TrialTimeout`` in its error, with
    the partial trace), so a later run retries it, perhaps with a longer limit.
    """
    try:
        with deadline(timeout):
            return run_trial(spec)
    except TrialTimeout:  # the limit struck outside the trial loop (e.g. while packing up)
        return failed_result(spec, f"TrialTimeout: time limit of {timeout:g} s reached")


def died(times: int) -> str:
    return (
        f"WorkerDied: the worker process running this trial died {times} time(s) "
        "(killed, out of memory, or crashed in native code); re-run to retry"
    )
