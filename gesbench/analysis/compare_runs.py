"""Two runs of the same spec compared trial by trial: ``gesbench compare RUN_A RUN_B``.

The use: run a spec, change something (an optimizer's code, a dependency, the machine), run the
same spec into another folder, and ask per problem and method whether B ends better or worse
than A, and whether it got slower. A trial's id is its science (problem and optimizer with
their parameters, budget, repetition, stage), so the same spec gives the same ids and each
trial of A is paired with the trial of B that has its id: the same problem instance and the
same seeds. (A tuned method whose selected settings differ between the runs has other ids in
B; its trials are then paired by problem instance and repetition instead, which is said.)

Per problem and method, over the pairs where both trials finished (diverged counts as +inf):

- the change in final value (excess loss where f* is known, else loss; evaluation trials
  only), B against A: the Hodges-Lehmann estimate of the paired log ratio B / A (of the
  difference B - A where values can be negative) with its exact signed-rank confidence
  interval and that interval's actual coverage, and the two-sided Wilcoxon signed-rank test,
  Holm-corrected across every comparison of the two runs
  (:mod:`gesbench.analysis.stats`, as the report's verdict does);
- the change in wall time: the median of the per-pair ratios B / A with its distribution-free
  order-statistic interval.

A method got significantly worse when its Holm-adjusted p-value is at most the level and its
final values are higher in B.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.final_table import comparison_scale, pairs_to_reach, smallest_holm_p
from gesbench.analysis.final_values import final_values
from gesbench.analysis.stats import (
    hodges_lehmann,
    holm,
    median_ci,
    paired_differences,
    signed_rank_test,
)
from gesbench.analysis.tuning import evaluation_only
from gesbench.core.errors import GesbenchError
from gesbench.run.selection import y_names
from gesbench.store.reader import Results, load_results, read_meta

COMPARE_COLUMNS = [
    "problem_label", "label", "pairs", "paired_by", "value", "scale", "median_a", "median_b",
    "change", "change_low", "change_high", "coverage", "p_lower", "wilcoxon_p", "holm_p",
    "verdict", "time_ratio", "time_low", "time_high", "time_coverage", "only_a", "only_b",
    "failed_a", "failed_b",
]  # fmt: skip
"""``change*``: B / A on the log-ratio scale (1 is no change), B - A on the difference scale;
``p_lower``: the share of pairs where B ends lower; ``verdict``: 'worse' or 'better' (Holm
significant at the level) or 'no significant change'; ``time_*``: the median per-pair wall
time ratio B / A; ``only_a``/``only_b``: finished trials without a partner; ``failed_*``:
failed trials (no final value)."""


@dataclass(frozen=True)
class RunComparison:
    """What :func:`compare_runs` found: one row per problem and method, and notes."""

    run_a: Path
    run_b: Path
    table: pd.DataFrame
    level: float
    notes: list[str] = field(default_factory=list)

    @property
    def worse(self) -> pd.DataFrame:
        """The problems and methods whose final values got significantly higher in B."""
        return self.table[self.table["verdict"] == "worse"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN as null, infinities as the strings 'inf' and '-inf'."""
        return {
            "run_a": str(self.run_a),
            "run_b": str(self.run_b),
            "level": self.level,
            "comparisons": [
                {k: _json(v) for k, v in row.items()} for row in self.table.to_dict("records")
            ],
            "worse": [f"{r['problem_label']} x {r['label']}" for _, r in self.worse.iterrows()],
            "notes": list(self.notes),
        }


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _load(run_dir: Path) -> Results:
    return evaluation_only(load_results(run_dir))


def _finals(results: Results, names: dict[str, str]) -> pd.DataFrame:
    """Each finished trial's final value (``names`` per problem) with its wall time and
    instance seed."""
    traces = results.traces.copy()
    excess = traces["problem_label"].map(names).to_numpy() == "excess_loss"
    traces["value"] = np.where(excess, traces["excess_loss"], traces["loss"])
    finals = final_values(results.trials, traces, "value")
    trials = _with_budget(results.trials).set_index("id")
    return finals.join(trials[["wall_time", "seed_instance", "budget"]], on="trial_id")


