"""The run folders under a directory, as a table: what ran there, when, how it went."""

from __future__ import annotations

import json
import os
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from gesbench.core.errors import StoreError
from gesbench.store.database import STORE_NAME, connect_readonly

COLUMNS = ["run", "experiment", "last_change", "done", "diverged", "failed", "report"]


def _last_change(run_dir: Path) -> float:
    """When the store last changed (its WAL file holds writes not yet checkpointed)."""
    files = [run_dir / STORE_NAME, run_dir / f"{STORE_NAME}-wal"]
    return max(f.stat().st_mtime for f in files if f.is_file())


def _summary(run_dir: Path) -> dict[str, object]:
    row: dict[str, object] = {"run": str(run_dir)}
    try:
        with closing(connect_readonly(run_dir)) as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            ids = set(json.loads(meta.get("trial_ids", "[]")))
            statuses = [s for i, s in db.execute("SELECT id, status FROM trials") if i in ids]
    except StoreError as exc:
        return {**row, "experiment": f"unreadable: {exc}"}
    changed = _last_change(run_dir)
    report = run_dir / "report.html"
    row["experiment"] = json.loads(meta.get("experiment", "{}")).get("name", "")
    row["last_change"] = datetime.fromtimestamp(changed, UTC).strftime("%Y-%m-%d %H:%M")
    for status in ("done", "diverged", "failed"):
        row[status] = statuses.count(status)
    if not report.is_file():
        row["report"] = "none"
    else:
        row["report"] = "current" if report.stat().st_mtime >= changed else "outdated"
    return row


def list_runs(root: str | os.PathLike[str] = "reports") -> pd.DataFrame:
    """One row per run folder found under ``root`` (any depth): its path, experiment, the time
    its store last changed, the current experiment's trials by status, and whether
    ``report.html`` is ``current``, ``outdated`` (older than the store) or ``none``."""
    stores = sorted(Path(root).rglob(STORE_NAME))
    rows = [_summary(path.parent) for path in stores]
    return pd.DataFrame(rows, columns=COLUMNS)
