"""Trials one after another in this process."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from contextlib import ExitStack

from gesbench.run.executors.options import ExecutorOptions
from gesbench.run.executors.timed import run_timed
from gesbench.run.instances import INSTANCES
from gesbench.run.trial import blas_pinned
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult


def prepare(options: ExecutorOptions) -> None:
    """Nothing to start before the run: trials run in this process."""


class Session:
    """Runs trials in the calling process, with BLAS held at one thread from the first trial
    until :meth:`close`, which restores the limits before and drops the problem instances the
    run kept (:data:`~gesbench.run.instances.INSTANCES`), so the caller's process gets back
    what the run took."""

    def __init__(self, options: ExecutorOptions) -> None:
        self.options = options
        self._held = ExitStack()

    def batches(self, specs: Sequence[TrialSpec]) -> Generator[list[TrialResult], None, None]:
        """Run ``specs`` one by one; yield each result alone, as it finishes."""
        if specs:
            self._held.enter_context(blas_pinned())
        for spec in specs:
            yield [run_timed(spec, self.options.timeout)]

    def close(self) -> None:
        self._held.close()
        INSTANCES.clear()
