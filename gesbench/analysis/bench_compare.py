"""Compare two pytest-benchmark JSON files: fail on speed regressions and on worse results.

Speed: a benchmark regresses when its statistic (``min`` by default, the least sensitive to a
busy machine) grows by more than ``speed_threshold`` (a fraction). Quality: benchmarks may
record metrics in ``extra_info["quality"]`` as ``{name: {"median", "spread", "values",
"lower_is_better"}}`` (see ``tests/benchmarks/test_bench_quality.py``); a metric regresses when
its median worsens by more than ``quality_tolerance`` times the baseline's seed-to-seed spread.
A benchmark of the baseline missing from the new file is a failure unless ``allow_missing``.
"""

from __future__ import annotations

import json
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

    def change(self) -> str:
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
        return benchmarks, data.get("machine_info", {})
    except FileNotFoundError:
        raise GesbenchError(f"benchmark file {str(path)!r} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GesbenchError(
            f"{str(path)!r} is not a pytest-benchmark JSON file (--benchmark-json): {exc!r}"
        ) from None


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
) -> list[Finding]:
    """Every speed and quality comparison between two files' benchmarks (by full name)."""
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
        old_time, new_time = base["stats"][stat], new[name]["stats"][stat]
        allowed = old_time * (1 + speed_threshold)
        findings.append(
            Finding(name, "speed", stat, old_time, new_time, allowed, new_time > allowed)
        )
        new_quality = _quality(new[name])
        for metric, old in sorted(_quality(base).items()):
            if metric not in new_quality:
                nan = float("nan")
                findings.append(
                    Finding(name, "missing", metric, old["median"], nan, nan, not allow_missing)
                )
                continue
            sign = 1.0 if old.get("lower_is_better", True) else -1.0
            # A floor at rounding level, so identical results never fail on float noise.
            margin = quality_tolerance * old["spread"] + 1e-12 * abs(old["median"])
            allowed = old["median"] + sign * margin
            value = new_quality[metric]["median"]
            findings.append(
                Finding(
                    name, "quality", metric, old["median"], value, allowed,
                    sign * (value - allowed) > 0,
                )
            )  # fmt: skip
    return findings


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
    return compare(new, baseline, **options), warnings
