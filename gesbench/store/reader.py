"""Tidy pandas views of a run folder's store, and export to CSV / Parquet."""

from __future__ import annotations

import json
import os
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from gesbench.core.errors import GesbenchError
from gesbench.spec.trial import IDENTITY_VERSION
from gesbench.store.database import connect_readonly, store_path
from gesbench.store.record import TRACE_COLUMNS

TRIAL_COLUMNS = [
    "id", "experiment", "problem", "problem_label", "optimizer", "label", "repetition",
    "status", "error", "started", "wall_time", "iterations", "evaluations", "gradient_calls",
    "final_loss",
]  # fmt: skip
LATER_COLUMNS = {
    # column: how to read it from a store written before it existed (read-only, so unmigrated)
    "metrics": "'{}'",
    "identity_version": "1",
    "stage": "'evaluation'",
    "dim": "NULL",
}


class Results(NamedTuple):
    """``trials``: one row per trial (spec and provenance as JSON text columns, and a
    ``final_NAME`` column per final metric a problem reports, e.g. ``final_accuracy``).
    ``traces``: one row per logged point, with the trial's identifying columns joined in."""

    trials: pd.DataFrame
    traces: pd.DataFrame


def read_meta(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The store's meta table: 'experiment' (the spec last run into the folder), 'trial_ids'
    (its trials), 'components' (what the run's problems and optimizers declared)."""
    with closing(connect_readonly(run_dir)) as db:
        return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}


def legacy_trials(run_dir: str | os.PathLike[str]) -> int:
    """How many stored trials have ids of an older trial identity (0 without a store): they
    stay readable but a run never re-uses them, since their seeds were derived differently."""
    if not store_path(run_dir).is_file():
        return 0
    with closing(connect_readonly(run_dir)) as db:
        if "identity_version" not in {row[1] for row in db.execute("PRAGMA table_info(trials)")}:
            return int(db.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        query = "SELECT COUNT(*) FROM trials WHERE identity_version != ?"
        return int(db.execute(query, (IDENTITY_VERSION,)).fetchone()[0])


def load_results(run_dir: str | os.PathLike[str], *, all_trials: bool = False) -> Results:
    """Load a run folder's trials and traces as tidy DataFrames.

    By default only the trials of the experiment last run into the folder are returned (a
    folder re-used with, say, a smaller ``--budget`` keeps the older trials too); pass
    ``all_trials=True`` for everything in the store, including trials of an older gesbench
    (``identity_version`` 1), which are kept but never re-used. Failed trials are always
    included, with their error: filter on ``status`` rather than losing them silently.
    """
    with closing(connect_readonly(run_dir)) as db:
        stored = {row[1] for row in db.execute("PRAGMA table_info(trials)")}
        later = [c if c in stored else f"{default} AS {c}" for c, default in LATER_COLUMNS.items()]
        trials = pd.read_sql_query(
            f"SELECT {', '.join(TRIAL_COLUMNS + later)}, spec, provenance FROM trials",
            db,
            dtype={"final_loss": float},
        )
        # A column that is NULL throughout (no f*, no true gradient) would load as objects.
        traces = pd.read_sql_query(
            "SELECT * FROM traces", db, dtype=dict.fromkeys(TRACE_COLUMNS, float)
        )
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    trials["dim"] = trials["dim"].astype("Int64")
    if not all_trials and "trial_ids" in meta:
        trials = trials[trials["id"].isin(json.loads(meta["trial_ids"]))]
    finals = pd.DataFrame(
        [json.loads(m) for m in trials.pop("metrics")], index=trials.index, dtype=float
    )
    trials = pd.concat([trials, finals.add_prefix("final_")], axis=1)
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
