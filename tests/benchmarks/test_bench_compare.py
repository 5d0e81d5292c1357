"""``gesbench bench-compare`` on JSON written by a real pytest-benchmark run."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gesbench.analysis.bench_compare import compare, load_benchmarks
from gesbench.cli import main
from gesbench.core.errors import GesbenchError

TINY_BENCHMARKS = """
import numpy as np

def test_sum(benchmark):
    benchmark(np.sum, np.arange(1000.0))

def test_quality(benchmark):
    values = [0.010, 0.012, 0.011, 0.014, 0.009]
    benchmark.pedantic(sorted, args=(values,), rounds=3)
    benchmark.extra_info["quality"] = {
        "final_loss": {"values": values, "median": 0.011, "spread": 0.002,
                       "lower_is_better": True},
        "accuracy": {"values": [0.9], "median": 0.9, "spread": 0.01, "lower_is_better": False},
    }
"""


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> dict[str, Any]:
    """A pytest-benchmark JSON file written by a real run of two tiny benchmarks."""
    folder = tmp_path_factory.mktemp("bench")
    (folder / "test_tiny.py").write_text(TINY_BENCHMARKS)
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tiny.py",
         "--benchmark-enable", "--benchmark-json=baseline.json"],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    return json.loads((folder / "baseline.json").read_text())


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    return path


def edited(data: dict[str, Any], name: str, edit) -> dict[str, Any]:
    data = copy.deepcopy(data)
    edit(next(b for b in data["benchmarks"] if b["name"] == name))
    return data


TIME_STATS = ("min", "max", "mean", "median", "stddev", "q1", "q3", "iqr")


def slower(factor: float):
    """Every round ``factor`` times slower (so its statistics too)."""

    def edit(b: dict[str, Any]) -> None:
        for stat in TIME_STATS:
            b["stats"][stat] *= factor
        b["stats"]["data"] = [t * factor for t in b["stats"]["data"]]

    return edit


def quality(metric: str, median: float):
    def edit(b: dict[str, Any]) -> None:
        b["extra_info"]["quality"][metric]["median"] = median

    return edit


def run_cli(tmp_path: Path, new: dict[str, Any], base: dict[str, Any], *options: str) -> int:
    paths = write(tmp_path / "new.json", new), write(tmp_path / "base.json", base)
    return main(["bench-compare", *map(str, paths), *options])


def test_a_file_compared_with_itself_passes(tmp_path, baseline, capsys):
    assert run_cli(tmp_path, baseline, baseline) == 0
    out = capsys.readouterr().out
    assert "0 regression(s) in 4 comparison(s)" in out  # 2 speed + 2 quality
    assert "FAIL" not in out
    # test_quality was timed in 3 rounds: no speed verdict, said so
    line = next(x for x in out.splitlines() if "test_quality" in x and "speed" in x)
    assert line.startswith("-") and "not timed enough (3 round(s) < 5)" in line


def test_a_slowdown_beyond_the_threshold_fails(tmp_path, baseline, capsys):
    noise = math.hypot(*(2 * iqr_over_median(b) for b in (baseline, baseline)))
    limit = 0.2 + noise / 2  # the threshold plus the two runs' combined relative IQR
    # 50% slower, or more where the real run's rounds of a microsecond call scattered widely
    change = max(0.5, round(2 * limit, 2))
    new = edited(baseline, "test_sum", slower(1 + change))
    assert run_cli(tmp_path, new, baseline) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "test_sum" in x)
    assert line.startswith("FAIL") and f"+{change:.1%} (limit {limit:+.0%}, p=" in line
    assert run_cli(tmp_path, new, baseline, "--speed-threshold", str(change + 0.1)) == 0
    # Faster is never a regression.
    assert run_cli(tmp_path, edited(baseline, "test_sum", slower(0.5)), baseline) == 0


@pytest.mark.parametrize(
    ("metric", "median", "fails"),
    [
        ("final_loss", 0.0125, False),  # worse, within one spread (0.002)
        ("final_loss", 0.0135, True),  # worse by more than the spread
        ("final_loss", 0.0010, False),  # better
        ("accuracy", 0.895, False),  # higher is better: slightly lower is within spread
        ("accuracy", 0.85, True),
        ("accuracy", 0.99, False),
    ],
)
def test_a_quality_metric_worse_than_its_seed_spread_fails(
    tmp_path, baseline, metric, median, fails
):
    new = edited(baseline, "test_quality", quality(metric, median))
    assert run_cli(tmp_path, new, baseline) == int(fails)


def test_quality_tolerance_is_in_units_of_the_spread(baseline):
    new, _ = load_benchmarks_from(baseline, "test_quality", quality("final_loss", 0.0135))
    base, _ = load_benchmarks_from(baseline)
    assert any(f.failed for f in compare(new, base))
    assert not any(f.failed for f in compare(new, base, quality_tolerance=1.5))


def iqr_over_median(data: dict[str, Any], name: str = "test_sum") -> float:
    stats = next(b for b in data["benchmarks"] if b["name"] == name)["stats"]
    return stats["iqr"] / stats["median"]


def synthetic(rounds: list[float]) -> dict[str, Any]:
    """A benchmark entry with these round times, its statistics as pytest-benchmark computes
    them (the quartiles by its method, which differs a little from numpy's)."""
    q1, median, q3 = np.percentile(rounds, [25, 50, 75])
    stats = {"min": min(rounds), "max": max(rounds), "mean": float(np.mean(rounds)),
             "median": float(median), "q1": float(q1), "q3": float(q3),
             "iqr": float(q3 - q1), "rounds": len(rounds), "data": rounds}  # fmt: skip
    return {"t::b": {"fullname": "t::b", "stats": stats, "extra_info": {}}}


def speed_of(new: list[float], base: list[float], **options: Any):
    (finding,) = compare(synthetic(new), synthetic(base), **options)
    return finding


def test_the_allowed_slowdown_widens_with_the_rounds_spread() -> None:
    rng = np.random.default_rng(0)
    tight = list(1.0 + 0.01 * rng.random(50))  # rounds within 1%
    wide = list(1.0 + 0.6 * rng.random(50))  # rounds scattered over 60%
    # The same 30% slowdown of every round: a regression for the tight benchmark only.
    assert speed_of([1.3 * t for t in tight], tight).failed
    finding = speed_of([1.3 * t for t in wide], wide)
    assert not finding.failed and finding.allowed / finding.baseline > 1.3
    assert speed_of([1.3 * t for t in wide], wide, noise_factor=0).failed


def test_a_slowdown_that_may_be_chance_is_not_a_regression() -> None:
    """The minimum grew by 50%, but only because the baseline's fastest round was lucky: the
    other rounds are no slower, so the rank test finds no slowdown."""
    base = [1.0, 1.5, 1.52, 1.54, 1.56, 1.58, 1.6, 1.62]
    new = [1.51, 1.53, 1.55, 1.57, 1.59, 1.61, 1.5, 1.6]
    finding = speed_of(new, base, noise_factor=0)
    assert finding.new / finding.baseline == 1.5 and finding.p_value > 0.3
    assert not finding.failed
    # Every round slower: significant, and a regression.
    slow = speed_of([2 * t for t in base], base, noise_factor=0)
    assert slow.failed and slow.p_value < 0.01


def test_the_rank_tests_are_adjusted_for_the_number_of_benchmarks() -> None:
    """Five rounds all slower gives p = 1/252 = 0.004: a regression alone, but not among 20
    such benchmarks (Holm: 20 x 0.004 > 0.01); ten rounds all slower stay one."""
    few = [1.0, 1.01, 1.02, 1.03, 1.04]
    alone = speed_of([2 * t for t in few], few)
    assert alone.failed and alone.p_value == pytest.approx(1 / 252)
    base, new = {}, {}
    for i in range(20):
        name = f"t::b{i}"
        base[name] = {**synthetic(few)["t::b"], "fullname": name}
        new[name] = {**synthetic([2 * t for t in few])["t::b"], "fullname": name}
    many = [1.0 + 0.01 * i for i in range(10)]
    base["t::many"] = synthetic(many)["t::b"]
    new["t::many"] = synthetic([2 * t for t in many])["t::b"]
    findings = {f.benchmark: f for f in compare(new, base)}
    assert not any(findings[f"t::b{i}"].failed for i in range(20))
    assert findings["t::b0"].p_holm == pytest.approx(20 / 252)
    assert findings["t::many"].failed and findings["t::many"].p_holm < 0.01


def test_without_per_round_data_the_spread_scaled_threshold_decides_alone() -> None:
    base = synthetic([1.0, 1.01, 1.02, 1.03, 1.04])
    new = synthetic([1.5, 1.51, 1.52, 1.53, 1.54])
    for entry in (*base.values(), *new.values()):
        del entry["stats"]["data"]
    (finding,) = compare(new, base)
    assert finding.failed and math.isnan(finding.p_value)


@pytest.mark.parametrize("rounds", [1, 4])
def test_too_few_rounds_give_no_speed_verdict(rounds) -> None:
    base = [1.0 + 0.001 * i for i in range(rounds)]
    finding = speed_of([10 * t for t in base], base)  # ten times slower, but timed too little
    assert not finding.failed and finding.note.startswith("not timed enough")
    # Allowed a verdict on so few rounds, one round is judged on the threshold alone (no rank
    # test on one value); four against four cannot reach p < 0.01 (the exact minimum is 1/70).
    allowed = speed_of([10 * t for t in base], base, min_rounds=1)
    assert allowed.failed == (rounds == 1)
    assert math.isnan(allowed.p_value) if rounds == 1 else allowed.p_value == pytest.approx(1 / 70)


def with_ratio(value: float, lower_is_better: bool = True) -> dict[str, Any]:
    data = synthetic([1.0] * 5)
    data["t::b"]["extra_info"]["ratios"] = {
        "overhead": {"value": value, "lower_is_better": lower_is_better, "target": 1.2}
    }
    return data


@pytest.mark.parametrize(
    ("base", "new", "lower_is_better", "fails"),
    [
        (1.1, 1.3, True, False),  # +18%: within the 25% tolerance
        (1.1, 1.5, True, True),
        (1.1, 0.9, True, False),  # better
        (1.9, 1.6, False, False),  # a speedup: higher is better, -16%
        (1.9, 1.4, False, True),
        (1.9, float("nan"), False, True),  # not a number: cannot compare, fails
    ],
)
def test_a_tracked_ratio_worse_than_its_tolerance_fails(base, new, lower_is_better, fails):
    findings = compare(with_ratio(new, lower_is_better), with_ratio(base, lower_is_better))
    (ratio,) = [f for f in findings if f.kind == "ratio"]
    assert ratio.failed == fails and ratio.metric == "overhead"
    assert not any(f.failed for f in findings if f.kind != "ratio")


def test_the_allowed_ratio_change_widens_with_its_per_round_spread() -> None:
    base, new = with_ratio(1.0), with_ratio(1.4)  # +40%: beyond the 25% tolerance
    assert any(f.failed for f in compare(new, base))
    for data, centre in ((base, 1.0), (new, 1.4)):  # rounds scattered by about 30%
        data["t::b"]["extra_info"]["ratios"]["overhead"]["values"] = [
            centre * v for v in (0.8, 0.9, 1.0, 1.1, 1.2)
        ]
    (ratio,) = [f for f in compare(new, base) if f.kind == "ratio"]
    assert not ratio.failed and ratio.allowed > 1.4


def test_a_tracked_ratio_missing_from_the_new_file_fails_unless_allowed() -> None:
    base, new = with_ratio(1.1), synthetic([1.0] * 5)
    assert [f.kind for f in compare(new, base) if f.failed] == ["missing"]
    assert not any(f.failed for f in compare(new, base, allow_missing=True))


def load_benchmarks_from(data: dict[str, Any], name: str | None = None, edit=None):
    data = edited(data, name, edit) if name else data
    return {b["fullname"]: b for b in data["benchmarks"]}, data["machine_info"]


def test_missing_benchmarks_fail_unless_allowed(tmp_path, baseline, capsys):
    new = copy.deepcopy(baseline)
    new["benchmarks"] = [b for b in new["benchmarks"] if b["name"] != "test_quality"]
    assert run_cli(tmp_path, new, baseline) == 1
    assert "not in the new file" in capsys.readouterr().out
    assert run_cli(tmp_path, new, baseline, "--allow-missing") == 0
    # The other way round, a new benchmark is only mentioned.
    assert run_cli(tmp_path, baseline, new) == 0
    assert "not in the baseline" in capsys.readouterr().err


def test_unreadable_files_are_clear_errors(tmp_path, baseline, capsys):
    good = write(tmp_path / "good.json", baseline)
    assert main(["bench-compare", str(tmp_path / "none.json"), str(good)]) == 2
    assert "none.json' does not exist" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text('{"not": "benchmarks"}')
    assert main(["bench-compare", str(tmp_path / "bad.json"), str(good)]) == 2
    assert "is not a pytest-benchmark JSON file" in capsys.readouterr().err
    with pytest.raises(GesbenchError, match="unknown statistic"):
        compare({}, {}, stat="max")
    assert load_benchmarks(good)[1]["python_implementation"] == "CPython"


def set_stat(stat: str, value: object):
    def edit(b: dict[str, Any]) -> None:
        b["stats"][stat] = value

    return edit


@pytest.mark.parametrize(
    ("side", "value", "shown"),
    [
        ("new", float("nan"), "cannot compare: new not a number"),
        ("new", None, "cannot compare: new not a number"),
        ("baseline", float("nan"), "cannot compare: baseline not a number"),
        ("baseline", 0.0, "cannot compare: baseline 0, not a positive time"),
        ("new", -1.0, "cannot compare: new -1, not a positive time"),
    ],
)
def test_a_time_that_is_not_a_positive_number_fails_its_comparison(
    tmp_path, baseline, capsys, side, value, shown
):
    bad = edited(baseline, "test_sum", set_stat("min", value))
    new, base = (bad, baseline) if side == "new" else (baseline, bad)
    assert run_cli(tmp_path, new, base) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "test_sum" in x)
    assert line.startswith("FAIL") and line.endswith(shown)
    assert "1 regression(s)" in out


