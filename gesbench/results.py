"""Tidy pandas views of a run folder's store, and export to CSV / Parquet."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from gesbench.errors import GesbenchError, StoreError
from gesbench.store import store_path

TRIAL_COLUMNS = [
    "id", "experiment", "problem", "problem_label", "optimizer", "label", "repetition",
    "status", "error", "started", "wall_time", "iterations", "evaluations", "gradient_calls",
    "final_loss",
]  # fmt: skip


class Results(NamedTuple):
    """``trials``: one row per trial (spec and provenance as JSON text columns).
    ``traces``: one row per logged point, with the trial's identifying columns joined in."""

    trials: pd.DataFrame
    traces: pd.DataFrame


def load_results(run_dir: str | os.PathLike[str], *, all_trials: bool = False) -> Results:
    """Load a run folder's trials and traces as tidy DataFrames.

    By default only the trials of the experiment last run into the folder are returned (a
    folder re-used with, say, a smaller ``--budget`` keeps the older trials too); pass
    ``all_trials=True`` for everything in the store. Failed trials are always included, with
    their error: filter on ``status`` rather than losing them silently.
    """
    path = store_path(run_dir)
    if not path.is_file():
        raise StoreError(f"no gesbench result store in {str(run_dir)!r}")
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        trials = pd.read_sql_query(
            f"SELECT {', '.join(TRIAL_COLUMNS)}, spec, provenance FROM trials", db
        )
        traces = pd.read_sql_query("SELECT * FROM traces", db)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if not all_trials and "trial_ids" in meta:
        trials = trials[trials["id"].isin(json.loads(meta["trial_ids"]))]
    trials = trials.sort_values(["problem_label", "label", "repetition"]).reset_index(drop=True)
    keys = ["id", "problem_label", "label", "optimizer", "repetition", "status"]
    traces = traces.merge(trials[keys].rename(columns={"id": "trial_id"}), on="trial_id")
    return Results(trials, traces)


def export(run_dir: str | os.PathLike[str], fmt: str = "csv") -> list[Path]:
    """Write ``trials`` and ``traces`` tables next to the store; return the paths written."""
    if fmt not in ("csv", "parquet"):
        raise GesbenchError(f"unknown export format {fmt!r}; choose csv or parquet")
    results = load_results(run_dir, all_trials=True)
    written = []
    for name, frame in results._asdict().items():
        target = Path(run_dir) / f"{name}.{fmt}"
        if fmt == "csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)
        written.append(target)
    return written
