"""A run folder in IOHprofiler's data format, which IOHanalyzer and iohinspector open.

One "function" per problem (by label), one "algorithm" per method (by label), one run per
finished trial (``done`` or ``diverged``; the instance is the repetition, so runs of different
methods on the same instance are paired), and loss evaluations as the budget axis. The value
(``raw_y``, minimised) is the excess loss where the problem knows f*, else the loss, at the
optimizer's recommendation when it was logged. Failed trials have no trace worth showing and
are left out; so are methods that never evaluate the loss (e.g. gradient descent on the
surrogate), which have no evaluations axis: :func:`export_ioh` says which.

Layout (IOHprofiler's JSON meta-data, ``ioh`` >= 0.3.3)::

    ioh/<method>/IOHprofiler_f<id>_<problem>.json
    ioh/<method>/data_f<id>_<problem>/IOHprofiler_f<id>_DIM<n>.dat
"""

from __future__ import annotations

import json
import os
import re
from importlib.metadata import version
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from gesbench.store.reader import load_results

FINISHED = ("done", "diverged")


class IOHExport(NamedTuple):
    """What :func:`export_ioh` wrote, and the methods it left out with the reason."""

    written: list[Path]
    skipped: dict[str, str]


def _slug(text: str) -> str:
    """A file-name-safe version of a label (IOH file names split on '_' and spaces)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "unnamed"


def _run_rows(trace: pd.DataFrame, value: str) -> pd.DataFrame:
    """One run's rows: evaluations strictly increasing from 1 (IOH starts a new run at 1)."""
    evals = np.maximum(trace["evaluations"].to_numpy(dtype=float), 1.0)
    keep = np.concatenate([[True], evals[1:] > np.maximum.accumulate(evals)[:-1]])
    rows = pd.DataFrame({"evaluations": evals[keep].astype(np.int64)})
    rows["raw_y"] = trace[value].to_numpy(dtype=float)[keep]
    return rows


def export_ioh(
    run_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    all_trials: bool = False,
) -> IOHExport:
    """Write ``run_dir``'s trials in IOHprofiler's format under ``out_dir`` (default
    ``run_dir/ioh``); ``all_trials`` as in :func:`~gesbench.store.reader.load_results`."""
    results = load_results(run_dir, all_trials=all_trials)
    trials = results.trials[results.trials["status"].isin(FINISHED)]
    trials = trials[trials["role"] == "evaluation"]  # tuning trials are not runs of a method
    traces = results.traces[results.traces["trial_id"].isin(trials["id"])]
    out = Path(out_dir) if out_dir is not None else Path(run_dir) / "ioh"
    functions = {label: i for i, label in enumerate(sorted(trials["problem_label"].unique()), 1)}
    by_trial = dict(tuple(traces.groupby("trial_id", sort=False)))
    written: list[Path] = []
    skipped: dict[str, str] = {}
    for (problem, method), group in trials.groupby(["problem_label", "label"], sort=True):
        if not (group["evaluations"] > 0).any():
            skipped[str(method)] = "never evaluates the loss, so it has no evaluations axis"
            continue
        fid, fname, folder = functions[problem], _slug(str(problem)), out / _slug(str(method))
        value = (
            "excess_loss"
            if traces.loc[traces["problem_label"] == problem, "excess_loss"].notna().all()
            else "loss"
        )
        dims = group["dim"].dropna()
        dim = int(dims.iloc[0]) if len(dims) else 0
        data_path = Path(f"data_f{fid}_{fname}") / f"IOHprofiler_f{fid}_DIM{dim}.dat"
        (folder / data_path).parent.mkdir(parents=True, exist_ok=True)
        runs, blocks = [], []
        for trial_id, repetition in group.sort_values("repetition")[["id", "repetition"]].values:
            rows = _run_rows(by_trial[trial_id], value)
            best = int(np.nanargmin(rows["raw_y"].to_numpy())) if rows["raw_y"].notna().any() else 0
            runs.append(
                {
                    "instance": int(repetition) + 1,
                    "evals": int(rows["evaluations"].iloc[-1]),
                    "best": {
                        "evals": int(rows["evaluations"].iloc[best]),
                        "x": [],
                        "y": float(rows["raw_y"].iloc[best]),
                    },
                }
            )
            blocks.append(rows.to_csv(sep=" ", index=False, lineterminator="\n"))
        (folder / data_path).write_text("".join(blocks))
        spec = json.loads(group["spec"].iloc[0])
        meta = {
            "version": "0.3.3",
            "suite": "gesbench",
            "function_id": fid,
            "function_name": fname,
            "maximization": False,
            "algorithm": {
                "name": _slug(str(method)),
                "info": json.dumps(
                    {
                        "label": str(method),
                        "optimizer": spec["optimizer"],
                        "params": spec["optimizer_params"],
                        "y": value,
                        "gesbench": version("gesbench"),
                    }
                ),
            },
            "attributes": ["evaluations", "raw_y"],
            "scenarios": [{"dimension": dim, "path": str(data_path), "runs": runs}],
        }
        meta_path = folder / f"IOHprofiler_f{fid}_{fname}.json"
        meta_path.write_text(json.dumps(meta, indent=1))
        written += [meta_path, folder / data_path]
    return IOHExport(written, skipped)
