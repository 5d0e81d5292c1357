"""Trial specs, their content-hashed ids, and the seed streams derived from them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
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


IDENTITY_VERSION = 2
"""Salt of every trial id and seed: bumped when the same spec must no longer give the same
numbers (version 1 hashed labels, experiment name and trace schedule too)."""

STAGES = ("evaluation", "tuning")


class Streams(NamedTuple):
    """Independent generators for one trial."""

    problem: np.random.Generator
    optimizer: np.random.Generator
    noise: np.random.Generator
    logging: np.random.Generator


@dataclass(frozen=True)
class TrialSpec:
    """Everything that defines one trial, plus how it is shown; JSON-serialisable.

    Its identity (:meth:`identity`, hashed into :attr:`id` and every seed) is science only:
    problem and optimizer names and parameters, budget, repetition, stage, ``seed`` and a
    version salt. Labels, the experiment name and the trace schedule are presentation: they
    never enter the identity, so renaming a method or logging more densely re-uses finished
    trials and never moves a number.

    Seeds are never stored: they are derived from the identity. The problem instance depends
    only on (problem, its params, repetition, stage), so every optimizer at the same
    repetition meets the same instance (paired comparisons). The optimizer's randomness, the
    surrogate noise and the logging-only draws (alignment) come from three independent
    streams, so logging more or less often never changes a trajectory. ``seed`` adds entropy to
    those three streams only: the same instance with other optimizer and noise draws.
    """

    problem: str
    problem_params: dict[str, Any]
    optimizer: str
    optimizer_params: dict[str, Any]
    budget: Budget
    repetition: int
    stage: str = "evaluation"
    seed: int = 0
    experiment: str = ""
    problem_label: str = ""
    label: str = ""
    trace: TraceSchedule = field(default_factory=TraceSchedule)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")

    def identity(self) -> dict[str, Any]:
        """What the trial's id and seeds are derived from: the science, nothing else."""
        return {
            "version": IDENTITY_VERSION,
            "problem": self.problem,
            "problem_params": dict(self.problem_params),
            "optimizer": self.optimizer,
            "optimizer_params": dict(self.optimizer_params),
            "budget": self.budget.to_dict(),
            "repetition": self.repetition,
            "stage": self.stage,
            "seed": self.seed,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.identity(),
            "experiment": self.experiment,
            "problem_label": self.problem_label,
            "label": self.label,
            "trace": self.trace.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSpec:
        data = dict(data)
        data.pop("version", None)
        data["budget"] = Budget.from_dict(data["budget"])
        data["trace"] = TraceSchedule.from_dict(data["trace"])
        return cls(**data)

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @cached_property
    def id(self) -> str:
        """A hash of :meth:`identity` (computed once per spec: a run looks it up often)."""
        return digest(self.identity())[:20]

    def instance(self) -> dict[str, Any]:
        """What the problem instance is drawn from: shared by every optimizer (pairing), and by
        both precisions: ``dtype`` says how an instance is computed, not which one, so float32
        and float64 trials of one repetition are paired too."""
        return {
            "version": IDENTITY_VERSION,
            "problem": self.problem,
            "params": {k: v for k, v in self.problem_params.items() if k != "dtype"},
            "repetition": self.repetition,
            "stage": self.stage,
        }

    def seed_material(self) -> dict[str, str]:
        """The entropy (SHA-256, hex) of the problem-instance stream and of the trial's own
        streams (optimizer, noise and logging, spawned from it in that order)."""
        return {"instance": digest(self.instance()), "trial": digest(self.identity())}

    def streams(self) -> Streams:
        optimizer, noise, logging = seed_sequence(self.identity()).spawn(3)
        return Streams(
            np.random.default_rng(seed_sequence(self.instance())),
            np.random.default_rng(optimizer),
            np.random.default_rng(noise),
            np.random.default_rng(logging),
        )
