"""Tidy pandas views of a run folder's store, and export to CSV / Parquet."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gesbench.core.errors import GesbenchError, StoreError
from gesbench.spec.trial import IDENTITY_VERSION, TrialSpec
from gesbench.store.database import connect_readonly, store_path
from gesbench.store.record import TRACE_COLUMNS
from gesbench.store.tuning import selected_settings, with_roles

if TYPE_CHECKING:  # pandas is imported where used: a worker process never needs it
    import pandas as pd

TRIAL_COLUMNS = [
    "id", "experiment", "problem", "problem_label", "optimizer", "label", "repetition",
    "status", "error", "started", "wall_time", "iterations", "evaluations", "gradient_calls",
    "final_loss",
]  # fmt: skip
TRIAL_ORDER = ["problem_label", "label", "repetition"]
"""How load_results orders the trials (the first error of a failure group is its first's)."""
LATER_COLUMNS = {
    # column: how to read it from a store written before it existed (read-only, so unmigrated)
    "metrics": "'{}'",
    "identity_version": "1",
    "stage": "'evaluation'",
    "dim": "NULL",
}


class Results(NamedTuple):
    """``trials``: one row per trial (spec and provenance as JSON text columns, and a
    ``final_NAME`` column per final metric a problem reports, e.g. ``final_accuracy``;
    ``role`` is ``tuning`` or ``evaluation``). ``traces``: one row per logged point, with the
    trial's identifying columns joined in. ``selected``: the settings a tuning stage selected,
    one row per problem and tuned method (empty without tuning)."""

    trials: pd.DataFrame
    traces: pd.DataFrame
    selected: pd.DataFrame  # a tuning stage's selected settings (gesbench.store.tuning)


@contextmanager
def _reading(run_dir: str | os.PathLike[str]) -> Iterator[sqlite3.Connection]:
    """A checked read-only connection; a store that turns out unreadable midway (a damaged
    page, a value that is not what gesbench wrote) raises StoreError naming the file."""
    import pandas as pd

    path = store_path(run_dir)
    with closing(connect_readonly(run_dir)) as db:
        try:
            yield db
        except (sqlite3.DatabaseError, pd.errors.DatabaseError, json.JSONDecodeError) as exc:
            raise StoreError(
                f"{path} could not be read ({type(exc).__name__}: {exc}); it is damaged or was "
                "not written by gesbench. Move it away (keep it if it may be recoverable: "
                f"sqlite3 {path} .recover) and run the experiment again to start afresh"
            ) from None


def read_meta(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The store's meta table: 'experiment' (the spec last run into the folder), 'trial_ids'
    (its trials), 'components' (what the run's problems and optimizers declared)."""
    with _reading(run_dir) as db:
        return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}


def legacy_trials(run_dir: str | os.PathLike[str]) -> int:
    """How many stored trials have ids of an older trial identity (0 without a store): they
    stay readable but a run never re-uses them, since their seeds were derived differently."""
    if not store_path(run_dir).is_file():
        return 0
    with _reading(run_dir) as db:
        if "identity_version" not in {row[1] for row in db.execute("PRAGMA table_info(trials)")}:
            return int(db.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
        query = "SELECT COUNT(*) FROM trials WHERE identity_version != ?"
        return int(db.execute(query, (IDENTITY_VERSION,)).fetchone()[0])


def load_results(
    run_dir: str | os.PathLike[str],
    *,
    all_trials: bool = False,
    ids: Collection[str] | None = None,
) -> Results:
    """Load a run folder's trials and traces as tidy DataFrames.

    By default only the trials of the experiment last run into the folder are returned (a
    folder re-used with, say, a smaller ``--budget`` keeps the older trials too); pass
    ``all_trials=True`` for everything in the store, including trials of an older gesbench
    (``identity_version`` 1), which are kept but never re-used. Failed trials are always
    included, with their error: filter on ``status`` rather than losing them silently.
    ``ids`` keeps only the trials with these ids (of those selected so), and reads only their
    traces.
    """
    import pandas as pd

    if isinstance(ids, str):  # would be taken as the set of its characters
        raise TypeError(f"ids: expected a collection of trial ids, got the string {ids!r}")
    with _reading(run_dir) as db:
        trials, meta = _stored_trials(db, all_trials)
        if ids is not None:
            trials = trials[trials["id"].isin(set(ids))]
        traces = _read_traces(db, set(trials["id"]), indexed=ids is not None)
    trials["dim"] = trials["dim"].astype("Int64")
    finals = _final_metrics(trials.pop("metrics"))
    trials = pd.concat([trials, finals.add_prefix("final_")], axis=1)
    trials = with_roles(trials, meta.get("tuning"))  # role: tuning / evaluation
    trials = pd.concat([trials, _spec_columns(trials["spec"])], axis=1)
    trials["final_excess_loss"] = (
        trials["id"].map(traces.groupby("trial_id", sort=False)["excess_loss"].last()).astype(float)
    )
    trials = trials.sort_values(TRIAL_ORDER).reset_index(drop=True)
    return Results(
        trials, _with_trial_columns(traces, trials), selected_settings(meta.get("tuning"))
    )


def _with_trial_columns(traces: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """``traces`` with each row's trial's identifying columns, joined as an inner merge on the
    trial id would (a trial listed under several labels, a shared evaluation trial, has its
    rows once per label) but without the merge's copy of the whole table: only the row
    numbers are merged."""
    import numpy as np
    import pandas as pd

    pairs = pd.DataFrame({"trial_id": traces["trial_id"], "row": np.arange(len(traces))}).merge(
        pd.DataFrame({"trial_id": trials["id"].to_numpy(), "trial": np.arange(len(trials))}),
        on="trial_id",
    )  # in the order of the trace rows
    if len(pairs) != len(traces):  # rows repeated for shared trials (or of no listed trial)
        traces = traces.take(pairs["row"].to_numpy()).reset_index(drop=True)
    for key in ["problem_label", "label", "optimizer", "repetition", "status", "role"]:
        traces[key] = trials[key].take(pairs["trial"].to_numpy()).set_axis(traces.index)
    return traces


def _stored_trials(db: sqlite3.Connection, all_trials: bool) -> tuple[pd.DataFrame, dict[str, str]]:
    """The trials table as stored (the last run's trials unless ``all_trials``; columns added
    by later schemas filled in) and the store's meta table."""
    import pandas as pd

    stored = {row[1] for row in db.execute("PRAGMA table_info(trials)")}
    later = [
        f"t.{c}" if c in stored else f"{default} AS {c}" for c, default in LATER_COLUMNS.items()
    ]
    columns = ", ".join([f"t.{c}" for c in TRIAL_COLUMNS] + later)
    if "provenance_id" in stored:  # schema 3: each distinct value once, in its own table
        provenance = "COALESCE(p.value, t.provenance) AS provenance"
        source = "trials t LEFT JOIN provenance p ON p.id = t.provenance_id"
    else:
        provenance, source = "t.provenance", "trials t"
    trials = pd.read_sql_query(
        f"SELECT {columns}, t.spec, {provenance} FROM {source}", db, dtype={"final_loss": float}
    )
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if not all_trials and "trial_ids" in meta:
        trials = trials[trials["id"].isin(json.loads(meta["trial_ids"]))]
    return trials, meta


TRACE_CHUNK = 250_000
"""Trace rows read at once. All at once, SQLite's rows as Python objects took three times the
memory of the table they make (1.5 GB at the peak for 2 million rows)."""


def _read_traces(db: sqlite3.Connection, ids: set[str], indexed: bool) -> pd.DataFrame:
    """The traces of the trials ``ids``, in the order stored, read in chunks. ``indexed``
    (a few of the store's trials, as ``load_results(ids=...)`` asks) looks them up through
    the trial-id index; otherwise the table is scanned, which is faster for most of it."""
    import pandas as pd

    query = "SELECT * FROM traces"
    params: tuple[str, ...] = ()
    if indexed:
        query += " WHERE trial_id IN (SELECT value FROM json_each(?)) ORDER BY rowid"
        params = (json.dumps(sorted(ids)),)

    def chunks(query: str, params: tuple[str, ...]) -> list[pd.DataFrame]:
        return [  # (an empty result gives one empty chunk, with the columns)
            chunk[chunk["trial_id"].isin(ids)]
            for chunk in pd.read_sql_query(
                query,
                db,
                params=params,
                # a column NULL throughout (no f*, no true gradient) would load as objects
                dtype=dict.fromkeys(TRACE_COLUMNS, float),
                chunksize=TRACE_CHUNK,
            )
        ]

    try:
        found = chunks(query, params)
    except pd.errors.DatabaseError as exc:
        if "json_each" not in str(exc):
            raise
        found = chunks("SELECT * FROM traces", ())  # an SQLite built without JSON functions
    return pd.concat(found, ignore_index=True)


LOSS_COLUMNS = ("final_loss", "final_excess_loss")


def metric_columns(trials: pd.DataFrame) -> list[str]:
    """The ``final_NAME`` columns of ``trials`` that hold a problem's final metrics (e.g.
    ``final_accuracy``), as opposed to its final loss."""
    return [c for c in trials.columns if c.startswith("final_") and c not in LOSS_COLUMNS]


def _spec_columns(specs: pd.Series) -> pd.DataFrame:
    """Each trial's parameters as columns (``problem.n``, ``optimizer.lr``, ...), so a reader
    can group on them, and its seed material (``seed_instance``, ``seed_trial``: the entropy
    of its problem-instance stream and of its own streams)."""
    import pandas as pd

    rows = []
    for text in specs:
        data = json.loads(text)
        row = {f"problem.{k}": v for k, v in data["problem_params"].items()}
        row |= {f"optimizer.{k}": v for k, v in data["optimizer_params"].items()}
        if data.get("version") == IDENTITY_VERSION:  # older trials' seeds came from elsewhere
            material = TrialSpec.from_dict(data).seed_material()
            row |= {"seed_instance": material["instance"], "seed_trial": material["trial"]}
        rows.append(row)
    columns = pd.DataFrame(rows, index=specs.index)
    for name in ("seed_instance", "seed_trial"):
        if name not in columns:
            columns[name] = None
    return columns


def _final_metrics(column: pd.Series) -> pd.DataFrame:
    """The stored final metrics as float columns. Whatever a store holds (a value an older
    gesbench let through, text that is not JSON) becomes NaN for that trial only, never an
    error for the whole store."""
    import pandas as pd

    rows = []
    for text in column:
        try:
            value = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            value = {}
        rows.append(value if isinstance(value, dict) else {})
    frame = pd.DataFrame(rows, index=column.index)
    return frame.apply(pd.to_numeric, errors="coerce").astype(float)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What makes a spreadsheet read a CSV text cell as a formula (OWASP's list)."""


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy in which every text cell that a spreadsheet would run as a formula (one starting
    with ``=``, ``+``, ``-``, ``@``, tab or carriage return) starts with ``'`` instead; numbers,
    negative ones included, are never touched."""
    import pandas as pd

    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype != object and not pd.api.types.is_string_dtype(values.dtype):
            continue
        risky = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if risky.any():
            out[column] = values.astype(object).where(~risky, "'" + values.astype(str))
    return out


def export(
    run_dir: str | os.PathLike[str], fmt: str = "csv", *, all_trials: bool = False
) -> list[Path]:
    """Write ``trials`` and ``traces`` tables next to the store; return the paths written.

    Like :func:`load_results`, only the trials of the experiment last run into the folder by
    default; ``all_trials=True`` exports every stored trial. In CSV, text cells that a
    spreadsheet would run as formulas are neutralised (see :func:`neutralise_formulas`).
    """
    if fmt not in ("csv", "parquet"):
        raise GesbenchError(f"unknown export format {fmt!r}; choose csv or parquet")
    folder = Path(run_dir)
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):  # e.g. read-only media
        raise GesbenchError(
            f"cannot write into {str(run_dir)!r} (read-only); exports are written into the run "
            "folder, so copy the folder somewhere writable to export it"
        )
    results = load_results(run_dir, all_trials=all_trials)
    written = []
    for name, frame in results._asdict().items():
        target = Path(run_dir) / f"{name}.{fmt}"
        try:
            if fmt == "csv":
                neutralise_formulas(frame).to_csv(target, index=False)
            else:
                frame.to_parquet(target, index=False)
        except OSError as exc:
            raise GesbenchError(
                f"cannot write {target}: {exc.strerror or exc}; exports are written into the "
                "run folder, so copy the folder somewhere writable to export it"
            ) from None
        written.append(target)
    return written


@dataclass(frozen=True)
class FailureGroup:
    """Failed trials of one problem and method: how many, and the first line of one's error."""

    problem_label: str
    label: str
    count: int
    error: str


def failure_groups(run_dir: str | os.PathLike[str]) -> list[FailureGroup]:
    """The failed trials of the experiment last run into the folder, grouped by problem and
    method (largest groups first), each with the first line of its first error."""
    with _reading(run_dir) as db:  # (not load_results: the traces are not needed)
        trials, meta = _stored_trials(db, all_trials=False)
    # as load_results lists them: a shared evaluation trial under each of its labels
    trials = with_roles(trials, meta.get("tuning")).sort_values(TRIAL_ORDER)
    failed = trials[trials["status"] == "failed"]
    groups = [
        FailureGroup(str(problem), str(label), len(group), _first_line(group["error"].iloc[0]))
        for (problem, label), group in failed.groupby(["problem_label", "label"], sort=True)
    ]
    return sorted(groups, key=lambda g: -g.count)


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines() if isinstance(error, str) else []
    return lines[0] if lines else "(no error text)"
