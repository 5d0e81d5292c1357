"""COCO-style runtime distributions: the ECDF of the budget needed to reach targets.

Each (trial, target) pair is one "run"; a method's ECDF at budget ``x`` is the share of its
runs whose best-so-far gap to the problem's reference value was at or below the target by
``x``. Targets are log-spaced relative to each problem's initial gap, so problems of different
scales pool into one curve. Pairs never reached stay below 1 at every budget.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from gesbench.analysis.hitting import first_hits


def best_logged(traces: pd.DataFrame, y_name: str) -> dict[str, float]:
    """Per problem, the lowest ``y_name`` any finished trial logged: a reference value for
    problems whose optimum is unknown (targets then measure progress towards the best point
    found by any method)."""
    finished = traces[traces["status"].isin(["done", "diverged"])]
    return {str(k): float(v) for k, v in finished.groupby("problem_label")[y_name].min().items()}


def targets(
    traces: pd.DataFrame,
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
    of the first logged gap (the gap at ``x0``). Returns ``problem_label, reference,
    relative, target``.
    """
    finished = traces[traces["status"].isin(["done", "diverged"])]
    first = finished.sort_values("iteration").groupby("trial_id").first()
    relative = 10.0 ** (-np.arange(1, round(decades * per_decade) + 1) / per_decade)
    frames = []
    for problem, start in first.groupby("problem_label")[y_name]:
        reference = (references or {}).get(str(problem), 0.0)
        scale = float(np.median(start - reference))
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
    return pd.concat(frames, ignore_index=True)


def hitting_times(
    traces: pd.DataFrame, target_table: pd.DataFrame, x_name: str, y_name: str
) -> pd.DataFrame:
    """First ``x_name`` at which each finished trial reaches each of its problem's targets.

    Returns one row per (trial, target): ``problem_label, label, trial_id, relative, target,
    hit`` (``inf`` if never reached). Failed trials are left out (reports list them).
    """
    finished = traces[traces["status"].isin(["done", "diverged"])]
    frames = []
    for (problem, label, trial_id), t in finished.groupby(
        ["problem_label", "label", "trial_id"], sort=False
    ):
        t = t.sort_values("iteration")
        goals = target_table[target_table["problem_label"] == problem]
        gap = t[y_name].to_numpy() - goals["reference"].iloc[0]
        hits = first_hits(t[x_name].to_numpy(), gap, goals["target"].to_numpy())
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": problem,
                    "label": label,
                    "trial_id": trial_id,
                    "relative": goals["relative"].to_numpy(),
                    "target": goals["target"].to_numpy(),
                    "hit": hits,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def runtime_ecdf(hits: pd.DataFrame, grid: np.ndarray) -> pd.DataFrame:
    """Share of each method's (trial, target) pairs reached by each budget in ``grid``.

    Pooled over all problems; returns columns ``label, x, fraction, runs``.
    """
    grid = np.asarray(grid, dtype=float)
    frames = []
    for label, group in hits.groupby("label", sort=False):
        reached = np.sort(group["hit"].to_numpy())
        fraction = np.searchsorted(reached, grid, side="right") / len(reached)
        frames.append(
            pd.DataFrame({"label": label, "x": grid, "fraction": fraction, "runs": len(reached)})
        )
    return pd.concat(frames, ignore_index=True)
