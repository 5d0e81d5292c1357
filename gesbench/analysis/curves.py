"""Per-method summary curves: traces aligned on a fixed grid, median and order-statistic band.

Each trial's logged values are read off a fixed grid per (problem, x axis): log-spaced points
(dense early, where runs change fastest) merged with evenly spaced ones, so the curves look
right on linear and log axes alike and their size does not grow with the number of trials or
logged points. A trial's value at a grid point is its *current* value (the loss at the
optimizer's recommendation when last logged), held after its last logged point when it
finished; a diverged trial is +inf from where it diverged. The band is the distribution-free
order-statistic interval of the median (:func:`gesbench.analysis.stats.median_ci`), whose
actual coverage at the run's repetition count is part of the output.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gesbench.analysis.stats import median_ci

CURVE_COLUMNS = [
    "problem_label", "label", "x_name", "x", "y_name", "median", "low", "high", "n",
    "coverage", "low_rank", "high_rank", "diverged",
]  # fmt: skip
SEED_COLUMNS = ["problem_label", "label", "x_name", "x", "y_name", "repetition", "value"]
GRID_LOG = 160
GRID_LINEAR = 80
SEED_CURVES = 10
"""Up to this many repetitions, each repetition's own curve is kept (drawn thin under the
median)."""

Kind = Literal["loss", "alignment"]


def step_values(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of a logged trace at each grid point: the last value logged at or before it."""
    pos = np.searchsorted(x, grid, side="right") - 1
    out = y[np.clip(pos, 0, None)]
    return np.where(pos >= 0, out, np.nan)


def x_grid(x: np.ndarray, n_log: int = GRID_LOG, n_linear: int = GRID_LINEAR) -> np.ndarray:
    """The fixed grid of an x axis: 0 (when logged), ``n_log`` log-spaced and ``n_linear``
    evenly spaced points from the smallest positive to the largest logged value."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    positive = x[x > 0]
    if not len(positive):
        return np.unique(x[:1])
    lo, hi = float(positive.min()), float(positive.max())
    parts = [np.geomspace(lo, hi, n_log), np.linspace(lo, hi, n_linear), np.array([hi])]
    if (x == 0).any():
        parts.append(np.zeros(1))
    return np.unique(np.concatenate(parts))


@dataclass(frozen=True)
class TrialTraces:
    """Every trace of a run as flat arrays sorted by (trial, iteration), with one row per
    trial of metadata: built once, then each curve reads slices of it (no per-trial
    DataFrames). ``start[i]:stop[i]`` are trial ``i``'s rows."""

    trials: pd.DataFrame  # trial_id, problem_label, label, repetition, status (one row each)
    start: NDArray[np.intp]
    stop: NDArray[np.intp]
    columns: dict[str, NDArray[np.float64]]

    @classmethod
    def from_traces(cls, traces: pd.DataFrame, columns: list[str]) -> TrialTraces:
        """``traces`` as :func:`gesbench.store.reader.load_results` gives them (long format,
        with the trial's problem_label, label, repetition and status on every row)."""
        codes, ids = pd.factorize(traces["trial_id"], sort=False)
        iteration = traces["iteration"].to_numpy(dtype=float, na_value=np.nan)
        order = np.lexsort((iteration, codes))
        codes = codes[order]
        bounds = np.flatnonzero(np.diff(codes)) + 1
        start = np.concatenate([[0], bounds]).astype(np.intp) if len(codes) else np.zeros(0, int)
        stop = np.concatenate([bounds, [len(codes)]]).astype(np.intp) if len(codes) else start
        first = order[start]
        meta = ["trial_id", "problem_label", "label", "repetition", "status"]
        trials = traces[meta].iloc[first].reset_index(drop=True)
        data = {
            c: traces[c].to_numpy(dtype=float, na_value=np.nan)[order]
            for c in dict.fromkeys(columns)
        }
        del ids
        return cls(trials, start, stop, data)

    @classmethod
    def of(cls, traces: pd.DataFrame | TrialTraces, columns: list[str]) -> TrialTraces:
        """``traces`` as flat arrays (built from a long DataFrame, or as given)."""
        return traces if isinstance(traces, TrialTraces) else cls.from_traces(traces, columns)

    def per_trial(
        self, column: str, how: Literal["first", "last", "min"], *, finite: bool = False
    ) -> NDArray[np.float64]:
        """One value per trial: its first or last logged ``column`` value, or the smallest
        (NaN ignored, infinities too with ``finite``; NaN where a trial logged no value)."""
        values = self.columns[column]
        if not len(self.start):
            return np.zeros(0)
        if how == "first":
            return values[self.start].copy()
        if how == "last":
            return values[self.stop - 1].copy()
        values = np.where(np.isinf(values), np.nan, values) if finite else values
        masked = np.where(np.isnan(values), np.inf, values)
        out = np.minimum.reduceat(masked, self.start)
        logged = np.add.reduceat((~np.isnan(values)).astype(np.intp), self.start) > 0
        return np.where(logged, out, np.nan)

    def groups(self, problem: str | None = None) -> Iterator[tuple[str, str, NDArray[np.intp]]]:
        """(problem, label, trial indices) per method, in order of first appearance."""
        trials = self.trials
        if problem is not None:
            trials = trials[trials["problem_label"] == problem]
        for (p, label), rows in trials.groupby(["problem_label", "label"], sort=False):
            yield str(p), str(label), rows.index.to_numpy(dtype=np.intp)


