"""Experiment specs, their expansion into trials, trial identity and seeds, trace schedules."""

from gesbench.spec.experiment import (
    Experiment,
    builtin_experiments,
    load_experiment,
    parse_experiment,
)
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec

__all__ = [
    "Experiment",
    "TraceSchedule",
    "TrialSpec",
    "builtin_experiments",
    "load_experiment",
    "parse_experiment",
]
