"""A local pool of worker processes owned by the driver, forked from a fork server that has
imported gesbench once (:mod:`.forkserver`; spawned where there is none).

The workers start when the first trials are handed to the pool and stay warm until the run
ends (tuning rungs and the evaluation stage share them), each holding BLAS at one thread for
its whole life. Each worker runs one trial at a time, in the order the driver sent them over
its own pipe, and sends each result back as it finishes, so the driver always knows which trial
each process runs (the first it has not reported) and since when (the previous report). So
that a worker never waits for the driver between small trials, it is sent a few trials at a
time and more before it runs out (:func:`chunk_size`).

That keeps every fault attributable: a worker that dies charges a death to the trial it was
running only (retried on a fresh worker, then recorded as failed; the trials queued behind it
go back to the queue uncharged), and a trial that overruns its time limit by more than a grace
period, because it is stuck where Python's own time limit cannot reach (native code that never
returns), has its worker killed and replaced, and is recorded as failed with ``TrialTimeout``.
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
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.run.executors import forkserver
from gesbench.run.executors.options import ExecutorOptions, kill_grace
from gesbench.run.executors.signals import main_module_hidden, sigint_ignored
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.run.provenance import provenance
from gesbench.run.trial import pin_blas_threads
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

MAX_CHUNK = 16
"""Most trials sent to a worker at once."""
PRELOAD = [__name__]
"""What the fork server imports for the workers (:mod:`.forkserver`)."""
STARTUP_FAILURES = 3
"""Worker processes that may die before they are ready, in a row, before the run gives up
(gesbench or a plugin cannot be imported there)."""


def _worker_init(parent: int, environment: dict[str, str]) -> None:
    """Worker process set-up: leave Ctrl-C to the driver, end with it, and take its
    environment (a fork server's is the driver's at the time the server started).

    Ctrl-C in a terminal reaches every process of the job; the driver alone reacts (it stops
    the workers), so workers print no tracebacks of their own. A killed driver (SIGKILL, out
    of memory) cannot stop its workers, and idle ones would wait for work forever: Linux
    delivers SIGKILL to them on their parent's death (prctl PR_SET_PDEATHSIG), elsewhere a
    daemon thread watches the parent id. The parent is the driver, or the fork server, which
    exits as soon as the driver dies (:mod:`.forkserver`).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # already so when started by the driver
    forkserver.forget()
    parent = parent or os.getppid()
    forkserver.start_environment(environment)
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


