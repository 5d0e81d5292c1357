"""Dolan-More performance profiles over problem instances (problem x repetition).

An instance is solved by a method once its best-so-far value ``f`` satisfies
``f <= f_L + tau * (f_0 - f_L)`` (the convergence test of More and Wild, 2009), where ``f_0``
is the value at ``x0`` and ``f_L`` the best value any method logged on that instance. The cost
of solving is the budget spent by then. A method's profile at ratio ``r`` is the share of
instances it solved within ``r`` times the cost of the fastest method on that instance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench.analysis.curves import TrialTraces
from gesbench.analysis.hitting import first_hits


def solve_costs(
    traces: pd.DataFrame | TrialTraces, x_name: str, y_name: str, tau: float
) -> pd.DataFrame:
    """Cost (in ``x_name``) for each finished trial to pass the convergence test at ``tau``.

    ``f_0`` is the median over the instance's trials of their first logged value, ``f_L``
    the lowest value any of them logged. Returns ``problem_label, repetition, label, tau,
    cost`` (``inf``: never solved).
    """
    if not 0 < tau < 1:
        raise ValueError(f"tau must be in (0, 1), got {tau}")
    data = TrialTraces.of(traces, [x_name, y_name])
    instance = ["problem_label", "repetition"]
    trials = data.trials[[*instance, "label"]].copy()
    trials["first"] = data.per_trial(y_name, "first")
    trials["best"] = data.per_trial(y_name, "min")
    finished = data.trials["status"].isin(["done", "diverged"]).to_numpy()
    rows = np.flatnonzero(finished)
    if not len(rows):
        return pd.DataFrame(columns=[*instance, "label", "tau", "cost"])
    by_instance = trials.iloc[rows].groupby(instance, sort=False)
    levels = by_instance["best"].min() + tau * (
        by_instance["first"].median() - by_instance["best"].min()
    )
    level = trials.iloc[rows].join(levels.rename("level"), on=instance)["level"].to_numpy()
    x_all, y_all = data.columns[x_name], data.columns[y_name]
    costs = np.array(
        [
            first_hits(x_all[data.start[t] : data.stop[t]], y_all[data.start[t] : data.stop[t]],
                       np.array([lv]))[0]
            for t, lv in zip(rows, level, strict=True)
        ]
    )  # fmt: skip
    out = trials.iloc[rows][[*instance, "label"]].reset_index(drop=True)
    out["tau"] = tau
    out["cost"] = costs
    return out


def performance_profile(costs: pd.DataFrame, ratios: np.ndarray) -> pd.DataFrame:
    """Profile of each method at each performance ratio in ``ratios`` (>= 1).

    ``costs`` is :func:`solve_costs` output (one ``tau``). Instances no method solved count as
    unsolved for everyone. Returns ``label, ratio, fraction, instances``.
    """
    wide = costs.pivot_table(
        index=["problem_label", "repetition"], columns="label", values="cost", sort=False
    )
    best = wide.min(axis=1).to_numpy()[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        # A cost of zero (solved at x0) ties with the best at ratio 1.
        r = np.where(wide.to_numpy() == best, 1.0, wide.to_numpy() / best)
    r = np.where(np.isfinite(best), r, np.inf)
    r = np.where(np.isnan(r), np.inf, r)  # a method without a result on an instance
    ratios = np.asarray(ratios, dtype=float)
    frames = [
        pd.DataFrame(
            {
                "label": label,
                "ratio": ratios,
                "fraction": (r[:, j, None] <= ratios[None, :]).mean(axis=0),
                "instances": len(r),
            }
        )
        for j, label in enumerate(wide.columns)
    ]
    return pd.concat(frames, ignore_index=True)
