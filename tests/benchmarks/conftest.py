"""Benchmark fixtures: pytest-benchmark's ``benchmark``, slowed on request
(``GESBENCH_BENCH_DELAY``, see :mod:`bench_delay`)."""

from __future__ import annotations

from typing import Any

import pytest
from bench_delay import Slowed, injected_delay


@pytest.fixture
def benchmark(benchmark: Any, request: pytest.FixtureRequest) -> Any:
    """pytest-benchmark's fixture, slowed when ``GESBENCH_BENCH_DELAY`` names this test."""
    delay = injected_delay(request.node.name)
    return Slowed.slow(benchmark, delay) if delay > 0 else benchmark
