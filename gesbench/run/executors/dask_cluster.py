"""Trials as tasks on a Dask cluster (dask.distributed, imported only when used)."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.run.executors.options import ExecutorOptions, kill_grace
from gesbench.run.executors.signals import sigint_deferred, spawned_ignoring_sigint
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult

START_TOPIC = "gesbench-trial-start"
"""Dask event topic on which each trial announces where and that it started (with a limit)."""
POLL = 0.25
"""Seconds between checks for trials past their limit."""


def _task(spec: TrialSpec, timeout: float | None) -> TrialResult:
    """What runs on a Dask worker: the trial under its time limit, announced first when there
    is one, so the driver knows which worker to restart if the trial gets stuck."""
    if timeout is not None:
        try:
            from distributed import get_worker

            worker = get_worker()
            worker.log_event(START_TOPIC, {"trial": spec.id, "worker": worker.address})
        except Exception:  # not on a worker (tests), or an old distributed: no hard limit
            pass
    return run_timed(spec, timeout)


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


@contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """On Ctrl-C, stop the cluster without the tracebacks and warnings Dask logs while its
    connections close under it."""
    try:
        yield
    except KeyboardInterrupt:
        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
        raise


def run(specs: Sequence[TrialSpec], options: ExecutorOptions) -> Generator[TrialResult, None, None]:
    """Trials as tasks on a Dask cluster: an existing scheduler, or a local cluster of
    ``workers`` single-threaded worker processes.

    Only the spec travels to a worker and only the result travels back; results stream back
    with ``distributed.as_completed`` in the order they finish. When a worker dies mid-task the
    scheduler moves its task to another worker; after ``retries`` such moves (a local
    cluster's ``distributed.scheduler.allowed-failures``; an existing scheduler keeps its own
    setting) the trial is recorded as failed.

    With a time limit, a trial still running ``kill_grace(timeout)`` seconds past it (stuck in
    native code: the limit reaches a worker thread only at its next Python bytecode) is
    cancelled and its worker restarted through the client (``Client.restart_workers``, which
    needs a nanny: a local cluster has one); it is recorded as failed with ``TrialTimeout``.
    """
    workers, scheduler, timeout, retries = (
        options.workers,
        options.scheduler,
        options.timeout,
        options.retries,
    )
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
            # Its workers, also those restarted later, leave Ctrl-C to this process.
            stack.enter_context(spawned_ignoring_sigint())
            with sigint_deferred():  # a cluster half started cannot be shut down cleanly
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
                stack.enter_context(_quiet_shutdown())  # unwound first, before the cluster
        else:
            try:
                with sigint_deferred():
                    client = stack.enter_context(Client(scheduler))
                    stack.enter_context(_quiet_shutdown())
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
            client.submit(_task, spec, timeout, key=f"gesbench-trial-{spec.id}", pure=False): spec
            for spec in specs
        }
        by_id = {spec.id: future for future, spec in futures.items()}
        grace = kill_grace(timeout) if timeout is not None else 0.0
        started: dict[str, tuple[str, float]] = {}  # trial id -> (worker, when it started)

        def on_start(event: tuple[float, dict[str, str]]) -> None:  # in the client's thread
            message = event[1]
            started[message["trial"]] = (message["worker"], time.monotonic())

        def stuck(limit: float) -> list[tuple[Any, str]]:
            """Futures of trials running for more than ``limit`` s, with their workers."""
            now = time.monotonic()
            return [
                (by_id[trial], worker)
                for trial, (worker, since) in list(started.items())
                if trial in by_id and by_id[trial] in futures and now - since > limit
            ]  # (a shared scheduler may announce other runs' trials too)

        if timeout is not None:
            client.subscribe_topic(START_TOPIC, on_start)

        def outcome(future: Any, spec: TrialSpec) -> TrialResult:
            try:
                return future.result()
            except KeyboardInterrupt:
                raise
            except KilledWorker:
                return failed_result(spec, died(retries + 1))
            except BaseException as exc:  # e.g. gesbench missing or broken on a worker
                return failed_result(spec, f"{type(exc).__name__}: {exc}")
            finally:
                future.release()

        completed = as_completed(futures)
        try:
            while futures:
                batch = completed.next_batch(block=timeout is None)
                for future in batch:
                    if future in futures:  # not already recorded as stuck
                        yield outcome(future, futures.pop(future))
                if timeout is None or batch:
                    continue
                for future, worker in stuck(timeout + grace):
                    spec = futures.pop(future)
                    client.cancel([future])
                    try:
                        client.restart_workers([worker])
                        note = None
                    except Exception as exc:
                        note = f"{worker}: {type(exc).__name__}: {exc}"
                    yield failed_result(spec, _stuck(timeout, grace, note))
                time.sleep(POLL)
        finally:
            if timeout is not None:
                with suppress(Exception):  # the client may be closing under a Ctrl-C
                    client.unsubscribe_topic(START_TOPIC)
            if futures:
                client.cancel(list(futures))
