"""Trials as tasks on a Dask cluster (dask.distributed, imported only when used)."""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections import deque
from collections.abc import Generator, Iterable, Sequence
from contextlib import ExitStack, suppress
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.run.executors import forkserver
from gesbench.run.executors.options import ExecutorOptions, kill_grace
from gesbench.run.executors.signals import (
    main_module_hidden,
    sigint_deferred,
    spawned_ignoring_sigint,
)
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.run.trial import pin_blas_threads
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

START_TOPIC = "gesbench-trial-start"
"""Dask event topic on which each trial announces where and that it started (with a limit)."""
POLL = 0.25
"""Seconds between checks for trials past their limit (a finished task ends the wait early)."""
PRELOAD = ["distributed", "gesbench.run.executors.dask_worker", __name__]
"""What the fork server imports for a local cluster's workers (:mod:`.forkserver`)."""
IN_FLIGHT = 2
"""Tasks submitted per worker thread: the one it runs and the next, which the scheduler holds
(``worker-saturation`` 1) and sends as the first finishes, so no worker waits for the driver.
More only adds tasks of one trial before the first trials finish: at 8, 120 trials of 85 ms on
2 workers made 46 tasks instead of 34, and ran 1.76x faster than sequentially instead of
1.81x (six alternating runs)."""
TASK_SECONDS = 0.5
"""Seconds of trials a task is sized to. The scheduler, nannies and client take about 5 ms of
CPU per task, on the cores a local cluster's trials run on: 120 trials of 85 ms on 2 workers ran
1.64x faster than sequentially at one trial per task, 1.75x at 0.3 s, 1.86x at 0.5 s and no
faster at 0.6-1 s, while longer tasks hold results back and lose more work to faults."""
RECOUNT = 1.0
"""Seconds between counts of an existing scheduler's worker threads, which size the tasks in
flight."""
RECENT = 16
"""Finished trials whose mean ``wall_time`` sizes the next task: recent ones, so the size
follows a run whose trials get longer or shorter."""


def prepare(options: ExecutorOptions) -> None:
    """Start the fork server a local cluster's workers come from (where there is one)."""
    if options.scheduler is None and forkserver.AVAILABLE:
        forkserver.start(PRELOAD)


