"""What every executor runs on a worker: one trial under a time limit, and the failed result
recorded for a trial that could not report one itself."""

from __future__ import annotations

import ctypes
import os
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


class _Watchdog:
    """One daemon thread per process that raises :class:`TrialTimeout` in the threads whose
    limit has passed (a thread of its own per limit cost 0.16 ms to start, per trial)."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.due: dict[int, float] = {}  # thread id -> when its limit strikes (monotonic)
        self.fired: set[int] = set()  # threads injected with TrialTimeout in their block
        self.thread: threading.Thread | None = None

    def arm(self, ident: int, seconds: float) -> None:
        with self.changed:
            self.due[ident] = time.monotonic() + seconds
            if self.thread is None:
                self.thread = threading.Thread(target=self._watch, name="gesbench-limits")
                self.thread.daemon = True
                self.thread.start()
            self.changed.notify()

    def disarm(self, ident: int) -> None:
        with self.changed:
            self.due.pop(ident, None)
            if ident in self.fired:  # clear an injection still pending, so it cannot escape
                self.fired.discard(ident)
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), None)

    def _watch(self) -> None:
        with self.changed:
            while True:
                now = time.monotonic()
                for ident, due in list(self.due.items()):
                    if due <= now:  # (under the lock: its block has not ended)
                        del self.due[ident]
                        self.fired.add(ident)
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(ident), ctypes.py_object(TrialTimeout)
                        )
                self.changed.wait(min(self.due.values(), default=now + 3600) - now)


_watchdog = _Watchdog()


def _forget_watchdog() -> None:
    """In a forked child: the watchdog thread is not there, and its lock may be held."""
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_forget_watchdog)


@contextmanager
def _thread_alarm(seconds: float) -> Iterator[None]:
    ident = threading.get_ident()
    _watchdog.arm(ident, seconds)
    try:
        yield
    finally:
        _watchdog.disarm(ident)


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
