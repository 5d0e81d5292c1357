"""Exceptions raised at gesbench's boundaries.

Every error a user can provoke with bad input derives from :class:`GesbenchError`, so callers
(and the CLI) can tell "you asked for something invalid" apart from a bug.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GesbenchError(Exception):
    """Base class of the errors gesbench raises on invalid input."""


class SpecError(GesbenchError, ValueError):
    """A malformed experiment spec; the message names the offending field."""


class HyperparameterError(GesbenchError, ValueError):
    """A problem or optimizer parameter that is unknown, mistyped or out of range."""


class UnknownNameError(GesbenchError, LookupError):
    """A problem, optimizer or experiment name that is not registered."""

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        known = sorted(known)
        super().__init__(
            f"unknown {kind} {name!r}.{did_you_mean(name, known)} "
            f"Known {kind}s: {', '.join(known) or '(none)'}"
        )
        self.name = name


class PluginError(GesbenchError, ImportError):
    """An installed plugin (entry point) failed to load."""


class StoreError(GesbenchError):
    """The result store is missing, locked by another run, or not a gesbench store."""


class BudgetExhausted(Exception):
    """Raised by the oracle when a request would exceed the trial's budget."""


class TrialTimeout(BaseException):  # like KeyboardInterrupt: a stop signal, not an error
    """Raised inside a trial that ran past its time limit.

    A BaseException, so an optimizer's own ``except Exception`` cannot swallow it.
    """


class Diverged(GesbenchError, FloatingPointError):
    """The objective or surrogate returned a non-finite value; the trial is marked diverged."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """Return ' Did you mean ...?' for close matches of ``name`` among ``known`` (or '')."""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.5)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
