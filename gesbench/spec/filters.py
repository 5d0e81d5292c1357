"""Choosing part of an experiment: ``--problems`` and ``--optimizers`` patterns.

A pattern is a name or a label, with shell-style wildcards (:mod:`fnmatch`: ``*``, ``?``,
``[seq]``), matched without regard to case against each entry's registered name and its
label: ``guided_es`` picks every Guided ES entry, ``"Guided ES*"`` every label that starts so,
``GES`` the entry labelled GES. A pattern that matches nothing is an error that lists what
there is. No pattern of a kind means every entry of that kind.

``gesbench run SPEC --optimizers NEW`` runs (or resumes, or with ``--rerun`` runs again) only
those entries' trials while the run folder keeps describing the whole spec, so the other
methods' finished trials stay in the results and the report; ``gesbench report RUN_DIR
--optimizers ...`` draws a report of the chosen problems and methods only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from gesbench.core.errors import SpecError
from gesbench.spec.experiment import Entry, Experiment
from gesbench.spec.trial import TrialSpec

TUNING_MARK = " [tuning "
"""How a tuning trial's label continues after its method's label (``tuning_label``)."""


def entry_label(trial: TrialSpec) -> str:
    """The label of the spec entry a trial belongs to (a tuning trial's label without its
    ``[tuning ...]`` part)."""
    if trial.stage == "tuning" and TUNING_MARK in trial.label:
        return trial.label.rsplit(TUNING_MARK, 1)[0]
    return trial.label


def match_patterns(
    patterns: Sequence[str], entries: Iterable[tuple[str, str]], option: str
) -> list[str]:
    """The labels of ``entries`` ((name, label) pairs, in order) that any of ``patterns``
    matches by name or label (case-insensitive wildcards); SpecError naming the ``option``
    and listing the available names and labels when a pattern matches nothing."""
    pairs = list(entries)
    chosen: set[str] = set()
    for pattern in patterns:
        wanted = pattern.casefold()
        hits = {
            label
            for name, label in pairs
            if fnmatchcase(name.casefold(), wanted) or fnmatchcase(label.casefold(), wanted)
        }
        if not hits:
            names = sorted({name for name, _ in pairs})
            labels = [label for _, label in pairs]
            raise SpecError(
                f"{option} {pattern!r} matches nothing; available labels: "
                f"{', '.join(labels)} (names: {', '.join(names)}). Patterns are names or "
                "labels, with * and ? as wildcards, case ignored"
            )
        chosen |= hits
    return [label for _, label in pairs if label in chosen]


@dataclass(frozen=True)
class Selection:
    """Patterns choosing problems and optimizers (empty: all of that kind)."""

    problems: tuple[str, ...] = ()
    optimizers: tuple[str, ...] = ()

    @classmethod
    def of(cls, problems: Sequence[str] | None, optimizers: Sequence[str] | None) -> Selection:
        return cls(tuple(problems or ()), tuple(optimizers or ()))

    @property
    def active(self) -> bool:
        """Whether anything is left out at all."""
        return bool(self.problems or self.optimizers)

    def describe(self) -> str:
        """``problems=quad* optimizers=GES,ES``, for messages and folder names."""
        parts = []
        for kind, patterns in (("problems", self.problems), ("optimizers", self.optimizers)):
            if patterns:
                parts.append(f"{kind}={','.join(patterns)}")
        return " ".join(parts) or "everything"

    def slug(self) -> str:
        """A folder name for this selection: readable, one path component, and distinct for
        distinct selections (a short hash of the patterns is appended)."""
        readable = re.sub(r"[^A-Za-z0-9._=,+-]+", "_", self.describe().replace(" ", "+"))
        readable = readable.strip("._") or "subset"
        digest = hashlib.sha256(repr((self.problems, self.optimizers)).encode()).hexdigest()
        return f"{readable[:80]}-{digest[:6]}"

    def labels(
        self, problems: Iterable[tuple[str, str]], optimizers: Iterable[tuple[str, str]]
    ) -> tuple[list[str], list[str]]:
        """The chosen problem labels and method labels among (name, label) pairs."""
        problems, optimizers = list(problems), list(optimizers)
        return (
            match_patterns(self.problems, problems, "--problems")
            if self.problems
            else [label for _, label in problems],
            match_patterns(self.optimizers, optimizers, "--optimizers")
            if self.optimizers
            else [label for _, label in optimizers],
        )

    def resolve(self, experiment: Experiment) -> ChosenEntries:
        """The entries of ``experiment`` this selection chooses (SpecError if a pattern
        matches none)."""

        def pairs(entries: Sequence[Entry]) -> list[tuple[str, str]]:
            return [(e.name, e.label) for e in entries]

        problems, optimizers = self.labels(pairs(experiment.problems), pairs(experiment.optimizers))
        shared = experiment.tuning is not None and experiment.tuning.scope == "shared"
        return ChosenEntries(frozenset(problems), frozenset(optimizers), shared)


@dataclass(frozen=True)
class ChosenEntries:
    """The problem and method labels a :class:`Selection` chose in one experiment.

    ``keeps(trial)`` says whether a trial belongs to them. A tuning trial of a chosen method
    is kept on every problem when the spec's tuning scope is "shared" (its selection is made
    over all problems at once), so choosing problems never changes a method's selection.
    """

    problem_labels: frozenset[str]
    labels: frozenset[str]
    shared_tuning: bool = False

    def keeps(self, trial: TrialSpec) -> bool:
        if entry_label(trial) not in self.labels:
            return False
        if trial.stage == "tuning" and self.shared_tuning:
            return True
        return trial.problem_label in self.problem_labels

    def keeps_row(self, problem_label: str, label: str, stage: str = "evaluation") -> bool:
        """:meth:`keeps` for a stored row (its problem label, entry label and stage)."""
        if label not in self.labels:
            return False
        return (stage == "tuning" and self.shared_tuning) or problem_label in self.problem_labels