def chunk_size(seconds: float | None, waiting: int, threads: int) -> int:
    """Trials for the next task: one while no trial has finished (their durations are
    unknown), else as many as take about :data:`TASK_SECONDS` at ``seconds`` each, but at most
    ``waiting / (2 threads)``, so that the last tasks are short and the workers finish
    together."""
    if seconds is None:
        return 1
    return max(1, min(int(TASK_SECONDS / max(seconds, 1e-6)), waiting // (2 * threads)))


def _total(threads: Iterable[int]) -> int:
    """Worker threads in all, to size the tasks in flight (at least 1: a scheduler may have no
    workers yet)."""
    return max(1, sum(threads))


def _task(specs: tuple[TrialSpec, ...], timeout: float | None, pin: bool) -> list[TrialResult]:
    """What runs on a Dask worker: the trials one after the other, each under its own time
    limit and, when there is one, announced as it starts, so the driver knows which trial runs
    where (to restart that worker if the trial gets stuck). With ``pin`` (the single-threaded
    workers of a local cluster gesbench started) BLAS is held at one thread for the worker's
    life instead of for each trial."""
    if pin:
        pin_blas_threads()
    results = []
    for spec in specs:
        if timeout is not None:
            _announce(spec)
        results.append(run_timed(spec, timeout))
    return results


def _announce(spec: TrialSpec) -> None:
    try:
        from distributed import get_worker

        worker = get_worker()
        worker.log_event(START_TOPIC, {"trial": spec.id, "worker": worker.address})
    except Exception:  # not on a worker (tests), or an old distributed: no hard limit
        pass


def _stuck(timeout: float, grace: float, failure: str | None) -> str:
    what = (
        "its Dask worker was restarted, so no partial trace is kept"
        if failure is None
        else f"restarting its Dask worker failed ({failure}), so that worker stays busy until "
        "the call returns"
    )
    return (
        f"TrialTimeout: time limit of {timeout:g} s reached and the trial did not stop within "
        f"{grace:g} s more (stuck in native code, which Python cannot interrupt on a Dask "
        f"worker thread); {what}. Re-run to retry"
    )


def _quiet_shutdown() -> None:
    """Stop the cluster without the tracebacks and warnings Dask logs while its connections
    close under it (and its nannies kill workers busy with trials): for Ctrl-C."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _keep_preload() -> None:
    """Stop Dask from choosing what the fork server imports: by default it imports there,
    and first in this process, every package it can use (pandas, pyarrow, ...)."""
    with suppress(ImportError):
        import distributed.utils

        if hasattr(distributed.utils, "_forkserver_preload_set"):
            distributed.utils._forkserver_preload_set = True
        forkserver.start(PRELOAD)  # before Dask starts it, if it does not run yet


class Session:
    """Trials as tasks on a Dask cluster: an existing scheduler, or a local cluster of
    ``workers`` single-threaded worker processes, started with the first trials and kept until
    :meth:`close`.

    Only the specs travel to a worker and only the results travel back. A task runs several
    trials one after the other, as many as take about :data:`TASK_SECONDS` by the durations of
    the trials finished so far (one per task until some have: :func:`chunk_size`), so the
    cluster's own cost per task is spread over them; results stream back with
    ``distributed.as_completed`` as tasks finish, and :data:`IN_FLIGHT` tasks per worker thread
    are in flight, another sent as each finishes (an existing scheduler's threads are counted
    again as its workers come and go). Each trial's result is what it would be alone: the
    trials are independent, seeded by their specs. When a worker dies mid-task the scheduler
    moves its task to another worker; after ``retries`` such moves (a local cluster's
    ``distributed.scheduler.allowed-failures``; an existing scheduler keeps its own setting) a
    task of one trial is recorded as failed, and one of several is split into a task per trial,
    so the deaths are charged to the trial that causes them and the others complete.

    With a time limit, a trial still running ``kill_grace(timeout)`` seconds past it (stuck in
    native code: the limit reaches a worker thread only at its next Python bytecode) is
    cancelled with its task, and its worker restarted through the client
    (``Client.restart_workers``, which needs a nanny: a local cluster has one); it is recorded
    as failed with ``TrialTimeout``, and the task's other trials run again, a task each.
    """

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options
        self.stack = ExitStack()
        self.client: Any = None
        self.local = options.scheduler is None
        self.threads = 1
        prepare(options)  # now, unless done before: its imports overlap the planning

    def _start(self) -> None:
        workers, scheduler, retries = (
            self.options.workers,
            self.options.scheduler,
            self.options.retries,
        )
        try:
            import dask.config
            from distributed import Client, LocalCluster
        except ImportError:
            raise GesbenchError(
                "the dask executor needs dask.distributed: pip install 'gesbench[dask]'"
            ) from None
        stack = self.stack
        if scheduler is None:
            settings: dict[str, Any] = {
                "distributed.scheduler.allowed-failures": retries,
                # Dask's sampling profiler takes the GIL from the trial's thread every 10 ms,
                # for stacks nobody reads here.
                "distributed.worker.profile.enabled": False,
                # Every server of a local cluster (scheduler, nannies, workers) wakes its event
                # loop for these, on the cores the trials run on: a tick checks that the loop
                # is not blocked (every 20 ms), the system monitor samples CPU, memory and I/O
                # for the dashboard (every 0.5 s), the nanny reads each worker's memory
                # (every 0.1 s). Rarer, the cluster's own CPU time fell by about 0.2 s per
                # 40 trials of 0.1 s on two cores (a few percent of the trials' time), and a
                # blocked loop or a worker past its memory limit is still caught within
                # half a second.
                "distributed.admin.tick.interval": "500ms",
                "distributed.admin.system-monitor.interval": "2s",
                "distributed.worker.memory.monitor-interval": "500ms",
                # A worker is sent its next task when it finishes one (by default it holds one
                # more): a worker that dies then counts a death against its running task only,
                # not against an innocent one queued behind it, which with one retry left
                # could be recorded as failed.
                "distributed.scheduler.worker-saturation": 1.0,
            }
            if forkserver.AVAILABLE:  # workers forked from gesbench's fork server
                settings["distributed.worker.multiprocessing-method"] = "forkserver"
                _keep_preload()
            stack.enter_context(dask.config.set(settings))
            # Each nanny sets its worker's variables in this process's environment and leaves
            # them (one BLAS thread, PYTHONHASHSEED, ...): as they were once the cluster closes,
            # so that what this process starts or loads later does not take them.
            nanny = dask.config.get("distributed.nanny.pre-spawn-environ", {})
            stack.enter_context(forkserver.restored_environment([*nanny, "PYTHONHASHSEED"]))
            # Its workers, also those restarted later, leave Ctrl-C to this process.
            stack.enter_context(spawned_ignoring_sigint())
            # A cluster half started cannot be shut down cleanly; its workers need nothing of
            # the driver's main module.
            with sigint_deferred(), main_module_hidden():
                try:
                    cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",  # any free port: the default may be taken
                        preload=["gesbench.run.executors.dask_worker"],  # quiet on Ctrl-C
                    )
                except Exception as exc:  # e.g. a worker process killed while it started
                    raise GesbenchError(
                        f"the local Dask cluster did not start ({type(exc).__name__}: {exc}); "
                        "run the command again (finished trials are kept)"
                    ) from None
                stack.enter_context(cluster)
                client = stack.enter_context(Client(cluster))
        else:
            try:
                with sigint_deferred():
                    client = stack.enter_context(Client(scheduler))
            except (OSError, TimeoutError, ValueError) as exc:
                raise GesbenchError(
                    f"cannot connect to the Dask scheduler at {scheduler!r}: {exc}"
                ) from None
        threads = client.nthreads().values()  # per worker
        if any(n > 1 for n in threads):
            warnings.warn(
                "some Dask workers run several threads: trials sharing a process cannot each "
                "hold BLAS to one thread, so results may differ from a sequential run in the "
                "last bits; start workers with --nthreads 1",
                stacklevel=3,
            )
        self.threads = _total(threads)
        self.client = client

    def batches(self, specs: Sequence[TrialSpec]) -> Generator[list[TrialResult], None, None]:
        """Run ``specs`` as tasks; yield their results in lists, each of those that came in
        together, as they come."""
        if not specs:
            return
        if self.client is None:
            self._start()
        from distributed import as_completed, wait
        from distributed.scheduler import KilledWorker

        client, timeout, retries = self.client, self.options.timeout, self.options.retries
        waiting = deque(specs)
        tasks: dict[Any, tuple[TrialSpec, ...]] = {}  # future -> its trials, while in flight
        by_id: dict[str, Any] = {}  # trial id -> the future of its latest task
        recent: deque[float] = deque(maxlen=RECENT)  # wall times of the latest finished trials
        completed = as_completed()
        grace = kill_grace(timeout) if timeout is not None else 0.0
        started: dict[str, tuple[str, float]] = {}  # trial id -> (worker, when it started)

        def send(chunk: tuple[TrialSpec, ...]) -> None:
            key = f"gesbench-trials-{len(chunk)}-{chunk[0].id}"
            future = client.submit(_task, chunk, timeout, self.local, key=key, pure=False)
            tasks[future] = chunk
            for spec in chunk:
                by_id[spec.id] = future
                started.pop(spec.id, None)  # an earlier task's start says nothing of this one
            completed.add(future)

        recounted = time.monotonic()

        def top_up() -> None:
            nonlocal recounted
            if not self.local and waiting and time.monotonic() - recounted > RECOUNT:
                # an existing scheduler's workers may come and go (adaptive clusters); if it
                # does not answer, the count stays, and the tasks' results say what happened
                with suppress(OSError, TimeoutError):
                    self.threads = _total(client.nthreads().values())
                recounted = time.monotonic()
            while waiting and len(tasks) < IN_FLIGHT * self.threads:
                seconds = sum(recent) / len(recent) if recent else None
                size = chunk_size(seconds, len(waiting), self.threads)
                send(tuple(waiting.popleft() for _ in range(size)))

        def on_start(event: tuple[float, dict[str, str]]) -> None:  # in the client's thread
            message = event[1]
            started[message["trial"]] = (message["worker"], time.monotonic())

        def stuck(limit: float) -> list[tuple[Any, str, str]]:
            """Tasks whose running trial (the last of theirs to start) has run for more than
            ``limit`` s: their futures, that trial and its worker."""
            now = time.monotonic()
            running: dict[Any, tuple[str, str, float]] = {}
            for trial, (worker, since) in list(started.items()):
                future = by_id.get(trial)  # (a shared scheduler announces other runs' too)
                if future in tasks and since > running.get(future, ("", "", -1.0))[2]:
                    running[future] = (trial, worker, since)
            return [
                (future, trial, worker)
                for future, (trial, worker, since) in running.items()
                if now - since > limit
            ]

        if timeout is not None:
            client.subscribe_topic(START_TOPIC, on_start)

        def outcome(future: Any, chunk: tuple[TrialSpec, ...]) -> list[TrialResult]:
            try:
                results: list[TrialResult] = future.result()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                if len(chunk) > 1:  # a task of its own each: a fault is charged to its trial
                    for spec in chunk:
                        send((spec,))
                    return []
                if isinstance(exc, KilledWorker):
                    return [failed_result(chunk[0], died(retries + 1))]
                # e.g. gesbench missing or broken on a worker
                return [failed_result(chunk[0], f"{type(exc).__name__}: {exc}")]
            finally:
                future.release()
            recent.extend(result.wall_time for result in results)
            return results

        top_up()
        try:
            while tasks:
                ready = completed.next_batch(block=timeout is None)
                batch = [
                    result
                    for future in ready
                    if future in tasks  # (not those already given up as stuck)
                    for result in outcome(future, tasks.pop(future))
                ]
                if timeout is not None and not ready:
                    for future, trial, worker in stuck(timeout + grace):
                        chunk = tasks.pop(future)
                        client.cancel([future])
                        try:
                            client.restart_workers([worker])
                            note = None
                        except Exception as exc:
                            note = f"{worker}: {type(exc).__name__}: {exc}"
                        for spec in chunk:  # the others run again, each as a task of its own
                            if spec.id == trial:
                                batch.append(failed_result(spec, _stuck(timeout, grace, note)))
                            else:
                                send((spec,))
                top_up()
                if batch:
                    yield batch
                elif timeout is not None and tasks:
                    # Until a task finishes (its worker would wait for the next otherwise:
                    # only IN_FLIGHT are sent) or it is time to look for stuck trials.
                    with suppress(Exception):  # timed out, or a task was cancelled: seen above
                        wait(list(tasks), timeout=POLL, return_when="FIRST_COMPLETED")
        finally:
            if timeout is not None:
                with suppress(Exception):  # the client may be closing under a Ctrl-C
                    client.unsubscribe_topic(START_TOPIC)
            if tasks:
                client.cancel(list(tasks))

    def close(self) -> None:
        """Stop the cluster (or leave the scheduler). Called while a Ctrl-C unwinds the run
        (:func:`~gesbench.run.executors.open_executor` closes the session in its ``finally``),
        quietly."""
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            _quiet_shutdown()
        self.client = None
        self.stack.close()
