"""Trials one after another in this process."""

from __future__ import annotations

from collections.abc import Generator, Sequence

from gesbench.run.executors.options import ExecutorOptions
from gesbench.run.executors.timed import run_timed
from gesbench.spec.trial import TrialSpec
from gesbench.store.record import TrialResult


def run(specs: Sequence[TrialSpec], options: ExecutorOptions) -> Generator[TrialResult, None, None]:
    for spec in specs:
        yield run_timed(spec, options.timeout)