class Curves(NamedTuple):
    """``summary``: median and band per grid point (:data:`CURVE_COLUMNS`); ``seeds``: each
    repetition's own values (:data:`SEED_COLUMNS`) where a method has at most
    :data:`SEED_CURVES` repetitions."""

    summary: pd.DataFrame
    seeds: pd.DataFrame


def _aligned(
    data: TrialTraces,
    rows: NDArray[np.intp],
    x_name: str,
    y_name: str,
    grid: np.ndarray,
    kind: Kind,
) -> tuple[np.ndarray, np.ndarray]:
    """(values on ``grid``, repetitions x points) and the part of the grid the method spans."""
    x_all, y_all = data.columns[x_name], data.columns[y_name]
    status = data.trials["status"].to_numpy()
    Y = np.full((len(rows), len(grid)), np.nan)
    end = -np.inf
    for i, t in enumerate(rows):
        s, e = data.start[t], data.stop[t]
        if e <= s:
            if status[t] == "diverged" and kind == "loss":
                Y[i] = np.inf
            continue
        x, y = x_all[s:e], y_all[s:e]
        finite_x = np.isfinite(x)
        if not finite_x.all():
            x, y = x[finite_x], y[finite_x]
            if not len(x):
                continue
        x = np.maximum.accumulate(x)  # counters and clocks never go back
        if kind == "loss":
            y = np.where(np.isnan(y) | np.isinf(y), np.inf, y)
        else:
            y = np.where(np.isfinite(y), y, np.nan)
        Y[i] = step_values(x, y, grid)
        last = x[-1]
        if status[t] == "diverged" and kind == "loss":
            Y[i, grid > last] = np.inf
        end = max(end, last)
    return Y, grid <= end


def summarize(
    traces: pd.DataFrame | TrialTraces,
    x_name: str,
    y_name: str,
    *,
    kind: Kind = "loss",
    level: float = 0.95,
    seed_curves: int = SEED_CURVES,
) -> Curves:
    """Median and order-statistic band of ``y_name`` against ``x_name`` per (problem, method).

    ``kind='loss'``: done and diverged trials (non-finite values, and a diverged trial after
    its last point, are +inf: the median becomes +inf once half the repetitions diverged).
    ``kind='alignment'``: done trials, non-finite values missing. A curve is shown where every
    repetition has a value and up to the last x any of them reached (a finished repetition
    holds its final value); a method whose ``x_name`` never moves (e.g. loss evaluations of
    a method that uses none) has no curve against it. Failed trials are left out.
    """
    statuses = ("done", "diverged") if kind == "loss" else ("done",)
    if isinstance(traces, TrialTraces):
        data = traces
    else:
        data = TrialTraces.from_traces(traces, [x_name, y_name])
    keep = data.trials["status"].isin(statuses).to_numpy()
    frames, seed_frames = [], []
    for problem in dict.fromkeys(data.trials["problem_label"]):
        in_problem = np.flatnonzero(keep & (data.trials["problem_label"] == problem).to_numpy())
        if not len(in_problem):
            continue
        x_cat = np.concatenate(
            [data.columns[x_name][data.start[t] : data.stop[t]] for t in in_problem]
        )
        grid = x_grid(x_cat)
        for _, label, rows in data.groups(str(problem)):
            rows = rows[keep[rows]]
            if not len(rows):
                continue
            xs = np.concatenate([data.columns[x_name][data.start[t] : data.stop[t]] for t in rows])
            xs = xs[np.isfinite(xs)]
            if not len(xs) or xs.max() == xs.min():
                continue  # the counter never moves for this method
            Y, spanned = _aligned(data, rows, x_name, y_name, grid, kind)
            band = median_ci(Y, level)
            shown = spanned & (band.n == len(rows))
            if not shown.any():
                continue
            frames.append(
                pd.DataFrame(
                    {
                        "problem_label": problem,
                        "label": label,
                        "x_name": x_name,
                        "x": grid[shown],
                        "y_name": y_name,
                        "median": band.median[shown],
                        "low": band.low[shown],
                        "high": band.high[shown],
                        "n": band.n[shown],
                        "coverage": band.coverage[shown],
                        "low_rank": band.low_rank[shown],
                        "high_rank": band.high_rank[shown],
                        "diverged": np.isposinf(Y[:, shown]).sum(axis=0),
                    }
                )
            )
            if len(rows) <= seed_curves:
                reps = data.trials["repetition"].to_numpy()[rows]
                seed_frames.append(
                    pd.DataFrame(
                        {
                            "problem_label": problem,
                            "label": label,
                            "x_name": x_name,
                            "x": np.tile(grid[shown], len(rows)),
                            "y_name": y_name,
                            "repetition": np.repeat(reps, shown.sum()),
                            "value": Y[:, shown].ravel(),
                        }
                    )
                )
    return Curves(_concat(frames, CURVE_COLUMNS), _concat(seed_frames, SEED_COLUMNS))


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    """Concatenated frames, or an empty frame whose numeric columns keep a float dtype (an
    empty frame of object columns breaks plotting and arithmetic later)."""
    if frames:
        return pd.concat(frames, ignore_index=True)[columns]
    text = {"problem_label", "label", "x_name", "y_name"}
    return pd.DataFrame({c: pd.Series(dtype=object if c in text else float) for c in columns})
