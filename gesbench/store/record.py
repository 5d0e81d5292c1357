"""What one trial leaves behind: the record the store keeps, whoever ran the trial."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any, Literal

import numpy as np

from gesbench.spec.trial import TrialSpec

Status = Literal["done", "failed", "diverged"]

TRACE_COLUMNS = (
    "iteration",
    "evaluations",
    "gradient_calls",
    "cost",
    "wall_time",
    "loss",
    "excess_loss",
    "alignment",
)
"""Columns of a trace. ``loss`` is the true loss at the optimizer's recommendation (never
charged to the budget); ``excess_loss`` is ``loss - f_star`` (NaN when f* is unknown);
``alignment`` is the cosine between a fresh surrogate draw and the true gradient at that point
(NaN without a true gradient); ``cost`` is the budget spent in its own units."""


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one trial, as stored."""

    spec: TrialSpec
    status: Status
    error: str | None
    started: float
    wall_time: float
    iterations: int
    evaluations: int
    gradient_calls: int
    final_loss: float
    trace: dict[str, np.ndarray] = field(repr=False)
    provenance: dict[str, Any] = field(repr=False, default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # Problem.final_metrics, if done
    dim: int | None = None  # the problem's dimension, when it could be built

    @property
    def trial_id(self) -> str:
        return self.spec.id


def clean_metrics(metrics: object, owner: str = "final_metrics()") -> dict[str, float]:
    """Final metrics as the store keeps them: ``{name: float}``.

    Any real number is accepted and stored as a float (numpy scalars and booleans included;
    NaN and inf too); anything else raises ``TypeError`` naming the metric,
    so that the trial that produced it fails instead of the store or a later reader.
    """
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f"{owner} must return a dict of metric name -> number, got "
            f"{type(metrics).__name__}: {metrics!r:.80}"
        )
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"{owner} returned a metric name that is not a string: {name!r:.80}")
        if not isinstance(value, Real | np.bool_):
            raise TypeError(
                f"{owner} returned {type(value).__name__} {value!r:.80} for metric {name!r}; "
                "final metrics must be numbers"
            )
        out[name] = float(value)
    return out
