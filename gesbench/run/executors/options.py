"""The one options object every executor takes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gesbench.core.errors import GesbenchError

DEFAULT_RETRIES = 1
"""How many times a trial is run again after its worker process died under it."""


def kill_grace(timeout: float) -> float:
    """Seconds a trial may run past its time limit before its worker is killed: the limit
    itself stops a trial at its next Python bytecode (keeping its partial trace); this is for
    one stuck in native code. Half the limit, between 2 s and 30 s."""
    return max(2.0, min(30.0, 0.5 * timeout))


@dataclass(frozen=True)
class ExecutorOptions:
    """How trials are spread: ``workers`` local processes (or a local Dask cluster of that
    many), an existing Dask ``scheduler`` address, a per-trial time limit in seconds
    (``timeout``; None for none) and ``retries`` after a worker died under a trial."""

    workers: int = 1
    scheduler: str | None = None
    timeout: float | None = None
    retries: int = DEFAULT_RETRIES

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise GesbenchError(f"workers must be >= 1, got {self.workers}")
        if self.timeout is not None and not (self.timeout > 0 and math.isfinite(self.timeout)):
            raise GesbenchError(
                f"trial timeout must be a positive finite number of seconds, got {self.timeout}"
            )
        if self.retries < 0:
            raise GesbenchError(f"retries must be >= 0, got {self.retries}")

    def default_executor(self) -> str:
        """'dask' with a scheduler address, else 'processes' for several workers, else
        'sequential'."""
        if self.scheduler:
            return "dask"
        return "processes" if self.workers > 1 else "sequential"