@pytest.mark.parametrize("field", ["median", "spread"])
def test_a_quality_value_that_is_not_a_number_fails_its_comparison(
    tmp_path, baseline, capsys, field
):
    def nan(b: dict[str, Any]) -> None:
        b["extra_info"]["quality"]["final_loss"][field] = float("nan")

    side = "new" if field == "median" else "baseline"
    bad = edited(baseline, "test_quality", nan)
    new, base = (bad, baseline) if side == "new" else (baseline, bad)
    assert run_cli(tmp_path, new, base) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "final_loss" in x)
    assert line.startswith("FAIL") and "cannot compare" in line and "not a number" in line


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b["stats"].pop("min"), "benchmark 'test_tiny.py::test_sum' has no stats.'min'"),
        (lambda b: b.pop("stats"), "benchmark 'test_tiny.py::test_sum' has no 'stats' table"),
        (
            lambda b: b["extra_info"]["quality"]["final_loss"].pop("spread"),
            "benchmark 'test_tiny.py::test_quality' has no extra_info.quality.final_loss.'spread'",
        ),
        (
            lambda b: b["extra_info"]["quality"].update(final_loss=3),
            "benchmark 'test_tiny.py::test_quality' has no extra_info.quality.final_loss.'median'",
        ),
    ],
)
def test_missing_fields_are_clear_errors_naming_file_benchmark_and_field(
    tmp_path, baseline, capsys, edit, message
):
    name = "test_sum" if "test_sum" in message else "test_quality"
    broken = edited(baseline, name, edit)
    assert run_cli(tmp_path, baseline, broken) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"gesbench: error: {str(tmp_path / 'base.json')!r}: ")
    assert message in err and "Traceback" not in err
