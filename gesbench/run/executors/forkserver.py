"""The fork server that local worker processes (process pool, local Dask cluster) are forked
from, where the platform has one (multiprocessing's 'forkserver' start method; elsewhere
workers are spawned).

A spawned worker starts a fresh interpreter and imports gesbench, NumPy and SciPy (and Dask's
worker, for a Dask cluster) itself: a third of a second to a second per worker, paid by every
run, on the cores the trials need. The fork server is one clean interpreter that has made those
imports once; a worker forked from it is ready in milliseconds. It is started as soon as an
executor is opened, so its imports overlap the driver's planning, and it stays up for later
runs in the same process.

It is multiprocessing's one fork server per process: the first executor to start it chooses
what it imports (:func:`start`); a later executor of the other kind still works with it, its
workers importing what the server lacks themselves. A worker takes the driver's working
directory and ``sys.path`` as it starts (multiprocessing sends them), and its environment
(:func:`start_environment`); nothing else of the driver's state reaches it.

Faults: the server ignores Ctrl-C, and so does every worker it forks, from the start; it never
imports the driver's main module; and it exits as soon as no process holds its 'alive' pipe,
that is when the driver is gone, since each worker closes its copy at once (:func:`forget`), so
a worker that asked the kernel to be killed with its parent (PR_SET_PDEATHSIG) ends with the
driver, through the server, even in the middle of a trial.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress

from gesbench.run.executors.signals import main_module_hidden, sigint_ignored

AVAILABLE = "forkserver" in multiprocessing.get_all_start_methods()
"""Whether workers are forked from the fork server (else spawned)."""
ONE_BLAS_THREAD = {
    name: "1" for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
}
"""The fork server's environment beyond the driver's: its BLAS libraries load with one thread.
Workers hold BLAS at one thread anyway, but an OpenBLAS loaded with more starts its other
threads again in each forked worker at the first BLAS call, and they spin for about 0.1 s
before they sleep: measured, the first trial of each worker took 80-90 ms longer, on the cores
the trials run on."""


@contextmanager
def restored_environment(names: Iterable[str]) -> Iterator[None]:
    """The variables ``names`` of this process's environment as they were before the block,
    again after it (set, changed or removed in it)."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in this process's environment for the block (a child started in it has them)."""
    with restored_environment(values):
        os.environ.update(values)
        yield


def start(preload: list[str]) -> int | None:
    """Start the fork server unless it runs, importing the modules ``preload``, ignoring
    Ctrl-C and without the driver's main module; returns its process id (None where
    multiprocessing does not say)."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    starting = getattr(server, "_forkserver_pid", None) is None  # not started by anyone yet
    if starting:
        forkserver.set_forkserver_preload(preload)
    # (the environment changes for the server's start only: other threads of this process
    # may read it)
    with sigint_ignored(), main_module_hidden(), _environment(ONE_BLAS_THREAD if starting else {}):
        forkserver.ensure_running()  # (started again if it died)
    return getattr(server, "_forkserver_pid", None)


def forget() -> bool:
    """In a worker process: if it was forked by the fork server, close its copy of the
    server's 'alive' pipe (so that the server ends with the driver) and return True."""
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    fd = getattr(server, "_forkserver_alive_fd", None)
    if server is None or fd is None:
        return False
    with suppress(OSError):
        os.close(fd)
    server._forkserver_alive_fd = None
    return True


def start_environment(environment: dict[str, str]) -> None:
    """In a worker process: take the driver's environment as it was when the worker started
    (a forked worker has the fork server's, from the time the server started), and see
    packages installed since (plugins found through entry points)."""
    if os.environ != environment:
        os.environ.clear()
        os.environ.update(environment)
    importlib.invalidate_caches()
