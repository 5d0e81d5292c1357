"""A local pool of worker processes owned by the driver ('spawn' start method: no inherited
state, same on every OS).

Each worker runs one trial at a time, received over its own pipe, so the driver always knows
which trial each process runs and since when. That makes every fault attributable: a worker
that dies charges a death to its own trial only (retried on a fresh worker, then recorded as
failed), and a trial that overruns its time limit by more than a grace period, because it is
stuck where Python's own time limit cannot reach (native code that never returns), has its
worker killed and replaced, and is recorded as failed with ``TrialTimeout``.
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
from collections import Counter, deque
from collections.abc import Generator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.run.executors.options import ExecutorOptions, kill_grace
from gesbench.run.executors.signals import sigint_ignored
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.run.provenance import provenance
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

STARTUP_FAILURES = 3
"""Worker processes that may die before they are ready, in a row, before the run gives up
(gesbench or a plugin cannot be imported there)."""


def _worker_init(parent: int) -> None:
    """Worker process set-up: leave Ctrl-C to the driver, and end with it.

    Ctrl-C in a terminal reaches every process of the job; the driver alone reacts (it stops
    the workers), so workers print no tracebacks of their own. A killed driver (SIGKILL, out
    of memory) cannot stop its workers, and idle ones would wait for work forever: Linux
    delivers SIGKILL to them on the driver's death (prctl PR_SET_PDEATHSIG), elsewhere a
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


def _worker_main(conn: Connection, parent: int) -> None:
    """A worker's life: say it is ready, then run each trial it is sent and send the result
    back, until told to stop (None) or the driver goes away."""
    _worker_init(parent)
    provenance()  # computed before the first trial's clock starts
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        spec, timeout = message
        result = run_timed(spec, timeout)
        try:
            conn.send(("result", result))
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result does not pickle (e.g. a plugin's metric object)
            conn.send(("error", f"{type(exc).__name__}: the result could not be sent: {exc}"))


@dataclass
class _Worker:
    """One worker process as the driver sees it: its pipe, and the trial it runs, if any."""

    process: BaseProcess
    conn: Connection
    ready: bool = False
    spec: TrialSpec | None = None
    sent_at: float = 0.0

    def stop(self, wait_for: float = 0.0) -> None:
        """Ask an idle worker to exit (waiting up to ``wait_for`` s), then kill it if needed."""
        if self.process.is_alive() and wait_for > 0 and self.spec is None:
            with suppress(OSError):
                self.conn.send(None)
            self.process.join(wait_for)
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _start_worker(context: Any) -> _Worker:
    ours, theirs = context.Pipe(duplex=True)
    process = context.Process(target=_worker_main, args=(theirs, os.getpid()), name="gesbench")
    with sigint_ignored():
        process.start()
    theirs.close()
    return _Worker(process, ours)


def _hard_timeout(timeout: float, grace: float) -> str:
    return (
        f"TrialTimeout: time limit of {timeout:g} s reached and the trial did not stop within "
        f"{grace:g} s more (stuck in native code, which Python cannot interrupt); its worker "
        "process was killed and replaced, so no partial trace is kept. Re-run to retry"
    )


def run(specs: Sequence[TrialSpec], options: ExecutorOptions) -> Generator[TrialResult, None, None]:
    """Run ``specs`` on ``options.workers`` worker processes; yield each result as it comes.

    A worker that dies mid-trial (killed, out of memory, crashed in native code) is replaced
    and its trial run again, up to ``options.retries`` times, then recorded as failed
    (``WorkerDied``); other trials are not affected. With a time limit, a trial still running
    ``kill_grace(timeout)`` seconds past it has its worker killed and replaced, and is recorded
    as failed (``TrialTimeout``). Ctrl-C, or the consumer closing this generator, kills the
    workers at once.
    """
    timeout, retries = options.timeout, options.retries
    grace = kill_grace(timeout) if timeout is not None else 0.0
    context = multiprocessing.get_context("spawn")
    queue: deque[TrialSpec] = deque(specs)
    deaths: Counter[str] = Counter()
    startup_failures = 0
    pool: list[_Worker] = []
    finished = False
    try:
        while queue or any(w.spec is not None for w in pool):
            busy = sum(w.spec is not None for w in pool)
            while len(pool) < min(options.workers, busy + len(queue)):
                pool.append(_start_worker(context))
            for worker in pool:
                if worker.ready and worker.spec is None and queue:
                    spec = queue.popleft()
                    try:
                        worker.conn.send((spec, timeout))
                    except OSError:  # it died since it said it was ready: not this trial's doing
                        queue.appendleft(spec)
                        continue
                    worker.spec, worker.sent_at = spec, time.monotonic()
            wait_for = None
            if timeout is not None and any(w.spec is not None for w in pool):
                due = min(w.sent_at for w in pool if w.spec is not None) + timeout + grace
                wait_for = max(0.0, due - time.monotonic())
            wait([w.conn for w in pool] + [w.process.sentinel for w in pool], wait_for)

            for worker in list(pool):
                result: TrialResult | None = None
                gone = False
                try:
                    while worker.conn.poll():
                        kind, payload = worker.conn.recv()
                        if kind == "ready":
                            worker.ready = True
                            startup_failures = 0
                        elif worker.spec is not None:
                            spec, worker.spec = worker.spec, None
                            result = payload if kind == "result" else failed_result(spec, payload)
                            break
                except (EOFError, OSError):
                    gone = True
                if result is not None:
                    yield result
                    continue
                if gone or not worker.process.is_alive():
                    pool.remove(worker)
                    worker.stop()
                    if worker.spec is None:
                        if not worker.ready:
                            startup_failures += 1
                            if startup_failures >= STARTUP_FAILURES:
                                raise GesbenchError(
                                    f"{startup_failures} worker processes in a row died while "
                                    f"starting (exit code {worker.process.exitcode}); check that "
                                    "gesbench and its plugins import in a fresh interpreter"
                                )
                        continue
                    spec = worker.spec
                    deaths[spec.id] += 1
                    if deaths[spec.id] <= retries:
                        queue.appendleft(spec)
                        continue
                    yield failed_result(spec, died(deaths[spec.id]))
                elif (
                    timeout is not None
                    and worker.spec is not None
                    and time.monotonic() > worker.sent_at + timeout + grace
                ):
                    pool.remove(worker)
                    spec = worker.spec
                    worker.stop()
                    yield failed_result(spec, _hard_timeout(timeout, grace))
        finished = True
    finally:
        for worker in pool:
            worker.stop(wait_for=5.0 if finished else 0.0)
