"""Trials as tasks on a Dask cluster (dask.distributed, imported only when used)."""

from __future__ import annotations

import warnings
from collections.abc import Generator, Sequence
from contextlib import ExitStack
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.run.executors.options import ExecutorOptions
from gesbench.run.executors.timed import died, failed_result, run_timed
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult


def run(specs: Sequence[TrialSpec], options: ExecutorOptions) -> Generator[TrialResult, None, None]:
    """Trials as tasks on a Dask cluster: an existing scheduler, or a local cluster of
    ``workers`` single-threaded worker processes.

    Only the spec travels to a worker and only the result travels back; results stream back
    with ``distributed.as_completed`` in the order they finish. When a worker dies mid-task the
    scheduler moves its task to another worker; after ``retries`` such moves (a local
    cluster's ``distributed.scheduler.allowed-failures``; an existing scheduler keeps its own
    setting) the trial is recorded as failed.
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
                    result = failed_result(spec, died(retries + 1))
                except Exception as exc:  # e.g. gesbench missing or broken on a worker
                    result = failed_result(spec, f"{type(exc).__name__}: {exc}")
                future.release()
                yield result
        finally:
            if futures:
                client.cancel(list(futures))
