"""Regression tracking on real benchmark runs: unchanged code compares clean, a slowed
benchmark is caught.

Two real ``pytest --benchmark-enable --benchmark-json`` runs of a small subset of the suite
(logistic regression's loss on digits for 2 points, about 0.6 ms a call, and the biased
quadratic's batched loss for 16, a few microseconds), one after the other on unchanged code,
except that the second run sleeps 1 ms before each timed call of the 16-row case
(``GESBENCH_BENCH_DELAY``, see ``bench_delay.py``). ``bench-compare`` must pass the unchanged
case and fail the slowed one, on its own noise and its rank test, with the default settings.
The unchanged case takes a fraction of a millisecond: the minimum of a call of a few
microseconds moved by up to 58% between two processes on unchanged code (memory layout, CPU
clock), which no noise estimate from within one run can foresee. About 5 s of wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from bench_delay import DELAY_VARIABLE, injected_delay

from gesbench.analysis.bench_compare import MIN_ROUNDS, compare, load_benchmarks

ROOT = Path(__file__).resolve().parents[2]
UNCHANGED = "test_batched_loss[logistic_regression-digits-2]"
SLOWED = "test_batched_loss[biased_quadratic--16]"
FILE = "tests/benchmarks/test_bench_problems.py"


def benchmark_run(out: Path, delay: str = "") -> dict[str, Any]:
    """One pytest-benchmark run of the two cases, in a subprocess; its JSON file's benchmarks."""
    env = {**os.environ, DELAY_VARIABLE: delay}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{FILE}::{UNCHANGED}", f"{FILE}::{SLOWED}",
         "--benchmark-enable", f"--benchmark-json={out}",
         "--benchmark-max-time=0.1", "--benchmark-warmup=off"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return load_benchmarks(out)[0]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = tmp_path_factory.mktemp("runs")
    baseline = benchmark_run(folder / "baseline.json")
    new = benchmark_run(folder / "new.json", delay=f"{SLOWED}=0.001")
    return new, baseline


def by_name(findings, name: str):
    return next(f for f in findings if f.kind == "speed" and f.benchmark.endswith(name))


def test_unchanged_code_compares_clean_and_the_slowed_case_is_caught(runs) -> None:
    new, baseline = runs
    findings = compare(new, baseline)
    assert len(findings) == 2
    unchanged, slowed = by_name(findings, UNCHANGED), by_name(findings, SLOWED)
    assert not unchanged.failed, unchanged.change()
    assert slowed.failed and slowed.p_value < 0.01, slowed.change()
    assert slowed.new > 10 * slowed.baseline  # 1 ms of sleep on a call of microseconds


def test_the_runs_store_enough_rounds_for_a_verdict(runs) -> None:
    """The rank test needs the rounds: pytest --benchmark-json stores them, and both cases are
    timed many times in the 0.1 s each one gets."""
    for benchmarks in runs:
        for b in benchmarks.values():
            assert b["stats"]["rounds"] >= MIN_ROUNDS
            assert len(b["stats"]["data"]) == b["stats"]["rounds"]


def test_the_cli_exits_1_on_the_slowed_case_only(runs, tmp_path, capsys) -> None:
    from gesbench.cli import main

    new, baseline = runs
    paths = []
    for name, benchmarks in (("new", new), ("base", baseline)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"machine_info": {}, "benchmarks": list(benchmarks.values())}))
        paths.append(str(path))
    assert main(["bench-compare", *paths]) == 1
    out = capsys.readouterr().out
    failing = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(failing) == 1 and SLOWED in failing[0]
    assert "1 regression(s) in 2 comparison(s)" in out


@pytest.mark.parametrize(
    ("setting", "name", "seconds"),
    [
        ("", SLOWED, 0.0),
        (f"{SLOWED}=0.001", SLOWED, 0.001),
        (f"{SLOWED}=0.001", UNCHANGED, 0.0),
        ("test_batched_loss*=0.5, other=1", UNCHANGED, 0.5),
    ],
)
def test_the_delay_setting_names_tests_by_pattern(setting, name, seconds) -> None:
    assert injected_delay(name, setting) == seconds


def test_a_malformed_delay_setting_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match="is not PATTERN=SECONDS"):
        injected_delay(SLOWED, "0.001")
