"""Problem instances built once per process and re-used by the trials that share them.

Every optimizer at a repetition meets the same instance (the pairing of the design), and a run
hands trials to a worker in spec order, so consecutive trials usually share one. Building an
instance can cost far more than a short trial (a QR or a least-squares solve at n = 1000), so a
process keeps the last few it built, keyed by the problem, all its parameters and what the
instance is drawn from (repetition, stage, identity version: :meth:`TrialSpec.instance`).

A trial never receives the kept instance itself but a deep copy of it, made while the kept
one is untouched: a problem that holds state (a counter, a cache, a generator) starts every
trial exactly as a freshly built one would. Read-only arrays that own their data (what
:func:`gesbench.core.problem.frozen` makes of an instance's data) are shared, not copied, since
nothing can change them. A problem that cannot be deep-copied is built afresh every time.

The cache is bounded: at most :data:`MAX_INSTANCES` instances and :data:`MAX_BYTES` bytes of
arrays, least recently used dropped first; an instance larger than the byte bound is not kept.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from gesbench.core.problem import Problem
from gesbench.spec.trial import TrialSpec, canonical_json

MAX_INSTANCES = 8
MAX_BYTES = 256 * 2**20


def _shared(problem: Problem) -> dict[int, Any]:
    """A deepcopy memo that maps each immutable array of the instance to itself."""
    return {
        id(v): v
        for v in vars(problem).values()
        if isinstance(v, np.ndarray) and not v.flags.writeable and v.base is None
    }


def fresh_copy(problem: Problem) -> Problem | None:
    """A copy of ``problem`` that behaves as the original did when the copy was made (None
    when it cannot be deep-copied)."""
    try:
        return copy.deepcopy(problem, _shared(problem))
    except Exception:  # a handle, a lock, a native object: build instead
        return None


def _size(problem: Problem) -> int:
    return sum(v.nbytes for v in vars(problem).values() if isinstance(v, np.ndarray))


class InstanceCache:
    """The last instances built in this process (see the module docstring)."""

    def __init__(self, max_instances: int = MAX_INSTANCES, max_bytes: int = MAX_BYTES) -> None:
        self.max_instances, self.max_bytes = max_instances, max_bytes
        self._kept: OrderedDict[str, tuple[Problem, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()  # a Dask worker may run several task threads
        self.hits = self.misses = 0

    def get(self, spec: TrialSpec, build: Callable[[], Problem]) -> Problem:
        """The instance of ``spec``: a copy of a kept one, or ``build()`` (kept for later)."""
        # The instance seed's material with every parameter: a parameter the seed leaves out
        # (dtype: float32 and float64 trials draw the same instance) still builds another one.
        key = canonical_json({**spec.instance(), "params": spec.problem_params})
        with self._lock:
            entry = self._kept.get(key)
            if entry is not None:
                self._kept.move_to_end(key)
        if entry is not None:
            problem = fresh_copy(entry[0])
            if problem is not None:
                self.hits += 1
                return problem
        self.misses += 1
        problem = build()
        size = _size(problem)
        if size <= self.max_bytes:
            pristine = fresh_copy(problem)  # before the trial touches the one it gets
            if pristine is not None:
                self._keep(key, pristine, size)
        return problem

    def _keep(self, key: str, problem: Problem, size: int) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._kept[key] = (problem, size)
            self._bytes += size
            while self._kept and (
                len(self._kept) > self.max_instances or self._bytes > self.max_bytes
            ):
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def nbytes(self) -> int:
        """Bytes of arrays held."""
        return self._bytes


INSTANCES = InstanceCache()
"""This process's cache, used by :func:`gesbench.run.trial.run_trial`."""
