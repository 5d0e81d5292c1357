"""An injectable slowdown for benchmarks, to check that regression tracking catches one.

``GESBENCH_BENCH_DELAY="PATTERN=SECONDS[,PATTERN=SECONDS...]"`` makes every benchmark whose
test name is ``PATTERN`` (e.g. ``test_batched_loss[biased_quadratic--16]``) or matches it as a
shell-style pattern (``test_ges_step*``) sleep ``SECONDS`` before each call of the function it
times (the ``benchmark`` fixture of ``benchmarks/conftest.py`` applies it). The benchmarks
themselves are unchanged; ``gesbench bench-compare`` on a run with a delay against one without
must fail on exactly the delayed benchmarks (``benchmarks/test_bench_compare_runs.py`` checks
it)."""

from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

DELAY_VARIABLE = "GESBENCH_BENCH_DELAY"


def injected_delay(test_name: str, setting: str | None = None) -> float:
    """Seconds to add to each timed call of ``test_name`` (0 when none is asked for)."""
    setting = os.environ.get(DELAY_VARIABLE, "") if setting is None else setting
    for item in filter(None, (part.strip() for part in setting.split(","))):
        pattern, _, seconds = item.rpartition("=")
        if not pattern:
            raise pytest.UsageError(f"{DELAY_VARIABLE}: {item!r} is not PATTERN=SECONDS")
        if pattern == test_name or fnmatch.fnmatchcase(test_name, pattern):
            return float(seconds)
    return 0.0


class Slowed(BenchmarkFixture):
    """pytest-benchmark's fixture with a sleep before every timed call of the target (the
    fixture is re-classed in place: pytest-benchmark accepts only its own fixture type)."""

    delay: float

    @classmethod
    def slow(cls, fixture: BenchmarkFixture, delay: float) -> BenchmarkFixture:
        fixture.__class__ = cls
        assert isinstance(fixture, cls)
        fixture.delay = delay
        return fixture

    def _slowed(self, target: Callable[..., Any]) -> Callable[..., Any]:
        def slowed(*args: Any, **kwargs: Any) -> Any:
            time.sleep(self.delay)
            return target(*args, **kwargs)

        return slowed

    def __call__(self, function_to_benchmark: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return super().__call__(self._slowed(function_to_benchmark), *args, **kwargs)

    def pedantic(self, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return super().pedantic(self._slowed(target), *args, **kwargs)
