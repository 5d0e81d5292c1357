"""Compare two pytest-benchmark JSON files: fail on speed regressions and on worse results.

Speed, judged against each benchmark's own noise. Two runs of unchanged code on one machine
differ by more than a fixed percentage often enough (CPU frequency, caches, other load) that a
bare threshold cries wolf, and a benchmark timed once has no measured noise at all. So a
benchmark is a speed regression only when all three hold:

1. it was **timed enough**: both runs have at least ``min_rounds`` rounds (default 5). A
   benchmark timed fewer times (a quality run, a report build timed once) gets no speed verdict
   and is listed as "not timed enough", never as a regression;
2. its statistic (``min`` by default, the least sensitive to a busy machine) grew by more than
   the **noise-scaled threshold** ``speed_threshold + noise_factor * sqrt(r_base^2 + r_new^2)``,
   where ``r`` is a run's relative spread, the interquartile range of its rounds over their
   median (defaults: 20% plus one combined relative IQR). A benchmark whose rounds scatter by
   30% is allowed a larger change than one that repeats to 1%;
3. the slowdown is **significant**: a one-sided Mann-Whitney U test (rank-sum: no normality
   assumption, robust to the long right tail of timings) of the new run's rounds against the
   baseline's gives ``p < alpha`` (default 0.01) after Holm's adjustment over every benchmark
   tested, so that comparing 60 benchmarks does not raise the odds of a false alarm 60-fold.
   The exact test of ``r`` rounds against ``r`` cannot go below ``1 / C(2r, r)``: with about 60
   benchmarks, 8 rounds a side is the least that can ever be significant, so the suite's
   benchmarks time that many or more, except those that take minutes a round (tracked by
   their ratios) and those timed once. This needs the per-round times, which
   ``pytest --benchmark-json`` always writes (``stats.data``; ``--benchmark-save`` writes them
   only with ``--benchmark-save-data``); without them, or without scipy, conditions 1 and 2
   decide alone.

Condition 2 says the change is large against the threshold and the runs' scatter; condition 3
that it is not a chance ordering of the rounds (with hundreds of rounds any systematic drift is
significant, so 3 alone would flag every drift; with five rounds a 20% gap is easily chance, so
2 alone would flag noise). A faster benchmark is never a regression. What no within-run
statistic can see is the machine itself getting slower between the runs for the whole of a
benchmark (other load arriving): that is a real slowdown of the measurement, and the reason to
record baselines on a quiet machine.

Quality: benchmarks may record metrics in ``extra_info["quality"]`` as ``{name: {"median",
"spread", "values", "lower_is_better"}}`` (see ``tests/benchmarks/test_bench_quality.py``); a
metric regresses when its median worsens by more than ``quality_tolerance`` times the
baseline's seed-to-seed spread.

Tracked ratios: benchmarks may record ratios measured inside one run (gesbench against a bare
loop, sequential over parallel time) in ``extra_info["ratios"]`` as ``{name: {"value",
"lower_is_better", "values", "target"}}`` (``values``: the ratio of each round, optional;
``target`` optional, documentation only). Both sides of a ratio are timed in the same run, so
machine speed mostly cancels; a ratio regresses when it worsens by more than
``ratio_tolerance`` (default 25% of the baseline's value) plus ``noise_factor`` times the two
runs' combined relative IQR of the per-round ratios.

A benchmark of the baseline missing from the new file is a failure unless ``allow_missing``.
A value that is not a number (NaN, a zero or negative time) fails its comparison; a file
without the fields a comparison needs is an error naming the file, benchmark and field.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gesbench.core.errors import GesbenchError

SPEED_STATS = ("min", "median", "mean")
MIN_ROUNDS = 5
"""Fewer rounds than this (in either file) and a benchmark gets no speed verdict."""


@dataclass(frozen=True)
class Finding:
    """One comparison: a benchmark's speed statistic, quality metric or tracked ratio, new
    against baseline."""

    benchmark: str
    kind: str  # 'speed', 'quality', 'ratio' or 'missing'
    metric: str
    baseline: float
    new: float
    allowed: float  # the worst acceptable new value
    failed: bool
    note: str = ""  # why the values could not be compared or judged, if they could not
    p_value: float = math.nan  # the rank test's, for a speed comparison that ran it
    p_holm: float = math.nan  # the same, Holm-adjusted over every speed comparison's test

    def change(self) -> str:
        if self.note:
            return self.note
        if self.kind == "missing":
            return "not in the new file"
        if self.kind in ("speed", "ratio"):
            limit = self.allowed / self.baseline - 1
            text = f"{self.new / self.baseline - 1:+.1%} (limit {limit:+.0%}"
            if not math.isnan(self.p_value):
                text += f", p={self.p_value:.2g}"
                if self.p_holm != self.p_value:
                    text += f", Holm {self.p_holm:.2g}"
            return text + ")"
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


def _value(source: str, benchmark: str, table: Any, key: str, where: str) -> float:
    """``table[key]`` as a float (NaN for a value that is not a number); GesbenchError naming
    the file, the benchmark and the field when it is missing."""
    if not isinstance(table, Mapping) or key not in table:
        raise GesbenchError(
            f"{source}: benchmark {benchmark!r} has no {where}{key!r}; was it written by "
            "pytest --benchmark-json (and, for quality, tests/benchmarks/test_bench_quality.py)?"
        )
    return _number(table[key])


def _number(value: object) -> float:
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


def _section(benchmark: Mapping[str, Any], key: str) -> dict[str, Any]:
    section = (benchmark.get("extra_info") or {}).get(key, {})
    return section if isinstance(section, dict) else {}


@dataclass(frozen=True)
class Rounds:
    """What a file says of one benchmark's rounds: how many (None if it does not say), their
    per-round times (empty when not stored) and their relative spread (IQR / median; 0 when
    unknown)."""

    count: int | None
    times: tuple[float, ...]
    spread: float

    @classmethod
    def of(cls, stats: Mapping[str, Any]) -> Rounds:
        data = stats.get("data")
        times = (
            tuple(float(t) for t in data if math.isfinite(_number(t)))
            if isinstance(data, list)
            else ()
        )
        rounds = _number(stats.get("rounds"))
        count = int(rounds) if math.isfinite(rounds) else (len(times) if times else None)
        iqr, median = _number(stats.get("iqr")), _number(stats.get("median"))
        if not (math.isfinite(iqr) and median > 0) and len(times) >= 2:
            q = statistics.quantiles(times, n=4)
            iqr, median = q[2] - q[0], statistics.median(times)
        spread = iqr / median if math.isfinite(iqr) and median > 0 and iqr >= 0 else 0.0
        return cls(count, times, spread)


def _spread(values: object) -> float:
    """Relative spread (IQR / median) of per-round values; 0 when there are fewer than 2."""
    if not isinstance(values, list):
        return 0.0
    numbers = [v for v in map(_number, values) if math.isfinite(v)]
    if len(numbers) < 2:
        return 0.0
    q = statistics.quantiles(numbers, n=4)
    median = statistics.median(numbers)
    return (q[2] - q[0]) / abs(median) if median else 0.0


def rank_test(new: tuple[float, ...], baseline: tuple[float, ...]) -> float:
    """One-sided Mann-Whitney U p-value for "the new rounds tend to be slower" (NaN when it
    cannot be computed: too few rounds or no scipy)."""
    if len(new) < 2 or len(baseline) < 2:
        return math.nan
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:  # pragma: no cover - scipy is a dependency; the test is optional
        return math.nan
    return float(mannwhitneyu(new, baseline, alternative="greater").pvalue)


def _speed(
    name: str,
    new: Mapping[str, Any],
    base: Mapping[str, Any],
    *,
    stat: str,
    speed_threshold: float,
    noise_factor: float,
    alpha: float,
    min_rounds: int,
    sources: tuple[str, str],
) -> Finding:
    new_source, base_source = sources
    new_stats, base_stats = new.get("stats"), base.get("stats")
    old_time = _value(base_source, name, base_stats, stat, "stats.")
    new_time = _value(new_source, name, new_stats, stat, "stats.")
    problem = _problem(_unusable(old_time, True), _unusable(new_time, True))
    if problem:
        return Finding(name, "speed", stat, old_time, new_time, math.nan, True, problem)
    assert isinstance(new_stats, Mapping) and isinstance(base_stats, Mapping)
    old_rounds, new_rounds = Rounds.of(base_stats), Rounds.of(new_stats)
    counts = [c for c in (old_rounds.count, new_rounds.count) if c is not None]
    if counts and min(counts) < min_rounds:
        note = f"not timed enough ({min(counts)} round(s) < {min_rounds}): no speed verdict"
        return Finding(name, "speed", stat, old_time, new_time, math.nan, False, note)
    noise = math.hypot(old_rounds.spread, new_rounds.spread)
    allowed = old_time * (1 + speed_threshold + noise_factor * noise)
    p = rank_test(new_rounds.times, old_rounds.times)
    # the verdict before the rank test, which compare() applies over all benchmarks (Holm)
    return Finding(name, "speed", stat, old_time, new_time, allowed, new_time > allowed, p_value=p)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: the family-wise error rate stays at ``alpha`` when each
    adjusted p-value is compared with ``alpha``, however many tests there are."""
    m = len(p_values)
    adjusted = [math.nan] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _judged(findings: list[Finding], alpha: float) -> list[Finding]:
    """Speed findings that exceed their threshold stay failed only when their rank test is
    significant at ``alpha`` after Holm's adjustment over every speed test made."""
    tested = [i for i, f in enumerate(findings) if f.kind == "speed" and not math.isnan(f.p_value)]
    adjusted = holm([findings[i].p_value for i in tested])
    out = list(findings)
    for i, p_holm in zip(tested, adjusted, strict=True):
        f = findings[i]
        out[i] = replace(f, p_holm=p_holm, failed=f.failed and not f.note and p_holm < alpha)
    return out


