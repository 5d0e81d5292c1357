"""COCO-style runtime distributions: the ECDF of the budget needed to reach targets.

Each (trial, target) pair is one "run"; a method's ECDF at budget ``x`` is the share of its
runs whose best-so-far gap to the problem's reference value was at or below the target by
``x``. Targets are log-spaced relative to each problem's initial gap, so problems of different
scales pool into one curve. Pairs never reached stay below 1 at every budget, and every trial
counts: failed and diverged trials are unsuccessful runs, in the denominator and never in the
numerator (a diverged trial ends with no usable point, whatever it passed on the way; pass
``diverged_reach=True`` to :func:`hitting_times` to count what it reached before diverging).
The area under the ECDF over the log budget axis (:func:`ecdf_area`) summarises a curve in
one number, as IOHanalyzer does.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gesbench.analysis.curves import TrialTraces
from gesbench.analysis.hitting import first_hits

HIT_COLUMNS = [
    "problem_label", "label", "trial_id", "status", "relative", "target", "hit", "spent",
]  # fmt: skip
ECDF_COLUMNS = ["problem_label", "label", "x", "fraction", "runs"]


FINISHED = ("done", "diverged")


def best_logged(traces: pd.DataFrame | TrialTraces, y_name: str) -> dict[str, float]:
    """Per problem, the lowest finite ``y_name`` any finished trial logged: a reference value
    for problems whose optimum is unknown (targets then measure progress towards the best
    point found by any method)."""
    data = TrialTraces.of(traces, [y_name])
    best = pd.Series(data.per_trial(y_name, "min", finite=True))
    finished = data.trials["status"].isin(FINISHED).to_numpy()
    by_problem = best[finished].groupby(data.trials["problem_label"][finished]).min()
    return {str(k): float(v) for k, v in by_problem.items() if np.isfinite(v)}


def targets(
    traces: pd.DataFrame | TrialTraces,
    y_name: str,
    *,
    references: Mapping[str, float] | None = None,
    decades: float = 3.0,
    per_decade: int = 5,
) -> pd.DataFrame:
    """Target gaps per problem: ``scale * 10**(-j/per_decade)`` for ``j = 1 .. decades*per_decade``.

    Gaps are ``y - reference``: ``references`` maps problems to their reference value (e.g.
    :func:`best_logged`); a problem not in it (or ``references=None``) uses 0, right for
    ``y`` that is already a gap such as the excess loss. ``scale`` is the median over trials
    of the first logged gap (the gap at ``x0``); a problem whose scale is not a positive
    finite number gets no targets. Returns ``problem_label, reference, relative, target``.
    """
    data = TrialTraces.of(traces, [y_name])
    finished = data.trials["status"].isin(FINISHED).to_numpy()
    first = pd.Series(data.per_trial(y_name, "first"))[finished]
    problems = data.trials["problem_label"][finished]
    relative = 10.0 ** (-np.arange(1, round(decades * per_decade) + 1) / per_decade)
    frames = []
    for problem, start in first.groupby(problems, sort=False):
        reference = (references or {}).get(str(problem), 0.0)
        gaps = start.to_numpy(dtype=float) - reference
        gaps = gaps[np.isfinite(gaps)]
        scale = float(np.median(gaps)) if len(gaps) else np.nan
        if not (np.isfinite(scale) and scale > 0):
            continue
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": problem,
                    "reference": reference,
                    "relative": relative,
                    "target": scale * relative,
                }
            )
        )
    if not frames:
        columns = ["problem_label", "reference", "relative", "target"]
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c == "problem_label" else float) for c in columns}
        )
    return pd.concat(frames, ignore_index=True)


def hitting_times(
    traces: pd.DataFrame | TrialTraces,
    target_table: pd.DataFrame,
    x_name: str,
    y_name: str,
    trials: pd.DataFrame | None = None,
    *,
    diverged_reach: bool = False,
) -> pd.DataFrame:
    """First ``x_name`` at which each trial reaches each of its problem's targets.

    One row per (trial, target) (:data:`HIT_COLUMNS`): ``hit`` is ``inf`` if never reached;
    ``spent`` is the budget the trial used (its last logged ``x_name``), what a simulated
    restart pays for an unsuccessful run. Done trials are read from their traces
    (best-so-far); diverged and failed ones reach nothing (diverged ones what they reached
    before diverging with ``diverged_reach``). With ``trials`` (the run's trials table),
    failed trials that logged nothing are added too, with their counter as the budget spent.
    """
    goals_by_problem = {
        str(p): (g["relative"].to_numpy(), g["target"].to_numpy(), float(g["reference"].iloc[0]))
        for p, g in target_table.groupby("problem_label", sort=False)
    }
    data = TrialTraces.of(traces, [x_name, y_name])
    x_all, y_all = data.columns[x_name], data.columns[y_name]
    meta = data.trials[["trial_id", "problem_label", "label", "status"]].to_numpy(dtype=object)
    parts: dict[str, list[np.ndarray]] = {c: [] for c in HIT_COLUMNS}

    def add(row: np.ndarray, relative: np.ndarray, target: np.ndarray, hit, spent) -> None:
        trial_id, problem, label, status = row
        m = len(relative)
        for name, value in (("problem_label", problem), ("label", label),
                            ("trial_id", trial_id), ("status", status)):  # fmt: skip
            parts[name].append(np.full(m, value, dtype=object))
        parts["relative"].append(relative)
        parts["target"].append(target)
        parts["hit"].append(np.broadcast_to(np.asarray(hit, dtype=float), (m,)))
        parts["spent"].append(np.full(m, spent, dtype=float))

    for row, s, e in zip(meta, data.start, data.stop, strict=True):
        goals = goals_by_problem.get(str(row[1]))
        if goals is None:
            continue
        relative, target, reference = goals
        x, y = x_all[s:e], y_all[s:e]
        ok = np.isfinite(x)
        x, y = np.maximum.accumulate(x[ok]) if ok.any() else x[ok], y[ok]
        spent = float(x[-1]) if len(x) else 0.0
        if row[3] == "failed" or (row[3] == "diverged" and not diverged_reach) or not len(x):
            add(row, relative, target, np.inf, spent)
            continue
        add(row, relative, target, first_hits(x, y - reference, target), spent)
    if trials is not None:
        counter = {"iteration": "iterations"}.get(x_name, x_name)
        missing = trials[
            trials["problem_label"].isin(list(goals_by_problem))
            & ~trials["id"].isin(data.trials["trial_id"])
        ]
        for r in missing.to_dict("records"):
            relative, target, _ = goals_by_problem[str(r["problem_label"])]
            spent = float(r[counter]) if counter in r and pd.notna(r[counter]) else 0.0
            row = np.array([r["id"], r["problem_label"], r["label"], r["status"]], dtype=object)
            add(row, relative, target, np.inf, spent)
    if not parts["hit"]:
        text = {"problem_label", "label", "trial_id", "status"}
        return pd.DataFrame({c: pd.Series(dtype=object if c in text else float)
                             for c in HIT_COLUMNS})  # fmt: skip
    return pd.DataFrame({c: np.concatenate(v) for c, v in parts.items()})[HIT_COLUMNS]


def runtime_ecdf(
    hits: pd.DataFrame, grid: np.ndarray, *, per_problem: bool = False
) -> pd.DataFrame:
    """Share of each method's (trial, target) pairs reached by each budget in ``grid``.

    Pooled over all problems (``problem_label`` is then 'all problems'), or one ECDF per
    problem with ``per_problem``. Returns :data:`ECDF_COLUMNS`.
    """
    grid = np.asarray(grid, dtype=float)
    keys = ["problem_label", "label"] if per_problem else ["label"]
    frames = []
    for key, group in hits.groupby(keys, sort=False):
        problem, label = key if per_problem else ("all problems", key[0])
        reached = np.sort(group["hit"].to_numpy(dtype=float))
        fraction = np.searchsorted(reached, grid, side="right") / len(reached)
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": problem,
                    "label": label,
                    "x": grid,
                    "fraction": fraction,
                    "runs": len(reached),
                }
            )
        )
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("problem_label", "label")
                                          else float) for c in ECDF_COLUMNS})  # fmt: skip
    return pd.concat(frames, ignore_index=True)[ECDF_COLUMNS]


def ecdf_area(ecdf: pd.DataFrame) -> pd.DataFrame:
    """Normalised area under each ECDF over the log budget axis, in [0, 1] (1: every target
    reached at the smallest budget of the grid; higher is better).

    ``ecdf`` is :func:`runtime_ecdf` output on a grid of positive budgets (a zero budget is
    left out); the area is the trapezoidal integral over ``log10(x)`` divided by the width
    of the grid. Returns ``problem_label, label, area, runs``.
    """
    rows = []
    for (problem, label), g in ecdf.groupby(["problem_label", "label"], sort=False):
        g = g[g["x"] > 0]
        logx = np.log10(g["x"].to_numpy(dtype=float))
        f = g["fraction"].to_numpy(dtype=float)
        width = logx[-1] - logx[0] if len(logx) > 1 else 0.0
        area = (
            float(np.trapezoid(f, logx) / width)
            if width > 0
            else float(f.mean())
            if len(f)
            else np.nan
        )
        rows.append((problem, label, area, int(g["runs"].iloc[0]) if len(g) else 0))
    return pd.DataFrame(rows, columns=["problem_label", "label", "area", "runs"])
