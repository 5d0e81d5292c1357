"""How the report scales with the number of trials: generated run folders (done trials with
200-point traces, written through the real store), the report built once, its time measured
by pytest-benchmark and its peak memory (resident set, reset before the build where Linux
allows) recorded in ``extra_info``.

Targets: 1,000 trials in under 30 s and 1 GB, 10,000 trials in under 5 minutes and 2 GB.
Memory is asserted (it does not depend on the machine's speed); time is only recorded. In
the default test run, where benchmarks are disabled, the 1,000-trial case builds a 100-trial
store instead (writing 1,000 trials through the store alone takes about 15 s): the same code
path, checked, without the wait.
"""

from __future__ import annotations

import resource
import sys
import tracemalloc
from pathlib import Path

import pytest
from report_fixtures import synthetic_run

from gesbench.report.build import build_report

METHODS = ("Guided ES", "Vanilla ES", "Gradient descent", "CMA-ES", "Plugin method")
CASES = {
    # trials: (problems, methods, repetitions); 200 logged points per trial
    100: (2, 2, 25),
    1_000: (5, 4, 50),
    10_000: (20, 5, 100),
}
MEMORY_LIMIT_MB = {100: 1024, 1_000: 1024, 10_000: 2048}


def _status(field: str) -> float | None:
    """A /proc/self/status field in MB (None where there is no /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the process's peak resident set to its current size (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_measured(run_dir: Path) -> dict[str, float]:
    """Build the report; return the peak resident set during the build (MB), the CPU time it
    used (seconds: unlike wall time, not inflated by other load on the machine) and, where
    the peak cannot be reset, the peak of Python allocations traced instead."""
    cpu = _cpu_seconds()
    if _reset_peak():
        before = _status("VmRSS") or 0.0
        build_report(run_dir)
        peak = _status("VmHWM") or 0.0
        return {"peak_rss_mb": peak, "rss_before_mb": before, "cpu_s": _cpu_seconds() - cpu}
    tracemalloc.start()
    build_report(run_dir)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"peak_rss_mb": rss if sys.platform != "darwin" else rss / 1024,
            "peak_traced_mb": traced / 2**20, "cpu_s": _cpu_seconds() - cpu}  # fmt: skip


def bench_report(benchmark, tmp_path: Path, trials: int) -> None:
    if benchmark.disabled and trials == 1_000:
        trials = 100
    problems, methods, repetitions = CASES[trials]
    synthetic_run(tmp_path, problems=problems, methods=METHODS[:methods], repetitions=repetitions)
    measured: dict[str, float] = {}

    def build() -> None:
        measured.update(build_measured(tmp_path))

    benchmark.pedantic(build, rounds=1, iterations=1)
    benchmark.extra_info.update({"trials": trials, "points_per_trial": 200, **measured})
    assert (tmp_path / "report.html").is_file()
    assert measured["peak_rss_mb"] < MEMORY_LIMIT_MB[trials], measured


def test_report_of_1000_trials(benchmark, tmp_path) -> None:
    bench_report(benchmark, tmp_path, 1_000)


@pytest.mark.slow  # writing 10,000 trials through the store alone takes about two minutes
def test_report_of_10000_trials(benchmark, tmp_path) -> None:
    bench_report(benchmark, tmp_path, 10_000)
