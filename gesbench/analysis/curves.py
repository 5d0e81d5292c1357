"""Per-method summary curves: traces aligned on a common x grid, median and bootstrap band."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench.analysis.stats import bootstrap_median_ci

CURVE_COLUMNS = ["problem_label", "label", "x_name", "x", "y_name", "median", "low", "high", "n"]


def step_values(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of a logged trace at each grid point: the last value logged at or before it."""
    pos = np.searchsorted(x, grid, side="right") - 1
    out = y[np.clip(pos, 0, None)]
    return np.where(pos >= 0, out, np.nan)


def summarize(traces: pd.DataFrame, x_name: str, y_name: str, *, seed: int = 0) -> pd.DataFrame:
    """Median and 95% bootstrap band of ``y_name`` against ``x_name`` per (problem, method).

    Repetitions are aligned by step interpolation of the *current* value (the loss at the
    optimizer's recommendation when it was logged) on the union of the logged x values, kept
    only where every repetition has been logged. Only ``done`` trials are summarised, and a
    method whose ``x_name`` never moves (e.g. loss evaluations of a method that uses none) has
    no curve against it.
    """
    frames = []
    done = traces[traces["status"] == "done"]
    for (problem, label), group in done.groupby(["problem_label", "label"], sort=False):
        if group[x_name].max() == group[x_name].min():
            continue
        runs = [t.sort_values(x_name) for _, t in group.groupby("trial_id")]
        grid = np.unique(np.concatenate([r[x_name].to_numpy() for r in runs]))
        grid = grid[grid <= min(r[x_name].iloc[-1] for r in runs)]
        Y = np.vstack([step_values(r[x_name].to_numpy(), r[y_name].to_numpy(), grid) for r in runs])
        keep = ~np.isnan(Y).any(axis=0)
        if not keep.any():
            continue
        median, low, high = bootstrap_median_ci(Y[:, keep], seed=seed)
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": problem,
                    "label": label,
                    "x_name": x_name,
                    "x": grid[keep],
                    "y_name": y_name,
                    "median": median,
                    "low": low,
                    "high": high,
                    "n": len(runs),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CURVE_COLUMNS)
