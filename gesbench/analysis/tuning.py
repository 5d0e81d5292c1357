"""The tuning stage as tables: DataFrames from what a run stored (its meta ``tuning`` and its
results), for the report's tuning section and for anyone reading a run.

- :func:`evaluation_only`: a run's results without its tuning trials (the verdict's input: a
  method is judged on evaluation seeds only).
- :func:`tuning_points`: every tuning trial's final value and score, one column per tuned
  parameter (the sensitivity figure's points).
- :func:`configuration_table`: every configuration's score per rung.
- :func:`selected_table`: the selected settings, their scores, the declared default's score
  where the default was tried, and the notes (edges, ties, divergence).
- :func:`budget_table`: each method's tuning cost.
- :func:`default_vs_tuned`: evaluation results of a tuned method beside an untuned entry of the
  same optimizer (its stated settings), where the spec runs both.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from gesbench.analysis.stats import median_ci
from gesbench.store.reader import Results


def evaluation_only(results: Results) -> Results:
    """``results`` without tuning trials (role 'tuning') and their traces."""
    trials = results.trials
    if "role" not in trials:
        return results
    tuning = trials["role"] == "tuning"
    if not tuning.any():  # no copy of the (possibly large) traces
        return results
    traces = results.traces
    traces = traces[~traces["trial_id"].isin(trials.loc[tuning, "id"])]
    return results._replace(trials=trials[~tuning].reset_index(drop=True), traces=traces)


def tuning_record(meta: dict[str, Any]) -> dict[str, Any]:
    """The run's stored tuning record ({} for a run without a tuning stage)."""
    record = meta.get("tuning")
    return record if isinstance(record, dict) else {}


def _value(x: Any) -> float:
    """A stored score: None (not finite: diverged or failed everywhere) is +inf."""
    return math.inf if x is None else float(x)


def _flatten(rows: list[dict[str, Any]], numeric: tuple[str, ...]) -> pd.DataFrame:
    records = []
    for row in rows:
        params = row.get("params") or {}
        records.append(
            {
                **{k: v for k, v in row.items() if k not in ("params", "trial_ids")},
                "setting": ", ".join(f"{k}={_short(v)}" for k, v in params.items()),
                **{f"param_{k}": v for k, v in params.items()},
            }
        )
    frame = pd.DataFrame(records)
    for column in numeric:
        if column in frame:
            frame[column] = frame[column].map(_value)
    return frame


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def tuned_params(record: dict[str, Any], label: str) -> list[str]:
    """The parameters tuned for the method called ``label``, in spec order."""
    space = record.get("spaces", {}).get(label, {})
    return [str(p) for p in space.get("params", [])]


def tuning_points(record: dict[str, Any]) -> pd.DataFrame:
    """One row per tuning trial: problem_label, label, rung, config, repetition, status,
    ``final`` and ``auc`` (+inf where diverged or failed), ``setting`` (as text) and a
    ``param_NAME`` column per tuned parameter."""
    return _flatten(list(record.get("trials", [])), ("final", "auc"))


