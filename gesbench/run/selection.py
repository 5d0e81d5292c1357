"""Selection of a tuned method's setting from its tuning trials: DataFrames in, DataFrames out.

Everything here is a pure function of stored tuning results (trials and traces as
:func:`gesbench.store.reader.load_results` gives them), so re-running a finished tuning stage
selects exactly what it selected before. Evaluation trials never enter: the caller passes
tuning trials only (stage "tuning").

Per tuning trial (:func:`score_trials`): its ``final`` value (excess loss where every trial of
the problem knows f*, else loss, at the last logged point; +inf when it diverged, failed or
ended non-finite), its ``auc`` (area under log10 of that value against the fraction of the
budget spent, the value held from one logged point to the next; +inf when diverged or failed)
and ``survival`` (the fraction of the budget spent when it ended).

Per configuration (:func:`rank_configurations`), within a group (a method on one problem, or a
method over all problems for the shared scope), a score to minimise:

- ``median_final``: the median final value over tuning seeds;
- ``auc``: the median ``auc`` over tuning seeds;
- ``mean_rank``: the mean, over tuning seeds, of the configuration's rank among the method's
  configurations on the same instance (ties share the mean rank);
- ``worst_final``: the worst (largest) final value over tuning seeds, so a setting that fails
  on one seed of three is seen (+inf when any seed diverged or failed).

With the shared scope, the per-problem score (median final, median auc or worst final) is
ranked among the method's configurations on each problem and the score is the mean rank over
problems (``mean_rank`` averages over every problem and seed). Ties are broken by the median
survival (a configuration that diverged later beats one that diverged sooner), then by the
order the configurations were listed in: deterministic, and stated in the selection's notes.
``worst_final`` looks at the worst case here too: its ties go first to the configuration whose
shortest-lived seed lasted longest (the minimum survival; when every setting diverged on one
seed of three, the median survival is 1 for all of them and would leave listing order to
decide).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gesbench.core.budget import Budget
from gesbench.core.errors import did_you_mean

AXES = {"iterations": "iteration", "evaluations": "evaluations", "gradient_calls": "gradient_calls"}
"""The trace column that counts each budget kind ('cost' is the 'cost' column)."""

CELL_COLUMNS = ["id", "problem", "entry", "config", "repetition"]


def y_names(traces: pd.DataFrame, trials: pd.DataFrame) -> dict[str, str]:
    """Per problem label: 'excess_loss' when every logged point of its finished trials that
    has a finite loss has an excess loss (f* known), else 'loss' (the rule the report uses)."""
    finished = trials.loc[trials["status"].isin(["done", "diverged"]), "id"]
    logged = traces[traces["trial_id"].isin(finished)]
    logged = logged[np.isfinite(logged["loss"].to_numpy(dtype=float, na_value=np.nan))]
    return {
        str(p): "excess_loss" if g["excess_loss"].notna().all() else "loss"
        for p, g in logged.groupby("problem_label")
    }


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    """Area under the step curve that holds y[i] from x[i] to x[i+1] (the last to 1)."""
    widths = np.diff(np.append(x, 1.0))
    return float(np.sum(y * np.clip(widths, 0.0, None)))


def score_trials(
    cells: pd.DataFrame, trials: pd.DataFrame, traces: pd.DataFrame, budget: Budget
) -> pd.DataFrame:
    """``cells`` (one row per tuning trial: id, problem, entry, config, repetition, and the
    ``problem_label``) with ``status``, ``final``, ``auc`` and ``survival`` added, from the
    stored ``trials`` and ``traces`` of one rung (all at ``budget``). A cell missing from the
    store counts as failed."""
    columns = ["status", "iterations", "evaluations", "gradient_calls"]
    counters = trials.drop_duplicates("id").set_index("id")[columns].to_dict("index")
    names = y_names(traces, trials)
    own = traces[traces["trial_id"].isin(cells["id"])]
    axis = AXES.get(budget.kind, "cost")
    floors: dict[str, float] = {}
    for problem, g in own.groupby("problem_label"):
        values = g[names.get(str(problem), "loss")].to_numpy(dtype=float)
        positive = values[np.isfinite(values) & (values > 0)]
        floors[str(problem)] = float(positive.min()) if len(positive) else 1e-300
    by_trial = {tid: g.sort_values("iteration") for tid, g in own.groupby("trial_id")}
    rows = []
    for cell in cells.to_dict("records"):
        trial_id, problem = str(cell["id"]), str(cell["problem_label"])
        row = counters.get(trial_id)
        status = "failed" if row is None else str(row["status"])
        trace = by_trial.get(trial_id)
        y_name = names.get(problem, "loss")
        final = auc = np.inf
        survival = 0.0
        if row is not None:
            spent = budget.spent(
                int(row["iterations"]), int(row["evaluations"]), int(row["gradient_calls"])
            )
            survival = min(1.0, spent / budget.limit)
        if status == "done" and trace is not None and len(trace):
            y = trace[y_name].to_numpy(dtype=float)
            final = float(y[-1]) if np.isfinite(y[-1]) else np.inf
            if np.isfinite(y).all():
                x = np.clip(trace[axis].to_numpy(dtype=float) / budget.limit, 0.0, 1.0)
                if y_name == "excess_loss" or (y > 0).all():
                    y = np.log10(np.maximum(y, floors.get(problem, 1e-300)))
                auc = _auc(x, y)
        rows.append({"status": status, "final": final, "auc": auc, "survival": survival})
    return pd.concat([cells.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def _cell_ranks(scored: pd.DataFrame) -> pd.Series:
    """Each trial's rank of ``final`` among its group's configurations on the same instance
    (problem and tuning seed); ties share the mean rank."""
    ranks = scored.groupby(["problem", "entry", "repetition"])["final"].transform(
        lambda v: v.rank(method="average")
    )
    return ranks.astype(float)


def rank_configurations(scored: pd.DataFrame, select: str, scope: str) -> pd.DataFrame:
    """One row per (group, configuration): ``score`` (lower is better, see the module
    docstring), ``median_final``, ``median_auc``, ``survival`` (median), ``worst_survival``
    (minimum), ``n``, ``diverged``, ``failed`` and ``order`` (0 = selected within its group).
    A group is (problem, entry) for the per-problem scope, (entry,) for the shared scope, whose
    rows carry ``problem = -1``."""
    scored = scored.assign(rank=_cell_ranks(scored))
    per_problem = scored.groupby(["problem", "entry", "config"], sort=True).agg(
        median_final=("final", "median"),
        median_auc=("auc", "median"),
        mean_rank=("rank", "mean"),
        worst_final=("final", "max"),
        survival=("survival", "median"),
        worst_survival=("survival", "min"),
        n=("final", "size"),
        diverged=("status", lambda s: int((s == "diverged").sum())),
        failed=("status", lambda s: int((s == "failed").sum())),
    )
    per_problem = per_problem.reset_index()
    criterion = {
        "median_final": "median_final",
        "auc": "median_auc",
        "mean_rank": "mean_rank",
        "worst_final": "worst_final",
    }
    if select not in criterion:
        message = f"select: expected one of {', '.join(map(repr, criterion))}, got {select!r}"
        hint = did_you_mean(str(select), criterion)
        raise ValueError(f"{message}.{hint}" if hint else message)
    per_problem["score"] = per_problem[criterion[select]]
    if scope == "shared":
        if select != "mean_rank":
            per_problem["score"] = per_problem.groupby(["problem", "entry"])["score"].transform(
                lambda v: v.rank(method="average")
            )
        shared = per_problem.groupby(["entry", "config"], sort=True)
        table = shared.agg(
            median_final=("median_final", "median"),
            median_auc=("median_auc", "median"),
            survival=("survival", "median"),
            worst_survival=("worst_survival", "min"),
            n=("n", "sum"),
            diverged=("diverged", "sum"),
            failed=("failed", "sum"),
        ).reset_index()
        if select == "mean_rank":
            table["score"] = (
                scored.groupby(["entry", "config"], sort=True)["rank"].mean().to_numpy()
            )
        else:
            table["score"] = shared["score"].mean().to_numpy()
        table.insert(0, "problem", -1)
    else:
        table = per_problem.drop(columns=["mean_rank", "worst_final"])
    survivals = ["worst_survival", "survival"] if select == "worst_final" else ["survival"]
    table = table.sort_values(
        ["problem", "entry", "score", *survivals, "config"],
        ascending=[True, True, True, *[False] * len(survivals), True],
        kind="stable",
    )
    table["order"] = table.groupby(["problem", "entry"]).cumcount()
    return table.sort_values(["problem", "entry", "config"]).reset_index(drop=True)


def survivors(table: pd.DataFrame, keep: int) -> dict[tuple[int, int], list[int]]:
    """Per group (problem or -1, entry): the configurations among the best ``keep``."""
    best = table[table["order"] < keep]
    out: dict[tuple[int, int], list[int]] = {}
    for row in best.to_dict("records"):
        out.setdefault((int(row["problem"]), int(row["entry"])), []).append(int(row["config"]))
    return {group: sorted(configs) for group, configs in out.items()}


def ties(table: pd.DataFrame) -> dict[tuple[int, int], list[int]]:
    """Per group whose best score is shared: the configurations sharing it, best first."""
    out: dict[tuple[int, int], list[int]] = {}
    for _, g in table.groupby(["problem", "entry"]):
        g = g.sort_values("order")
        tied = g[g["score"] == g["score"].iloc[0]]
        if len(tied) > 1:
            first = tied.iloc[0]
            group = (int(first["problem"]), int(first["entry"]))
            out[group] = [int(c) for c in tied["config"]]
    return out


def edges(values: Sequence[object], chosen: object) -> str | None:
    """'largest' or 'smallest' when ``chosen`` is at that end of the distinct ``values``
    tried (None inside the range, or when only one value was tried)."""
    distinct = list(dict.fromkeys(values))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in distinct)
    if len(distinct) < 2 or not numeric:
        return None  # categorical values have no ends
    ordered = sorted(distinct)  # type: ignore[type-var]
    if chosen == ordered[-1]:
        return "largest"
    if chosen == ordered[0]:
        return "smallest"
    return None
