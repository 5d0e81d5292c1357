"""Trial specs, their content-hashed ids, and the seed streams derived from them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from gesbench.core.budget import Budget
from gesbench.spec.schedule import TraceSchedule


def canonical_json(data: Any) -> str:
    """Key-sorted, whitespace-free JSON: equal content gives equal text, hence equal hashes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)


def digest(data: Any) -> str:
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def seed_sequence(data: Any) -> np.random.SeedSequence:
    """A SeedSequence whose entropy is the full 256-bit hash of ``data``."""
    return np.random.SeedSequence(int(digest(data), 16))


class Streams(NamedTuple):
    """Independent generators for one trial."""

    problem: np.random.Generator
    optimizer: np.random.Generator
    noise: np.random.Generator
    logging: np.random.Generator


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines one trial; JSON-serialisable, and hashed into its id.

    Seeds are never stored: they are derived from the content. The problem instance depends
    only on (problem, its params, repetition), so every optimizer at the same repetition meets
    the same instance (paired comparisons). The optimizer's randomness, the surrogate noise and
    the logging-only draws (alignment) come from three independent streams of the trial's hash,
    so logging more or less often never changes a trajectory.
    """

    experiment: str
    problem: str
    problem_params: dict[str, Any]
    problem_label: str
    optimizer: str
    optimizer_params: dict[str, Any]
    label: str
    budget: Budget
    repetition: int
    trace: TraceSchedule = field(default_factory=TraceSchedule)

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "problem": self.problem,
            "problem_params": dict(self.problem_params),
            "problem_label": self.problem_label,
            "optimizer": self.optimizer,
            "optimizer_params": dict(self.optimizer_params),
            "label": self.label,
            "budget": self.budget.to_dict(),
            "repetition": self.repetition,
            "trace": self.trace.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSpec:
        data = dict(data)
        data["budget"] = Budget.from_dict(data["budget"])
        data["trace"] = TraceSchedule.from_dict(data["trace"])
        return cls(**data)

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @property
    def id(self) -> str:
        return digest(self.to_dict())[:20]

    def streams(self) -> Streams:
        instance = {
            "problem": self.problem,
            "params": dict(self.problem_params),
            "repetition": self.repetition,
        }
        optimizer, noise, logging = seed_sequence(self.to_dict()).spawn(3)
        return Streams(
            np.random.default_rng(seed_sequence(instance)),
            np.random.default_rng(optimizer),
            np.random.default_rng(noise),
            np.random.default_rng(logging),
        )