def configuration_table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per configuration and rung: its score, median final value, median AUC,
    median survival, trials, diverged and failed counts, order (0 = best of its group) and
    whether it went on; ``problem_label`` is '' for the shared scope."""
    return _flatten(list(record.get("table", [])), ("score", "median_final", "median_auc"))


def selected_table(record: dict[str, Any], defaults: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """One row per problem and tuned method: the selected ``setting`` (and a ``param_NAME``
    column each), its ``score`` and median final value on the tuning seeds, the score of the
    optimizer's declared default (``defaults``: per optimizer name, as stored with the run)
    where that default was among the configurations tried (``default_rung``: the longest rung
    it reached, -1 when it was not tried; scores of different rungs are at different
    budgets), and the ``notes``."""
    selected = _flatten(list(record.get("selected", [])), ("score", "median_final"))
    if selected.empty:
        return selected
    table = configuration_table(record)
    at_default, default_rung, default_setting = [], [], []
    for row in selected.to_dict("records"):
        names = tuned_params(record, str(row["label"]))
        declared = defaults.get(str(row["optimizer"]), {})
        wanted = {n: declared.get(n) for n in names}
        default_setting.append(", ".join(f"{k}={_short(v)}" for k, v in wanted.items()))
        problem = row["problem_label"] if row.get("scope") == "per_problem" else ""
        mask = (table["label"] == row["label"]) & (table["problem_label"] == problem)
        for name, value in wanted.items():
            column = f"param_{name}"
            mask &= (table[column] == value) if column in table else False
        hit = table[mask].sort_values("rung")  # the longest rung the default reached
        at_default.append(float(hit["score"].iloc[-1]) if len(hit) else math.nan)
        default_rung.append(int(hit["rung"].iloc[-1]) if len(hit) else -1)
    selected["default"] = default_setting
    selected["default_score"] = at_default
    selected["default_rung"] = default_rung
    selected["notes"] = selected["notes"].map(
        lambda n: "; ".join(n) if isinstance(n, list) else str(n or "")
    )
    return selected


def budget_table(record: dict[str, Any]) -> pd.DataFrame:
    """Each method's tuning cost: configurations, tuning trials and budget units per problem,
    problems, and the total."""
    frame = pd.DataFrame(list(record.get("costs", [])))
    if frame.empty:
        return frame
    return frame.rename(columns={"trials_per_problem": "trials per problem"})


def _entries(meta: dict[str, Any]) -> list[dict[str, Any]]:
    entries = meta.get("experiment", {}).get("optimizers", [])
    return [e for e in entries if isinstance(e, dict)]


def default_pairs(meta: dict[str, Any]) -> list[tuple[str, str]]:
    """(tuned label, untuned label) for each tuned entry and each untuned entry of the same
    optimizer whose parameters equal the tuned entry's apart from the tuned ones: the spec's
    "default vs tuned" comparisons."""
    entries = _entries(meta)
    pairs = []
    for tuned in entries:
        space = tuned.get("tune")
        if not space:
            continue
        names = set(space.get("params", []))
        fixed = {k: v for k, v in tuned.get("params", {}).items() if k not in names}
        for other in entries:
            if other.get("tune") or other.get("name") != tuned.get("name"):
                continue
            rest = {k: v for k, v in other.get("params", {}).items() if k not in names}
            if json.dumps(rest, sort_keys=True) == json.dumps(fixed, sort_keys=True):
                pairs.append((str(tuned["label"]), str(other["label"])))
    return pairs


def _setting(trials: pd.DataFrame, problem: str, label: str, names: list[str]) -> str:
    rows = trials[(trials["problem_label"] == problem) & (trials["label"] == label)]
    if rows.empty:
        return ""
    params = json.loads(rows["spec"].iloc[0]).get("optimizer_params", {})
    return ", ".join(f"{n}={_short(params.get(n))}" for n in names)


def default_vs_tuned(
    meta: dict[str, Any], trials: pd.DataFrame, finals: pd.DataFrame
) -> pd.DataFrame:
    """Per problem and (tuned, untuned) pair of :func:`default_pairs`: each one's setting of
    the tuned parameters, median final value on the evaluation repetitions with its
    order-statistic 95% CI (NaN without values), and n; ``same_trials`` when the tuned method
    selected exactly the untuned entry's setting (then both are the same trials)."""
    record = tuning_record(meta)
    rows = []
    for tuned, default in default_pairs(meta):
        names = tuned_params(record, tuned)
        for problem in dict.fromkeys(finals["problem_label"]):
            row: dict[str, Any] = {"problem_label": problem, "tuned": tuned, "default": default}
            for role, label in (("tuned", tuned), ("default", default)):
                values = finals.loc[
                    (finals["problem_label"] == problem) & (finals["label"] == label), "final"
                ].to_numpy(dtype=float)
                ci = median_ci(values)
                median, low, high = float(ci.median), float(ci.low), float(ci.high)
                row[f"{role}_setting"] = _setting(trials, str(problem), label, names)
                row.update({f"{role}_median": median, f"{role}_low": low, f"{role}_high": high})
                row[f"{role}_n"] = len(values)
            row["same_trials"] = row["tuned_setting"] == row["default_setting"]
            rows.append(row)
    return pd.DataFrame(rows)
