"""Preloaded into the worker processes of the local Dask cluster gesbench starts.

Ctrl-C in a terminal reaches every process of the job; the driver alone should react (it
stops the cluster). The workers are started ignoring SIGINT
(:func:`~gesbench.run.executors.signals.spawned_ignoring_sigint`); here a SIGINT only silences
their logging, so that the driver's shutdown of the cluster does not print a warning per
cancelled trial. Cancelling a trial's task (which gesbench does only when it gives up on the
trial) is not worth a warning either. And a worker ends with the driver (on Linux at once,
through PR_SET_PDEATHSIG, also when forked from the fork server), instead of logging
connection errors for a moment when the driver is killed. Set at every worker start, so
workers the nanny restarts behave the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import multiprocessing
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from gesbench.run.executors import forkserver


def _silence(signum: int, frame: FrameType | None) -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_with_parent() -> None:
    """Be killed when the parent process dies: the driver, or the fork server the worker was
    forked from, which exits when the driver does (:mod:`gesbench.run.executors.forkserver`)."""
    driver = multiprocessing.parent_process()  # the nanny's process: the driver
    forked = forkserver.forget()
    libc = ctypes.util.find_library("c") if sys.platform == "linux" else None
    if driver is None or driver.pid is None or libc is None:
        return
    parent = os.getppid() if forked else driver.pid
    if forked and not _alive(driver.pid):  # the fork server may be gone already too
        os._exit(1)
    pr_set_pdeathsig = 1
    ctypes.CDLL(libc).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def dask_setup(worker: Any) -> None:
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _silence)
    _end_with_parent()