def _ratios(
    name: str,
    new: Mapping[str, Any],
    base: Mapping[str, Any],
    *,
    tolerance: float,
    noise_factor: float,
    allow_missing: bool,
    sources: tuple[str, str],
) -> list[Finding]:
    new_source, base_source = sources
    new_ratios = _section(new, "ratios")
    findings = []
    for metric, old in sorted(_section(base, "ratios").items()):
        where = f"extra_info.ratios.{metric}."
        old_value = _value(base_source, name, old, "value", where)
        if metric not in new_ratios:
            nan = math.nan
            findings.append(
                Finding(name, "missing", metric, old_value, nan, nan, not allow_missing)
            )
            continue
        value = _value(new_source, name, new_ratios[metric], "value", where)
        lower = old.get("lower_is_better", True)
        noise = math.hypot(_spread(old.get("values")), _spread(new_ratios[metric].get("values")))
        factor = 1 + tolerance + noise_factor * noise
        allowed = old_value * factor if lower else old_value / factor
        problem = _problem(_unusable(old_value, True), _unusable(value, True))
        worse = value > allowed if lower else value < allowed
        findings.append(
            Finding(
                name, "ratio", metric, old_value, value, allowed, bool(problem) or worse, problem
            )
        )
    return findings


def compare(
    new: Mapping[str, Any],
    baseline: Mapping[str, Any],
    *,
    speed_threshold: float = 0.2,
    stat: str = "min",
    noise_factor: float = 1.0,
    alpha: float = 0.01,
    min_rounds: int = MIN_ROUNDS,
    quality_tolerance: float = 1.0,
    ratio_tolerance: float = 0.25,
    allow_missing: bool = False,
    sources: tuple[str, str] = ("new file", "baseline"),
) -> list[Finding]:
    """Every speed, quality and ratio comparison between two files' benchmarks (by full name).

    ``sources`` names the two files in errors about missing fields."""
    if stat not in SPEED_STATS:
        raise GesbenchError(f"unknown statistic {stat!r}; choose from {', '.join(SPEED_STATS)}")
    tolerances = (speed_threshold, quality_tolerance, noise_factor, ratio_tolerance)
    if not all(t >= 0 for t in tolerances):
        raise GesbenchError(
            "speed threshold, noise factor, quality and ratio tolerances must be >= 0"
        )
    if not 0 < alpha <= 1:
        raise GesbenchError(f"alpha must be in (0, 1], got {alpha}")
    if min_rounds < 1:
        raise GesbenchError(f"min_rounds must be >= 1, got {min_rounds}")
    findings: list[Finding] = []
    for name, base in sorted(baseline.items()):
        if name not in new:
            nan = float("nan")
            findings.append(Finding(name, "missing", "-", nan, nan, nan, not allow_missing))
            continue
        new_source, base_source = sources
        findings.append(
            _speed(
                name, new[name], base, stat=stat, speed_threshold=speed_threshold,
                noise_factor=noise_factor, alpha=alpha, min_rounds=min_rounds, sources=sources,
            )
        )  # fmt: skip
        new_quality = _section(new[name], "quality")
        for metric, old in sorted(_section(base, "quality").items()):
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
        findings += _ratios(
            name, new[name], base, tolerance=ratio_tolerance, noise_factor=noise_factor,
            allow_missing=allow_missing, sources=sources,
        )  # fmt: skip
    return _judged(findings, alpha)


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
    """A plain-text table, failures marked FAIL, comparisons without a verdict (not timed
    enough) marked ``-``."""
    rows = [("", "kind", "benchmark", "metric", "baseline", "new", "change")]
    for f in findings:
        show = _seconds if f.kind == "speed" else (lambda v: f"{v:.4g}")
        rows.append(
            (
                "FAIL" if f.failed else ("-" if f.note else "ok"),
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


def summary(findings: list[Finding]) -> str:
    """One line: how many regressions in how many comparisons (and how many had no verdict)."""
    failed = sum(f.failed for f in findings)
    line = f"{failed} regression(s) in {len(findings)} comparison(s)"
    untimed = sum(1 for f in findings if f.note.startswith("not timed enough"))
    if untimed:
        line += f"; {untimed} speed comparison(s) not timed enough for a verdict"
    return line


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
