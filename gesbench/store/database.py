"""The result store: one SQLite file per run folder, written only by the driver process.

Finished trials (done, failed or diverged) are written with their traces as soon as the driver
has them: the trials that finished together in one transaction (:meth:`ResultStore.write_many`;
the driver never holds one back to fill a batch), so a killed driver loses only trials it had
not received yet, which run again on resume. Re-running skips trials that are done or diverged
(deterministic outcomes) and retries failed ones, replacing their rows.

The store is in WAL mode with ``synchronous=NORMAL``: a commit is not flushed to disk on its
own (that took milliseconds per trial, more than a small trial runs), but it is in the
write-ahead log before the write returns, so it survives the driver being killed; only an
operating-system crash or power cut can lose the last commits, and never corrupts the store.

Provenance (package versions, git commit, host, platform) is kept once per distinct value in
the ``provenance`` table, referenced by each trial (schema 3); the reader joins it back.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO
from urllib.parse import quote

import numpy as np

from gesbench.core.errors import StoreError
from gesbench.spec.trial import IDENTITY_VERSION, TrialSpec
from gesbench.store.record import TRACE_COLUMNS, TrialResult, clean_metrics

STORE_NAME = "results.sqlite"
APPLICATION_ID = 0x47455342
"""``PRAGMA application_id`` of stores gesbench creates ("GESB"; 0 in older stores)."""
LOCK_NAME = ".gesbench.lock"
FINAL_STATUSES = ("done", "diverged")
SCHEMA_VERSION = 3
"""``PRAGMA user_version`` of a current store. 0: written before versions were kept (trial ids
of identity version 1, perhaps without the ``metrics`` column); 2: ``identity_version``,
``stage`` and ``dim`` columns; 3: the ``provenance`` table, referenced by
``trials.provenance_id`` (the ``trials.provenance`` text is then empty; trials written before
keep theirs there)."""

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
    dim INTEGER,
    provenance_id INTEGER REFERENCES provenance(id)
);
CREATE TABLE IF NOT EXISTS provenance (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS traces (
    trial_id TEXT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
    {", ".join(f"{c} REAL" for c in TRACE_COLUMNS)}
);
CREATE INDEX IF NOT EXISTS traces_trial ON traces(trial_id);
"""

TRIAL_FIELDS = (
    "id", "experiment", "problem", "problem_label", "optimizer", "label", "repetition", "status",
    "error", "started", "wall_time", "iterations", "evaluations", "gradient_calls", "final_loss",
    "spec", "provenance", "metrics", "identity_version", "stage", "dim", "provenance_id",
)  # fmt: skip

