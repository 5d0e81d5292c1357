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
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import numpy as np

from gesbench.core.errors import StoreError
from gesbench.spec.trial import IDENTITY_VERSION, TrialSpec
from gesbench.store.record import TRACE_COLUMNS, TrialResult

STORE_NAME = "results.sqlite"
LOCK_NAME = ".gesbench.lock"
FINAL_STATUSES = ("done", "diverged")
SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of a current store. 0: written before versions were kept (trial ids
of identity version 1, perhaps without the ``metrics`` column); 2: ``identity_version``,
``stage`` and ``dim`` columns."""

TABLES = f"""
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
    metrics TEXT NOT NULL DEFAULT '{{}}',
    identity_version INTEGER NOT NULL DEFAULT {IDENTITY_VERSION},
    stage TEXT NOT NULL DEFAULT 'evaluation',
    dim INTEGER
);
CREATE TABLE IF NOT EXISTS traces (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    {", ".join(f"{c} REAL" for c in TRACE_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS traces_trial ON traces(trial_id);
"""

TRIAL_FIELDS = (
    "id", "experiment", "problem", "problem_label", "optimizer", "label", "repetition", "status",
    "error", "started", "wall_time", "iterations", "evaluations", "gradient_calls", "final_loss",
    "spec", "provenance", "metrics", "identity_version", "stage", "dim",
)  # fmt: skip

MIGRATIONS_FROM_0 = (
    # Stores written before versions were kept: their ids hash identity version 1.
    "ALTER TABLE trials ADD COLUMN identity_version INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE trials ADD COLUMN stage TEXT NOT NULL DEFAULT 'evaluation'",
    "ALTER TABLE trials ADD COLUMN dim INTEGER",
)


def store_path(run_dir: str | os.PathLike[str]) -> Path:
    return Path(run_dir) / STORE_NAME


def _nullable(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


def check_schema(db: sqlite3.Connection, path: Path) -> int:
    """The store's schema version; StoreError for a database that is not a gesbench store
    (which is then left untouched) or one written by a newer gesbench."""
    tables = _tables(db)
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if tables and not {"meta", "trials", "traces"} <= tables:
        raise StoreError(
            f"{path} is not a gesbench result store (tables: {', '.join(sorted(tables))}); "
            "move it away or choose another run folder"
        )
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} was written by a newer gesbench (store schema {version}, this one reads "
            f"up to {SCHEMA_VERSION}); upgrade gesbench to use it"
        )
    return version


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring a store to :data:`SCHEMA_VERSION` in one transaction (new stores: create it)."""
    with db:
        fresh = not _tables(db)
        version = check_schema(db, path)
        if fresh:
            for statement in TABLES.split(";"):
                db.execute(statement)
        elif version < SCHEMA_VERSION:
            if "metrics" not in _columns(db, "trials"):  # older still: before final metrics
                db.execute("ALTER TABLE trials ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'")
            for statement in MIGRATIONS_FROM_0:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def connect_readonly(run_dir: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to a run folder's store, checked to be a gesbench store."""
    path = store_path(run_dir)
    if not path.is_file():
        raise StoreError(f"no gesbench result store in {str(run_dir)!r} ({STORE_NAME})")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        check_schema(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path} is not a gesbench result store (or is damaged): {exc}") from None
    except StoreError:
        db.close()
        raise
    return db


class ResultStore:
    """The run folder's store as its single writer sees it (use as a context manager).

    Opening migrates an older store in place (its trials stay readable under their ids).
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, create: bool = False) -> None:
        path = store_path(run_dir)
        if not create and not path.is_file():
            raise StoreError(f"no gesbench result store in {str(run_dir)!r} ({STORE_NAME})")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30)
        try:
            check_schema(self.db, path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            _migrate(self.db, path)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"{path} is not a gesbench result store: {exc}") from None
        except StoreError:
            self.db.close()
            raise

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def set_meta(self, key: str, value: object) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))

    def finished_ids(self) -> set[str]:
        """Ids of trials that need not run again (done or diverged)."""
        marks = ",".join("?" * len(FINAL_STATUSES))
        query = f"SELECT id FROM trials WHERE status IN ({marks})"
        return {row[0] for row in self.db.execute(query, FINAL_STATUSES)}

    def status_counts(self, ids: Iterable[str]) -> Counter[str]:
        """Trials by status among ``ids`` (ids not in the store are not counted)."""
        wanted = set(ids)
        rows = self.db.execute("SELECT id, status FROM trials")
        return Counter(status for trial_id, status in rows if trial_id in wanted)

    def relabel(self, specs: Iterable[TrialSpec]) -> None:
        """Show stored trials under these specs' labels and experiment name.

        A trial's id is its science, so a trial finished under another label (or by another
        experiment in this folder) is re-used as it is; only how it is shown changes.
        """
        rows = [(s.experiment, s.problem_label, s.label, s.to_json(), s.id) for s in specs]
        with self.db:
            self.db.executemany(
                "UPDATE trials SET experiment = ?, problem_label = ?, label = ?, spec = ? "
                "WHERE id = ?",
                rows,
            )

    def write(self, result: TrialResult) -> None:
        """Store one trial and its trace atomically (replacing an earlier failed attempt)."""
        s = result.spec
        trial_id = result.trial_id  # a hash of the spec: computed once, not once per row
        trace = np.column_stack([result.trace[c] for c in TRACE_COLUMNS]).astype(object)
        trace[np.isnan(trace.astype(float))] = None  # NaN is stored as NULL
        rows: Iterable[tuple[object, ...]] = ((trial_id, *row) for row in trace.tolist())
        values = (
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
            IDENTITY_VERSION,
            s.stage,
            result.dim,
        )
        with self.db:
            self.db.execute("DELETE FROM trials WHERE id = ?", (trial_id,))
            self.db.execute(
                f"INSERT INTO trials ({', '.join(TRIAL_FIELDS)}) "
                f"VALUES ({','.join('?' * len(TRIAL_FIELDS))})",
                values,
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
