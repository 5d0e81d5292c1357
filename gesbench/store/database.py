"""The result store: one SQLite file per run folder, written only by the driver process.

Each finished trial (done, failed or diverged) is written with its trace in a single
transaction, so a crash loses only unfinished trials. Re-running skips trials that are done or
diverged (deterministic outcomes) and retries failed ones, replacing their rows.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from gesbench.core.errors import StoreError
from gesbench.run.trial import TRACE_COLUMNS, TrialResult

STORE_NAME = "results.sqlite"
LOCK_NAME = ".gesbench.lock"
FINAL_STATUSES = ("done", "diverged")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    problem TEXT NOT NULL,
    problem_label TEXT NOT NULL,
    optimizer TEXT NOT NULL,
    label TEXT NOT NULL,
    repetition INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed', 'diverged')),
    error TEXT,
    started REAL NOT NULL,
    wall_time REAL NOT NULL,
    iterations INTEGER NOT NULL,
    evaluations INTEGER NOT NULL,
    gradient_calls INTEGER NOT NULL,
    final_loss REAL,
    spec TEXT NOT NULL,
    provenance TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{{}}'
);
CREATE TABLE IF NOT EXISTS traces (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    {", ".join(f"{c} REAL" for c in TRACE_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS traces_trial ON traces(trial_id);
"""


def store_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / STORE_NAME


def _nullable(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


class ResultStore:
    """Read/write access to a run folder's store (use as a context manager)."""

    def __init__(self, run_dir: str | os.PathLike[str], *, create: bool = False) -> None:
        path = store_path(run_dir)
        if not create and not path.is_file():
            raise StoreError(f"no gesbench result store in {str(run_dir)!r} ({STORE_NAME})")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30)
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self.db.executescript(SCHEMA)
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(trials)")}
            if "metrics" not in columns:  # a store written before final metrics were kept
                self.db.execute("ALTER TABLE trials ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'")
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{path} is not a gesbench result store: {exc}") from None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def set_meta(self, key: str, value: object) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def meta(self) -> dict[str, object]:
        return {k: json.loads(v) for k, v in self.db.execute("SELECT key, value FROM meta")}

    def finished_ids(self) -> set[str]:
        """Ids of trials that need not run again (done or diverged)."""
        marks = ",".join("?" * len(FINAL_STATUSES))
        query = f"SELECT id FROM trials WHERE status IN ({marks})"
        return {row[0] for row in self.db.execute(query, FINAL_STATUSES)}

    def write(self, result: TrialResult) -> None:
        """Store one trial and its trace atomically (replacing an earlier failed attempt)."""
        s = result.spec
        trial_id = result.trial_id  # a hash of the spec: computed once, not once per row
        trace = np.column_stack([result.trace[c] for c in TRACE_COLUMNS]).astype(object)
        trace[np.isnan(trace.astype(float))] = None  # NaN is stored as NULL
        rows: Iterable[tuple[object, ...]] = ((trial_id, *row) for row in trace.tolist())
        with self.db:
            self.db.execute("DELETE FROM trials WHERE id = ?", (trial_id,))
            self.db.execute(
                "INSERT INTO trials VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    trial_id,
                    s.experiment,
                    s.problem,
                    s.problem_label,
                    s.optimizer,
                    s.label,
                    s.repetition,
                    result.status,
                    result.error,
                    result.started,
                    result.wall_time,
                    result.iterations,
                    result.evaluations,
                    result.gradient_calls,
                    _nullable(result.final_loss),
                    s.to_json(),
                    json.dumps(result.provenance, sort_keys=True),
                    json.dumps(result.metrics, sort_keys=True),
                ),
            )
            marks = ",".join("?" * (len(TRACE_COLUMNS) + 1))
            self.db.executemany(f"INSERT INTO traces VALUES ({marks})", rows)


@contextmanager
def run_lock(run_dir: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """Hold an exclusive lock on a run folder for the duration of a run."""
    path = Path(run_dir) / LOCK_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "w")  # noqa: SIM115 - closed by the with statement below
    except OSError as exc:
        raise StoreError(f"cannot use {str(run_dir)!r} as a run folder: {exc}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StoreError(
                f"another gesbench run is using {str(run_dir)!r}; wait for it to finish"
            ) from None
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
