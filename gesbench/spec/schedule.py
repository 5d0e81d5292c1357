"""When the runner logs a trace point: every iteration early on, log-spaced afterwards."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from gesbench.core.errors import SpecError


@dataclass(frozen=True)
class TraceSchedule:
    """Log iterations ``0..dense``, then ``per_decade`` log-spaced points per decade.

    The final point of a trial is always logged as well, whatever the schedule.
    """

    dense: int = 50
    per_decade: int = 50

    def __post_init__(self) -> None:
        for name in ("dense", "per_decade"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SpecError(f"trace.{name}: expected an integer >= 1, got {value!r}")

    def checkpoints(self) -> Iterator[int]:
        """Increasing iteration numbers at which to log (unbounded)."""
        yield from range(self.dense + 1)
        last, j = self.dense, 1
        while True:
            it = math.ceil(self.dense * 10 ** (j / self.per_decade))
            if it > last:
                yield it
                last = it
            j += 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceSchedule:
        unknown = set(data) - {"dense", "per_decade"}
        if unknown:
            raise SpecError(f"trace: unknown field(s) {', '.join(sorted(unknown))}")
        return cls(**data)
