"""Each trial's final value of a trace column: the input of every final-results metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

FINAL_COLUMNS = ["problem_label", "label", "optimizer", "repetition", "trial_id", "status", "final"]


def final_values(trials: pd.DataFrame, traces: pd.DataFrame, y_name: str) -> pd.DataFrame:
    """One row per finished trial with the last logged ``y_name`` as ``final``.

    Diverged trials get ``final = +inf`` (worse than any finite result, so rank-based
    statistics treat them as losses instead of dropping them). Failed trials have no result
    and are left out here; reports list them separately with their errors.
    """
    kept = trials[trials["status"].isin(["done", "diverged"])]
    last = (
        traces.sort_values(["trial_id", "iteration"])
        .groupby("trial_id", sort=False)[y_name]
        .last()
        .rename("final")
    )
    out = kept.rename(columns={"id": "trial_id"}).merge(
        last, left_on="trial_id", right_index=True, how="left"
    )
    out["final"] = np.where(out["status"] == "diverged", np.inf, out["final"])
    return out[FINAL_COLUMNS].reset_index(drop=True)
