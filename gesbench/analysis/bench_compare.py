"""Compare two pytest-benchmark JSON files: fail on speed regressions and on worse results.

Speed: a benchmark regresses when its statistic (``min`` by default, the least sensitive to a
busy machine) grows by more than ``speed_threshold`` (a fraction). Quality: benchmarks may
record metrics in ``extra_info["quality"]`` as ``{name: {"median", "spread", "values",
"lower_is_better"}}`` (see ``tests/benchmarks/test_bench_quality.py``); a metric regresses when
its median worsens by more than ``quality_tolerance`` times the baseline's seed-to-seed spread.
A benchmark of the baseline missing from the new file is a failure unless ``allow_missing``.
A value that is not a number (NaN, a zero or negative time) fails its comparison; a file
without the fields a comparison needs is an error naming the file, benchmark and field.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gesbench.core.errors import GesbenchError

SPEED_STATS = ("min", "median", "mean")


@dataclass(frozen=True)
class Finding:
    """One comparison: a benchmark's speed statistic or quality metric, new against baseline."""

    benchmark: str
    kind: str  # 'speed', 'quality' or 'missing'
    metric: str
    baseline: float
    new: float
    allowed: float  # the worst acceptable new value
    failed: bool
    note: str = ""  # why the values could not be compared, if they could not

    def change(self) -> str:
        if self.note:
            return self.note
        if self.kind == "missing":
            return "not in the new file"
        if self.kind == "speed":
            limit = self.allowed / self.baseline - 1
            return f"{self.new / self.baseline - 1:+.1%} (limit {limit:+.0%})"
        return f"{self.new - self.baseline:+.4g} (limit {self.allowed - self.baseline:+.4g})"


