"""Preloaded into the worker processes of the local Dask cluster gesbench starts.

Ctrl-C in a terminal reaches every process of the job; the driver alone should react (it
stops the cluster), so a worker does not stop on SIGINT: it only silences its logging, so
that the driver's shutdown of the cluster does not print a warning per cancelled trial.
Set at every worker start, so workers the nanny restarts behave the same. Cancelling a
trial's task (which gesbench does only when it gives up on the trial) is not worth a warning
either.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any


def _silence(signum: int, frame: FrameType | None) -> None:
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


def dask_setup(worker: Any) -> None:
    logging.getLogger("distributed.worker.state_machine").setLevel(logging.ERROR)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _silence)