def _with_budget(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with its budget as text, a key of pairing by problem instance."""
    budgets = [json.dumps(json.loads(s).get("budget"), sort_keys=True) for s in trials["spec"]]
    return trials.assign(budget=budgets)


def _pairs(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Pairs of one problem and method: by trial id, else, when no id is shared, by problem
    instance (the same instance seed: problem, parameters, repetition; and the same optimizer
    and budget, so only the optimizer's parameters differ)."""
    by_id = a.merge(b, on="trial_id", suffixes=("_a", "_b"))
    if len(by_id) or a["seed_instance"].isna().all():
        return by_id, "trial id"
    by_instance = a.merge(b, on=INSTANCE_KEY, suffixes=("_a", "_b"))
    return by_instance, "problem instance" if len(by_instance) else "trial id"


INSTANCE_KEY = ["seed_instance", "optimizer", "budget"]


def _ratio(value: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.exp(value))


def _compare_pair(pairs: pd.DataFrame, scale: str, level: float) -> dict[str, Any]:
    a, b = pairs["final_a"].to_numpy(float), pairs["final_b"].to_numpy(float)
    d = paired_differences(b, a, log=scale == "log ratio")
    shift = hodges_lehmann(d, 1 - level)
    test = signed_rank_test(d)
    lower = float(np.mean(b < a) + 0.5 * np.mean(b == a)) if len(d) else np.nan
    if scale == "log ratio":
        change = [_ratio(v) for v in (shift.estimate, shift.low, shift.high)]
    else:
        change = [shift.estimate, shift.low, shift.high]
    with np.errstate(divide="ignore", invalid="ignore"):
        times = pairs["wall_time_b"].to_numpy(float) / pairs["wall_time_a"].to_numpy(float)
    times = times[np.isfinite(times)]
    band = median_ci(times, 1 - level) if len(times) else None
    return {
        "change": change[0],
        "change_low": change[1],
        "change_high": change[2],
        "coverage": shift.coverage,
        "p_lower": lower,
        "wilcoxon_p": test.pvalue if len(d) else np.nan,
        "time_ratio": float(band.median) if band is not None else np.nan,
        "time_low": float(band.low) if band is not None else np.nan,
        "time_high": float(band.high) if band is not None else np.nan,
        "time_coverage": float(band.coverage) if band is not None else np.nan,
    }


def compare_runs(
    run_a: str | os.PathLike[str], run_b: str | os.PathLike[str], *, level: float = 0.05
) -> RunComparison:
    """Compare the evaluation trials of two run folders of the same spec (see the module
    docstring). GesbenchError when they share no trial to pair."""
    if not 0 < level < 1:
        raise GesbenchError(f"the level must be between 0 and 1, got {level}")
    run_a, run_b = Path(run_a), Path(run_b)
    results_a, results_b = _load(run_a), _load(run_b)
    names_a = y_names(results_a.traces, results_a.trials)
    names_b = y_names(results_b.traces, results_b.trials)
    names = {
        p: "excess_loss" if names_a.get(p) == names_b.get(p, names_a.get(p)) == "excess_loss"
        else "loss"
        for p in {*names_a, *names_b}
    }  # fmt: skip
    finals_a, finals_b = _finals(results_a, names), _finals(results_b, names)
    shared = set(results_a.trials["id"]) & set(results_b.trials["id"])
    if not shared and not _instances_shared(results_a.trials, results_b.trials):
        raise GesbenchError(_no_pairs(run_a, run_b, results_a.trials, results_b.trials))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    groups = list(
        dict.fromkeys(
            [
                *zip(results_a.trials["problem_label"], results_a.trials["label"], strict=True),
                *zip(results_b.trials["problem_label"], results_b.trials["label"], strict=True),
            ]
        )
    )
    for problem, label in groups:
        a = finals_a[(finals_a["problem_label"] == problem) & (finals_a["label"] == label)]
        b = finals_b[(finals_b["problem_label"] == problem) & (finals_b["label"] == label)]
        pairs, paired_by = _pairs(a, b)
        scale = comparison_scale(pd.concat([pairs["final_a"], pairs["final_b"]]))
        row: dict[str, Any] = {
            "problem_label": problem,
            "label": label,
            "pairs": len(pairs),
            "paired_by": paired_by,
            "value": names.get(str(problem), "loss"),
            "scale": scale,
            "median_a": _median(pairs["final_a"] if len(pairs) else a["final"]),
            "median_b": _median(pairs["final_b"] if len(pairs) else b["final"]),
            "only_a": len(a) - len(pairs),
            "only_b": len(b) - len(pairs),
            "failed_a": _failed(results_a.trials, problem, label),
            "failed_b": _failed(results_b.trials, problem, label),
        }
        if len(pairs):
            row |= _compare_pair(pairs, scale, level)
        if paired_by == "problem instance" and len(pairs):
            notes.append(
                f"{problem} x {label}: no trial id in common (its settings differ between the "
                "runs, e.g. tuning selected another one); paired by problem instance"
            )
        if row["failed_b"] > row["failed_a"]:
            notes.append(
                f"{problem} x {label}: {row['failed_b']} failed trial(s) in B, "
                f"{row['failed_a']} in A (failed trials have no final value to compare)"
            )
        rows.append(row)
    table = pd.DataFrame(rows)
    for column in COMPARE_COLUMNS:
        if column not in table:
            table[column] = np.nan
    p = table["wilcoxon_p"].to_numpy(dtype=float, na_value=np.nan)
    table["holm_p"] = holm(p)
    significant = table["holm_p"].to_numpy(dtype=float, na_value=np.nan) <= level
    up = _direction(table) > 0
    table["verdict"] = np.where(
        significant, np.where(up, "worse", "better"), "no significant change"
    )
    table.loc[table["pairs"] == 0, "verdict"] = "not compared"
    tested = int((~np.isnan(p)).sum())
    if tested:
        fewest = int(table.loc[~np.isnan(p), "pairs"].min())
        if smallest_holm_p(fewest, tested) > level:
            notes.append(
                f"with {fewest} pairs and {tested} comparisons no change can reach "
                f"{level:g} after Holm's correction (that takes at least "
                f"{pairs_to_reach(tested, level)} pairs): 'no significant change' may be "
                "too few repetitions"
            )
    return RunComparison(run_a, run_b, table[COMPARE_COLUMNS], level, notes)


def _median(values: pd.Series) -> float:
    return float(np.median(values.to_numpy(dtype=float))) if len(values) else np.nan


def _direction(table: pd.DataFrame) -> np.ndarray:
    """Sign of the estimated change: +1 when B ends higher than A."""
    change = table["change"].to_numpy(dtype=float, na_value=np.nan)
    log_scale = table["scale"].to_numpy() == "log ratio"
    with np.errstate(divide="ignore", invalid="ignore"):
        signed = np.where(log_scale, np.log(change), change)
    return np.sign(np.nan_to_num(signed, nan=0.0))


def _failed(trials: pd.DataFrame, problem: str, label: str) -> int:
    mask = (trials["problem_label"] == problem) & (trials["label"] == label)
    return int((trials.loc[mask, "status"] == "failed").sum())


def _instances_shared(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether some method meets the same problem instance in both runs, with the same
    optimizer and budget."""
    keys = ["label", *INSTANCE_KEY]
    a, b = _with_budget(a), _with_budget(b)
    return len(a[keys].dropna().merge(b[keys].dropna(), on=keys)) > 0


def _no_pairs(run_a: Path, run_b: Path, a: pd.DataFrame, b: pd.DataFrame) -> str:
    def describe(run: Path, trials: pd.DataFrame) -> str:
        try:
            experiment = read_meta(run).get("experiment", {})
        except GesbenchError:
            experiment = {}
        budget = experiment.get("budget", {})
        return (
            f"{run}: experiment {experiment.get('name', '?')!r}, {len(trials)} evaluation "
            f"trial(s), budget {budget.get('kind', '?')} {budget.get('limit', '?')}, "
            f"{experiment.get('repetitions', '?')} repetition(s)"
        )

    return (
        "the two run folders share no trial to pair: a trial's id is its problem, optimizer, "
        "parameters, budget and repetition, so compare runs of the same spec with the same "
        "overrides (--budget, --repetitions). "
        f"A = {describe(run_a, a)}; B = {describe(run_b, b)}"
    )


def format_comparison(result: RunComparison) -> str:
    """The comparison as ``gesbench compare`` prints it."""
    t = result.table
    confidence = f"{100 * (1 - result.level):g}%"
    rows = []
    for r in t.to_dict("records"):
        rows.append(
            {
                "problem": r["problem_label"],
                "method": r["label"],
                "pairs": r["pairs"],
                "A median": _number(r["median_a"]),
                "B median": _number(r["median_b"]),
                f"final B vs A [{confidence} CI]": _change(r),
                "p (Holm)": _number(r["holm_p"], 2),
                "verdict": r["verdict"],
                "time B/A [CI]": _interval(r["time_ratio"], r["time_low"], r["time_high"], "x"),
            }
        )
    lines = [
        f"A = {result.run_a}, B = {result.run_b}; final value: excess loss where f* is known, "
        "else loss (lower is better); evaluation trials paired by trial id",
        pd.DataFrame(rows).to_string(index=False),
    ]
    worse = result.worse
    if len(worse):
        names = ", ".join(f"{r.problem_label} x {r.label}" for r in worse.itertuples())
        lines.append(f"significantly worse in B: {names}")
    else:
        lines.append("no method got significantly worse in B")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def _number(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}g}"


def _interval(value: float, low: float, high: float, prefix: str = "") -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{prefix}{value:.3g} [{low:.3g}, {high:.3g}]"


def _change(row: dict[Any, Any]) -> str:
    if row["scale"] == "log ratio":
        return _interval(row["change"], row["change_low"], row["change_high"], "x")
    value = row["change"]
    if isinstance(value, float) and math.isnan(value):
        return "-"
    return f"{value:+.3g} [{row['change_low']:+.3g}, {row['change_high']:+.3g}]"