MIGRATIONS_FROM_0 = (
    # Stores written before versions were kept: their ids hash identity version 1.
    "ALTER TABLE trials ADD COLUMN identity_version INTEGER NOT NULL DEFAULT 1",
    "ALTER TABLE trials ADD COLUMN stage TEXT NOT NULL DEFAULT 'evaluation'",
    "ALTER TABLE trials ADD COLUMN dim INTEGER",
)
MIGRATIONS_FROM_2 = (
    # Provenance once per distinct value; older trials keep their text in trials.provenance.
    "CREATE TABLE IF NOT EXISTS provenance (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)",
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
    application = int(db.execute("PRAGMA application_id").fetchone()[0])
    foreign = (tables and not {"meta", "trials", "traces"} <= tables) or (
        application not in (0, APPLICATION_ID) or (not tables and version)
    )
    if foreign:
        listed = ", ".join(sorted(tables)) or "none"
        raise StoreError(
            f"{path} is an SQLite database but not a gesbench result store (tables: {listed}); "
            "gesbench leaves it untouched: move it away, or choose another run folder (--out)"
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
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif version < SCHEMA_VERSION:
            if version < 2:
                if "metrics" not in _columns(db, "trials"):  # older still: before final metrics
                    db.execute("ALTER TABLE trials ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}'")
                for statement in MIGRATIONS_FROM_0:
                    db.execute(statement)
            for statement in MIGRATIONS_FROM_2:
                db.execute(statement)
            if "provenance_id" not in _columns(db, "trials"):
                db.execute(
                    "ALTER TABLE trials ADD COLUMN provenance_id INTEGER REFERENCES provenance(id)"
                )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _unreadable(path: Path, exc: BaseException) -> StoreError:
    """The error for a store SQLite cannot read: garbage, truncated, or not SQLite at all."""
    return StoreError(
        f"{path} is not a readable gesbench result store ({exc}): it is damaged (truncated, "
        "overwritten) or not an SQLite database. Move it away (keep it if it may be "
        f"recoverable: sqlite3 {path} .recover) and run the experiment again to start afresh, "
        "or choose another run folder (--out)"
    )


def _damaged(path: Path, problem: str) -> StoreError:
    return StoreError(
        f"{path} is damaged (SQLite integrity check: {problem}). Move it away (keep it if it "
        f"may be recoverable: sqlite3 {path} .recover) and run the experiment again to start "
        "afresh, or choose another run folder (--out)"
    )


_CHECKED: set[tuple[str, int, int, int]] = set()
"""Stores found intact in this process, by (path, mtime, size, WAL size): checked once."""


def _stamp(path: Path) -> tuple[str, int, int, int]:
    stat = path.stat()
    wal = Path(f"{path}-wal")
    wal_size = wal.stat().st_size if wal.exists() else -1
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size, wal_size)


def _check_store(db: sqlite3.Connection, path: Path) -> int:
    """Schema version of an opened store: StoreError when it is foreign, newer, unreadable or
    fails ``PRAGMA quick_check`` (run once per version of the file in a process)."""
    try:
        version = check_schema(db, path)
        stamp = _stamp(path)
        if stamp not in _CHECKED:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                found = "; ".join(" ".join(p.split()) for p in problems)
                raise _damaged(path, found if len(found) < 300 else found[:297] + "...")
            _CHECKED.add(stamp)
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from None
    return version


def _sidecars(path: Path) -> tuple[Path, Path]:
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def _close_refused(db: sqlite3.Connection, path: Path, existed: tuple[bool, bool]) -> None:
    """Close a connection to a store being refused, and remove the empty write-ahead log and
    shared-memory files that merely opening it (a WAL-mode file) created, so that a refused
    file is left exactly as it was found."""
    db.close()
    wal, shm = _sidecars(path)
    if not existed[0] and wal.is_file() and wal.stat().st_size == 0:
        wal.unlink(missing_ok=True)
        if not existed[1]:
            shm.unlink(missing_ok=True)


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def connect_readonly(run_dir: str | os.PathLike[str]) -> sqlite3.Connection:
    """A read-only connection to a run folder's store, checked to be an intact gesbench store.

    In a folder this process cannot write (read-only media, another user's run) the store is
    opened with ``immutable=1``, since SQLite cannot create the lock files it otherwise needs;
    trials still in an unmerged write-ahead log (a run killed there) are then not seen, which
    a warning says.
    """
    path = store_path(run_dir)
    if not path.is_file():
        raise StoreError(f"no gesbench result store in {str(run_dir)!r} ({STORE_NAME})")
    query = "mode=ro"
    wal, shm = _sidecars(path)
    if not _writable(path.parent):
        query += "&immutable=1"
        if wal.is_file() and wal.stat().st_size > 0:
            warnings.warn(
                f"{path.parent} is read-only and its store has an unmerged write-ahead log "
                f"({wal.name}, {wal.stat().st_size} bytes): the trials in it are not shown. "
                "Copy the folder to writable storage to see them.",
                stacklevel=3,
            )
    existed = (wal.exists(), shm.exists())
    try:
        db = sqlite3.connect(f"file:{quote(str(path))}?{query}", uri=True)
    except sqlite3.DatabaseError as exc:
        raise _unreadable(path, exc) from None
    try:
        _check_store(db, path)
        if not _tables(db):
            raise StoreError(
                f"{path} is an empty database: the run that created it stored nothing (it "
                "stopped before its first trial?); run the experiment into this folder again"
            )
    except sqlite3.DatabaseError as exc:
        _close_refused(db, path, existed)
        raise _unreadable(path, exc) from None
    except StoreError:
        _close_refused(db, path, existed)
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
        existed = path.is_file()
        sidecars = (Path(f"{path}-wal").exists(), Path(f"{path}-shm").exists())
        try:
            self.db = sqlite3.connect(path, timeout=30)
        except sqlite3.DatabaseError as exc:
            raise _unreadable(path, exc) from None
        try:
            if existed:
                _check_store(self.db, path)  # before anything could write to it
            else:
                check_schema(self.db, path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
            self.db.execute("PRAGMA foreign_keys=ON")
            _migrate(self.db, path)
        except sqlite3.DatabaseError as exc:
            _close_refused(self.db, path, sidecars)
            raise _unreadable(path, exc) from None
        except StoreError:
            _close_refused(self.db, path, sidecars)
            raise
        self._provenance_ids: dict[str, int] = {}  # provenance text -> its row, as written

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
        """Store one trial and its trace atomically (see :meth:`write_many`)."""
        self.write_many([result])

    def write_many(self, results: Iterable[TrialResult]) -> None:
        """Store finished trials and their traces in one transaction (replacing earlier failed
        attempts): all of them, or none if it is interrupted.

        Final metrics that are not numbers (a plugin's bug, caught here if its worker did not
        catch it) make that trial failed, with the reason, rather than stop the run.
        """
        latest = {r.trial_id: r for r in results}  # one row per id, the last result wins
        if not latest:
            return
        trials: list[tuple[object, ...]] = []
        traces: list[tuple[object, ...]] = []
        try:
            with self.db:
                for trial_id, result in latest.items():
                    trials.append(self._row(trial_id, result))
                    traces += self._trace_rows(trial_id, result)
                self.db.executemany(
                    "DELETE FROM trials WHERE id = ?", [(trial_id,) for trial_id in latest]
                )
                self.db.executemany(INSERT_TRIAL, trials)
                self.db.executemany(INSERT_TRACE, traces)
        except BaseException:
            self._provenance_ids.clear()  # rows added in the transaction are gone with it
            raise

    def _row(self, trial_id: str, result: TrialResult) -> tuple[object, ...]:
        try:
            metrics = clean_metrics(result.metrics, f"{result.spec.problem}: final_metrics()")
        except TypeError as exc:
            metrics = {}
            result = replace(result, status="failed", error=f"TypeError: {exc}")
        s = result.spec
        return (
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
            "",  # the provenance is in its own table (schema 3)
            json.dumps(metrics, sort_keys=True),
            IDENTITY_VERSION,
            s.stage,
            result.dim,
            self._provenance_id(result.provenance),
        )

    def _provenance_id(self, provenance: dict[str, object]) -> int:
        """The provenance table's row for this value, added when new (inside the caller's
        transaction)."""
        text = json.dumps(provenance, sort_keys=True)
        row = self._provenance_ids.get(text)
        if row is None:
            self.db.execute("INSERT OR IGNORE INTO provenance (value) VALUES (?)", (text,))
            query = "SELECT id FROM provenance WHERE value = ?"
            row = int(self.db.execute(query, (text,)).fetchone()[0])
            self._provenance_ids[text] = row
        return row

    @staticmethod
    def _trace_rows(trial_id: str, result: TrialResult) -> list[tuple[object, ...]]:
        # Plain floats; SQLite itself stores a NaN as NULL.
        columns = [np.asarray(result.trace[c], dtype=float).tolist() for c in TRACE_COLUMNS]
        return [(trial_id, *row) for row in zip(*columns, strict=True)]


INSERT_TRIAL = (
    f"INSERT INTO trials ({', '.join(TRIAL_FIELDS)}) VALUES ({','.join('?' * len(TRIAL_FIELDS))})"
)
INSERT_TRACE = f"INSERT INTO traces VALUES ({','.join('?' * (len(TRACE_COLUMNS) + 1))})"


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
