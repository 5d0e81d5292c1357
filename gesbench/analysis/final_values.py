"""Each trial's final value of a trace column: the input of every final-results metric."""

from __future__ import annotations

import numpy as np
import pandas as pd

FINAL_COLUMNS = ["problem_label", "label", "optimizer", "repetition", "trial_id", "status", "final"]


def final_values(trials: pd.DataFrame, traces: pd.DataFrame, y_name: str) -> pd.DataFrame:
    """One row per finished trial with ``y_name`` at its last logged point as ``final``.

    Diverged trials get ``final = +inf`` (worse than any finite result, so rank-based
    statistics treat them as losses instead of dropping them), and so does a finished trial
    whose last value is not finite. Failed trials have no result and are left out here
    (reports list them with their errors, and count them in success rates); so is a finished
    trial that logged nothing.
    """
    kept = trials[trials["status"].isin(["done", "diverged"])]
    logged = traces[["trial_id", "iteration", y_name]].dropna(subset=["iteration"])
    if len(logged):
        last_rows = logged.groupby("trial_id", sort=False)["iteration"].idxmax()
        last = logged.loc[last_rows.to_numpy(), ["trial_id", y_name]].set_index("trial_id")[y_name]
    else:
        last = pd.Series(dtype=float, index=pd.Index([], dtype=object, name="trial_id"))
    out = kept.rename(columns={"id": "trial_id"})
    out = out.assign(final=out["trial_id"].map(last).astype(float))
    final = out["final"].to_numpy(dtype=float, na_value=np.nan)
    logged_any = out["trial_id"].isin(last.index).to_numpy()
    final = np.where(np.isfinite(final), final, np.inf)
    final = np.where(out["status"].to_numpy() == "diverged", np.inf, final)
    out["final"] = np.where(logged_any | (out["status"].to_numpy() == "diverged"), final, np.nan)
    out = out[out["final"].notna()]
    return out[FINAL_COLUMNS].reset_index(drop=True)
