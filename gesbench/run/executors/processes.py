"""A local process pool ('spawn' start method: no inherited state, same on every OS)."""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

from gesbench.run.executors.options import ExecutorOptions
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult


def _worker_init(parent: int) -> None:
    """Process-pool worker initializer: leave Ctrl-C to the driver, and end with it.

    Ctrl-C in a terminal reaches every process of the job; the driver alone reacts (it stops
    the workers), so workers print no tracebacks of their own. A killed driver (SIGKILL, out
    of memory) cannot shut its pool down, and its idle workers would wait for work forever:
    Linux delivers SIGKILL to them on the driver's death (prctl PR_SET_PDEATHSIG), elsewhere a
    daemon thread watches the parent id.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so when started by the driver
    libc = ctypes.util.find_library("c") if sys.platform == "linux" else None
    if libc is not None:
        pr_set_pdeathsig = 1
        ctypes.CDLL(libc).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # died before the request took effect
        os._exit(1)
    if libc is None:

        def watch() -> None:
            while os.getppid() == parent:
                time.sleep(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while worker processes are started here: an ignored signal stays ignored
    across exec, so a worker that is still importing when Ctrl-C comes does not print a
    traceback. (A Ctrl-C during these few milliseconds is lost; pressing it again works.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop a pool's workers now, mid-trial (no public way to do so before Python 3.14)."""
    for process in list((pool._processes or {}).values()):
        process.terminate()


def run(specs: Sequence[TrialSpec], options: ExecutorOptions) -> Generator[TrialResult, None, None]:
    """A local process pool ('spawn' start method: no inherited state, same on every OS).

    At most ``workers`` trials are in flight, so when a worker process dies (which breaks the
    whole pool) the trials that may have been running on it are known. Each is charged one
    death and retried alone on a fresh pool, so a trial that kills its worker every time is
    recorded as failed after ``retries`` retries without taking innocent trials with it.
    """
    workers, timeout, retries = options.workers, options.timeout, options.retries
    context = multiprocessing.get_context("spawn")
    fresh = deque(specs)
    suspects: deque[TrialSpec] = deque()
    deaths: Counter[str] = Counter()
    while fresh or suspects:
        in_flight: dict[Future[TrialResult], TrialSpec] = {}
        with ProcessPoolExecutor(
            workers, context, initializer=_worker_init, initargs=(os.getpid(),)
        ) as pool:
            completed = False
            try:
                broken = alone = False
                while True:
                    while not (broken or alone) and len(in_flight) < workers:
                        if suspects and not in_flight:
                            source, alone = suspects, True
                        elif fresh and not suspects:
                            source = fresh
                        else:
                            break
                        spec = source.popleft()
                        try:
                            with _sigint_ignored():  # submit may start a worker process
                                in_flight[pool.submit(run_timed, spec, timeout)] = spec
                        except BrokenProcessPool:  # broke since the last wait: not this trial
                            source.appendleft(spec)
                            broken = True
                    if not in_flight:
                        break
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        spec = in_flight.pop(future)
                        try:
                            result = future.result()
                        except BrokenProcessPool:
                            broken = True
                            deaths[spec.id] += 1
                            if deaths[spec.id] <= retries:
                                suspects.append(spec)
                                continue
                            result = failed_result(spec, died(deaths[spec.id]))
                        except Exception as exc:  # e.g. the result could not be sent back
                            result = failed_result(spec, f"{type(exc).__name__}: {exc}")
                        yield result
                    alone = alone and bool(in_flight)
                completed = True
            finally:
                if not completed:  # Ctrl-C or the consumer stopped: don't wait for trials
                    for future in in_flight:
                        future.cancel()
                    _terminate_workers(pool)
