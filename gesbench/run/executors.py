"""Executors: map trial specs to results, yielding each result as soon as it is ready.

Every executor runs the same pure function, :func:`gesbench.run.trial.run_trial`, on specs (not
data: a worker rebuilds the problem from the spec's parameters and seed), so results are
identical whichever executor or worker count is used. Each spec given to an executor yields
exactly one result, whatever happens to the workers: a trial whose worker process dies is run
again up to ``retries`` times, then recorded as failed (a later run of the same command retries
it, since the store re-runs failed trials).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from types import FrameType
from typing import Any

import numpy as np

from gesbench.core.errors import GesbenchError, TrialTimeout
from gesbench.run.trial import run_trial
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TRACE_COLUMNS, TrialResult

EXECUTORS = ("sequential", "processes", "dask")
DEFAULT_RETRIES = 1
"""How many times a trial is run again after its worker process died under it."""


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


def sequential(
    specs: Sequence[TrialSpec], timeout: float | None = None
) -> Generator[TrialResult, None, None]:
    for spec in specs:
        yield run_timed(spec, timeout)


def processes(
    specs: Sequence[TrialSpec],
    workers: int,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Generator[TrialResult, None, None]:
    """A local process pool ('spawn' start method: no inherited state, same on every OS).

    At most ``workers`` trials are in flight, so when a worker process dies (which breaks the
    whole pool) the trials that may have been running on it are known. Each is charged one
    death and retried alone on a fresh pool, so a trial that kills its worker every time is
    recorded as failed after ``retries`` retries without taking innocent trials with it.
    """
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
                            result = failed_result(spec, _died(deaths[spec.id]))
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


def _died(times: int) -> str:
    return (
        f"WorkerDied: the worker process running this trial died {times} time(s) "
        "(killed, out of memory, or crashed in native code); re-run to retry"
    )


def dask_cluster(
    specs: Sequence[TrialSpec],
    workers: int,
    scheduler: str | None = None,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Generator[TrialResult, None, None]:
    """Trials as tasks on a Dask cluster: an existing scheduler, or a local cluster of
    ``workers`` single-threaded worker processes.

    Only the spec travels to a worker and only the result travels back; results stream back
    with ``distributed.as_completed`` in the order they finish. When a worker dies mid-task the
    scheduler moves its task to another worker; after ``retries`` such moves (a local
    cluster's ``distributed.scheduler.allowed-failures``; an existing scheduler keeps its own
    setting) the trial is recorded as failed.
    """
    try:
        import dask.config
        from distributed import Client, LocalCluster, as_completed
        from distributed.scheduler import KilledWorker
    except ImportError:
        raise GesbenchError(
            "the dask executor needs dask.distributed: pip install 'gesbench[dask]'"
        ) from None
    with ExitStack() as stack:
        if scheduler is None:
            stack.enter_context(
                dask.config.set({"distributed.scheduler.allowed-failures": retries})
            )
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: the default may be taken
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler))
            except (OSError, TimeoutError, ValueError) as exc:
                raise GesbenchError(
                    f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}"
                ) from None
        if any(w.get("nthreads", 1) > 1 for w in client.scheduler_info()["workers"].values()):
            warnings.warn(
                "some Dask workers run several threads: trials sharing a process cannot each "
                "hold BLAS to one thread, so results may differ from a sequential run in the "
                "last bits; start workers with --nthreads 1",
                stacklevel=2,
            )
        futures: dict[Any, TrialSpec] = {
            client.submit(
                run_timed, spec, timeout, key=f"gesbench-trial-{spec.id}", pure=False
            ): spec
            for spec in specs
        }
        try:
            for future in as_completed(futures):
                spec = futures.pop(future)
                try:
                    result = future.result()
                except KilledWorker:
                    result = failed_result(spec, _died(retries + 1))
                except Exception as exc:  # e.g. gesbench missing or broken on a worker
                    result = failed_result(spec, f"{type(exc).__name__}: {exc}")
                future.release()
                yield result
        finally:
            if futures:
                client.cancel(list(futures))


def execute(
    specs: Sequence[TrialSpec],
    executor: str = "sequential",
    workers: int = 1,
    *,
    scheduler: str | None = None,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
) -> Generator[TrialResult, None, None]:
    """Dispatch to the named executor; yields one result per spec as each finishes.

    ``timeout`` is a per-trial time limit in seconds; ``scheduler`` a Dask scheduler address
    (only with the 'dask' executor; without one a local cluster of ``workers`` is started).
    """
    if workers < 1:
        raise GesbenchError(f"workers must be >= 1, got {workers}")
    if timeout is not None and not timeout > 0:
        raise GesbenchError(f"trial timeout must be a positive number of seconds, got {timeout}")
    if retries < 0:
        raise GesbenchError(f"retries must be >= 0, got {retries}")
    if scheduler is not None and executor != "dask":
        raise GesbenchError(f"a scheduler address needs the 'dask' executor, not {executor!r}")
    if executor == "sequential":
        return sequential(specs, timeout)
    if executor == "processes":
        return processes(specs, workers, timeout, retries)
    if executor == "dask":
        return dask_cluster(specs, workers, scheduler, timeout, retries)
    raise GesbenchError(f"unknown executor {executor!r}; choose from {', '.join(EXECUTORS)}")