def chunk_size(queued: int, workers: int) -> int:
    """Trials to send a worker at once: a quarter of its share of the queue, between 1 and
    :data:`MAX_CHUNK` (large early, so small trials do not wait for the driver; single at the
    end, so that the workers finish together)."""
    return max(1, min(MAX_CHUNK, queued // (4 * workers)))


def _worker_main(conn: Connection, parent: int, environment: dict[str, str]) -> None:
    """A worker's life: say it is ready, then run the trials it is sent in order and send each
    result back, until told to stop (None) or the driver goes away."""
    _worker_init(parent, environment)
    provenance()  # computed before the first trial's clock starts
    pin_blas_threads()
    conn.send(("ready", os.getpid()))
    pending: deque[TrialSpec] = deque()
    timeout: float | None = None
    while True:
        try:
            while not pending or conn.poll():  # wait for work; take what has come
                message = conn.recv()
                if message is None:  # done: nothing to tear down, every result is sent
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(0)
                specs, timeout = message
                pending.extend(specs)
        except (EOFError, OSError):
            return
        result = run_timed(pending.popleft(), timeout)
        try:
            conn.send(("result", result))
        except (EOFError, OSError):
            return
        except Exception as exc:  # the result does not pickle (e.g. a plugin's metric object)
            conn.send(("error", f"{type(exc).__name__}: the result could not be sent: {exc}"))


@dataclass
class _Worker:
    """One worker process as the driver sees it: its pipe, the trials sent to it and not yet
    reported (it runs the first), and since when it runs that one."""

    process: BaseProcess
    conn: Connection
    ready: bool = False
    sent: deque[TrialSpec] = field(default_factory=deque)
    since: float = 0.0

    @property
    def running(self) -> TrialSpec | None:
        return self.sent[0] if self.sent else None

    def stop(self) -> None:
        """Kill the worker unless it has exited, and release it."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()


def _start_worker(context: Any) -> _Worker:
    ours, theirs = context.Pipe(duplex=True)
    # the worker's parent: the fork server (started again if it died), or this process
    forked = context.get_start_method() == "forkserver"
    parent = (forkserver.start(PRELOAD) or 0) if forked else os.getpid()  # 0: unknown
    args = (theirs, parent, dict(os.environ))
    process = context.Process(target=_worker_main, args=args, name="gesbench")
    with sigint_ignored(), main_module_hidden():
        process.start()
    theirs.close()
    return _Worker(process, ours)


def _hard_timeout(timeout: float, grace: float) -> str:
    return (
        f"TrialTimeout: time limit of {timeout:g} s reached and the trial did not stop within "
        f"{grace:g} s more (stuck in native code, which Python cannot interrupt); its worker "
        "process was killed and replaced, so no partial trace is kept. Re-run to retry"
    )


def prepare(options: ExecutorOptions) -> None:
    """Start the fork server the workers come from (where there is one)."""
    if forkserver.AVAILABLE:
        forkserver.start(PRELOAD)


class Session:
    """A pool of ``options.workers`` worker processes, started with the first trials and kept
    until :meth:`close`."""

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options
        method = "forkserver" if forkserver.AVAILABLE else "spawn"
        self.context = multiprocessing.get_context(method)
        prepare(options)  # now, unless done before: its imports overlap the driver's planning
        self.pool: list[_Worker] = []
        self.startup_failures = 0

    def batches(self, specs: Sequence[TrialSpec]) -> Generator[list[TrialResult], None, None]:
        """Run ``specs``; yield their results in lists, each of the results that came in
        together, as they come.

        A worker that dies mid-trial (killed, out of memory, crashed in native code) is
        replaced and its trial run again, up to ``options.retries`` times, then recorded as
        failed (``WorkerDied``); other trials are not affected. With a time limit, a trial still
        running ``kill_grace(timeout)`` seconds past it has its worker killed and replaced, and
        is recorded as failed (``TrialTimeout``). Ctrl-C, or the consumer closing this generator
        before the end, kills the workers at once.
        """
        finished = False
        try:
            yield from self._batches(specs)
            finished = True
        finally:
            if not finished:  # workers busy with trials nobody waits for: stop them now
                self.close(wait=False)

    def _batches(self, specs: Sequence[TrialSpec]) -> Generator[list[TrialResult], None, None]:
        workers, timeout, retries = self.options.workers, self.options.timeout, self.options.retries
        grace = kill_grace(timeout) if timeout is not None else 0.0
        pool = self.pool
        queue: deque[TrialSpec] = deque(specs)
        deaths: Counter[str] = Counter()
        while queue or any(w.sent for w in pool):
            busy = sum(1 for w in pool if w.sent)
            while len(pool) < min(workers, busy + len(queue)):
                pool.append(_start_worker(self.context))
            for worker in pool:  # top up every worker that would otherwise run out
                if worker.ready and len(worker.sent) <= 1 and queue:
                    size = chunk_size(len(queue), workers)
                    chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
                    try:
                        worker.conn.send((chunk, timeout))
                    except OSError:  # it died since it said it was ready: not these trials' doing
                        queue.extendleft(reversed(chunk))
                        continue
                    if not worker.sent:
                        worker.since = time.monotonic()
                    worker.sent.extend(chunk)
            wait_for = None
            if timeout is not None and any(w.sent for w in pool):
                due = min(w.since for w in pool if w.sent) + timeout + grace
                wait_for = max(0.0, due - time.monotonic())
            wait([w.conn for w in pool] + [w.process.sentinel for w in pool], wait_for)

            batch: list[TrialResult] = []
            for worker in list(pool):
                gone = False
                try:
                    while worker.conn.poll():
                        kind, payload = worker.conn.recv()
                        if kind == "ready":
                            worker.ready = True
                            self.startup_failures = 0
                        elif worker.sent:
                            spec = worker.sent.popleft()
                            worker.since = time.monotonic()  # the next one starts now
                            batch.append(
                                payload if kind == "result" else failed_result(spec, payload)
                            )
                except (EOFError, OSError):
                    gone = True
                if gone or not worker.process.is_alive():
                    pool.remove(worker)
                    worker.stop()
                    if not worker.sent:
                        if not worker.ready:
                            self.startup_failures += 1
                            if self.startup_failures >= STARTUP_FAILURES:
                                raise GesbenchError(
                                    f"{self.startup_failures} worker processes in a row died "
                                    f"while starting (exit code {worker.process.exitcode}); "
                                    "check that gesbench and its plugins import in a fresh "
                                    "interpreter"
                                )
                        continue
                    spec = worker.sent.popleft()  # the trial it was running
                    queue.extendleft(reversed(worker.sent))  # queued behind it: uncharged
                    deaths[spec.id] += 1
                    if deaths[spec.id] <= retries:
                        queue.appendleft(spec)
                        continue
                    batch.append(failed_result(spec, died(deaths[spec.id])))
                elif (
                    timeout is not None
                    and worker.sent
                    and time.monotonic() > worker.since + timeout + grace
                ):
                    pool.remove(worker)
                    spec = worker.sent.popleft()
                    queue.extendleft(reversed(worker.sent))
                    worker.sent.clear()
                    worker.stop()
                    batch.append(failed_result(spec, _hard_timeout(timeout, grace)))
            if batch:
                yield batch

    def close(self, wait: bool = True) -> None:
        """Stop the workers: idle ones are asked to exit, all at once, and given a few seconds;
        the others are killed."""
        pool, self.pool = self.pool, []
        for worker in pool:
            if wait and not worker.sent:
                with suppress(OSError):
                    worker.conn.send(None)
        deadline = time.monotonic() + 5.0
        for worker in pool:
            if wait and not worker.sent:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            worker.stop()