def load_benchmarks(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read a pytest-benchmark JSON file: (benchmarks by full name, machine info)."""
    try:
        data = json.loads(Path(path).read_text())
        benchmarks = {b["fullname"]: b for b in data["benchmarks"]}
        machine = data.get("machine_info", {})
    except FileNotFoundError:
        raise GesbenchError(f"benchmark file {str(path)!r} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GesbenchError(
            f"{str(path)!r} is not a pytest-benchmark JSON file (--benchmark-json): {exc!r}"
        ) from None
    for name, benchmark in benchmarks.items():
        if not isinstance(benchmark.get("stats"), dict):
            raise GesbenchError(
                f"{str(path)!r}: benchmark {name!r} has no 'stats' table; is it a "
                "pytest-benchmark JSON file (--benchmark-json)?"
            )
    return benchmarks, machine if isinstance(machine, dict) else {}


def _value(source: str, benchmark: str, table: Mapping[str, Any], key: str, where: str) -> float:
    """``table[key]`` as a float (NaN for a value that is not a number); GesbenchError naming
    the file, the benchmark and the field when it is missing."""
    if not isinstance(table, Mapping) or key not in table:
        raise GesbenchError(
            f"{source}: benchmark {benchmark!r} has no {where}{key!r}; was it written by "
            "pytest --benchmark-json (and, for quality, tests/benchmarks/test_bench_quality.py)?"
        )
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _unusable(value: float, positive: bool = False) -> str:
    """Why ``value`` cannot be compared ('' when it can)."""
    if math.isnan(value):
        return "not a number"
    if math.isinf(value):
        return "infinite"
    if positive and value <= 0:
        return f"{value:g}, not a positive time"
    return ""


def _quality(benchmark: Mapping[str, Any]) -> dict[str, Any]:
    quality = (benchmark.get("extra_info") or {}).get("quality", {})
    return quality if isinstance(quality, dict) else {}


def compare(
    new: Mapping[str, Any],
    baseline: Mapping[str, Any],
    *,
    speed_threshold: float = 0.2,
    stat: str = "min",
    quality_tolerance: float = 1.0,
    allow_missing: bool = False,
    sources: tuple[str, str] = ("new file", "baseline"),
) -> list[Finding]:
    """Every speed and quality comparison between two files' benchmarks (by full name).

    ``sources`` names the two files in errors about missing fields."""
    if stat not in SPEED_STATS:
        raise GesbenchError(f"unknown statistic {stat!r}; choose from {', '.join(SPEED_STATS)}")
    if not speed_threshold >= 0 or not quality_tolerance >= 0:
        raise GesbenchError("speed threshold and quality tolerance must be >= 0")
    findings: list[Finding] = []
    for name, base in sorted(baseline.items()):
        if name not in new:
            nan = float("nan")
            findings.append(Finding(name, "missing", "-", nan, nan, nan, not allow_missing))
            continue
        new_source, base_source = sources
        old_time = _value(base_source, name, base.get("stats"), stat, "stats.")
        new_time = _value(new_source, name, new[name].get("stats"), stat, "stats.")
        allowed = old_time * (1 + speed_threshold)
        problem = _problem(_unusable(old_time, True), _unusable(new_time, True))
        findings.append(
            Finding(
                name, "speed", stat, old_time, new_time, allowed,
                bool(problem) or new_time > allowed, problem,
            )
        )  # fmt: skip
        new_quality = _quality(new[name])
        for metric, old in sorted(_quality(base).items()):
            where = f"extra_info.quality.{metric}."
            old_median = _value(base_source, name, old, "median", where)
            if metric not in new_quality:
                nan = float("nan")
                findings.append(
                    Finding(name, "missing", metric, old_median, nan, nan, not allow_missing)
                )
                continue
            spread = _value(base_source, name, old, "spread", where)
            value = _value(new_source, name, new_quality[metric], "median", where)
            sign = 1.0 if old.get("lower_is_better", True) else -1.0
            # A floor at rounding level, so identical results never fail on float noise.
            margin = quality_tolerance * spread + 1e-12 * abs(old_median)
            allowed = old_median + sign * margin
            problem = _problem(
                _unusable(old_median) or (_unusable(spread) and f"spread {_unusable(spread)}"),
                _unusable(value),
            )
            findings.append(
                Finding(
                    name, "quality", metric, old_median, value, allowed,
                    bool(problem) or sign * (value - allowed) > 0, problem,
                )
            )  # fmt: skip
    return findings


def _problem(baseline: str, new: str) -> str:
    """Why a comparison cannot be made, from what is wrong with each side ('' if nothing)."""
    parts = [f"baseline {baseline}" if baseline else "", f"new {new}" if new else ""]
    return "cannot compare: " + ", ".join(p for p in parts if p) if any(parts) else ""


def _seconds(value: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value / 1e-9:.4g} ns"


def format_findings(findings: list[Finding]) -> str:
    """A plain-text table, failures marked FAIL."""
    rows = [("", "kind", "benchmark", "metric", "baseline", "new", "change")]
    for f in findings:
        show = _seconds if f.kind == "speed" else (lambda v: f"{v:.4g}")
        rows.append(
            (
                "FAIL" if f.failed else "ok",
                f.kind,
                f.benchmark.rsplit("/", 1)[-1],
                f.metric,
                show(f.baseline),
                show(f.new),
                f.change(),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def bench_compare(
    new_path: str | os.PathLike[str],
    baseline_path: str | os.PathLike[str],
    **options: Any,
) -> tuple[list[Finding], list[str]]:
    """Compare two files; returns the findings and warnings (e.g. different machines)."""
    new, new_machine = load_benchmarks(new_path)
    baseline, base_machine = load_benchmarks(baseline_path)
    warnings = []
    keys = ("node", "machine", "python_version")
    if any(new_machine.get(k) != base_machine.get(k) for k in keys) or (
        new_machine.get("cpu", {}).get("brand_raw") != base_machine.get("cpu", {}).get("brand_raw")
    ):
        warnings.append("the two files come from different machines: speed changes mean little")
    unmatched = sorted(set(new) - set(baseline))
    if unmatched:
        warnings.append(
            f"{len(unmatched)} benchmark(s) not in the baseline: {', '.join(unmatched)}"
        )
    sources = (repr(str(new_path)), repr(str(baseline_path)))
    return compare(new, baseline, sources=sources, **options), warnings
