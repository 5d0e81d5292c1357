"""What one trial leaves behind: the record the store keeps, whoever ran the trial."""

from __future__ import annotations

from dataclasses import dataclass, field
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
