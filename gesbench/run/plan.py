"""What a run would do, without doing it: ``gesbench run SPEC --dry-run``.

:func:`plan_run` reads the run folder's store (read-only; nothing is run, nothing is written,
no folder is created) and says, per stage, problem and method, how many trials the spec has,
how many are finished (done or diverged: skipped), how many failed (retried) and how many are
new, and estimates the time the remaining ones take from the store's own timings.

With a tuning stage the plan follows the run exactly as far as the store allows: the tuning
trials of the first rung are known from the spec; a later rung's trials and the evaluation
trials of tuned methods depend on results not in the store yet, so they are counted (their
number is fixed by the schedule) but marked pending, as trials to run.

The estimate is the median, over the store's finished trials of the same problem and method,
of wall time per unit of budget, times each remaining trial's budget; where a problem and
method has no finished trial yet, the median over every finished trial in the store; none at
all without finished trials.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import warnings
from collections.abc import Generator, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from gesbench.core.errors import StoreError
from gesbench.run.progress import duration
from gesbench.run.tuning import run_tuning
from gesbench.spec.experiment import Experiment
from gesbench.spec.filters import TUNING_MARK, Selection, entry_label
from gesbench.spec.trial import TrialSpec
from gesbench.store.database import (
    FINAL_STATUSES,
    ResultStore,
    connect_readonly,
    run_lock,
    store_path,
)
from gesbench.store.record import TrialResult

PLAN_COLUMNS = [
    "stage", "problem_label", "label", "trials", "done", "failed", "new", "pending", "rerun",
    "to_run", "estimate",
]  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """A dry run's answer: one row per stage, problem and method (:data:`PLAN_COLUMNS`;
    ``estimate`` in seconds, NaN without timings), the specs of the trials known exactly,
    and how the estimate was made."""

    experiment: Experiment
    run_dir: Path
    rows: pd.DataFrame
    known: list[TrialSpec] = field(default_factory=list)
    stored_status: dict[str, str] = field(default_factory=dict)
    chosen_ids: list[str] = field(default_factory=list)
    basis: str = ""
    selection: Selection = field(default_factory=Selection)

    @property
    def to_run(self) -> int:
        return int(self.rows["to_run"].sum())

    @property
    def estimate(self) -> float:
        """Seconds of trial time the remaining trials take (NaN when unknown)."""
        values = self.rows.loc[self.rows["to_run"] > 0, "estimate"]
        return float(values.sum(min_count=1)) if len(values) else 0.0

    def rerun_ids(self) -> list[str]:
        """Stored trials of the plan's selection that ``--rerun`` discards (done, diverged
        or failed), pending ones included: those the store's results give now."""
        return [i for i in self.chosen_ids if i in self.stored_status]


@contextmanager
def _snapshot(run_dir: Path) -> Iterator[Path]:
    """A temporary folder holding a private copy of the run folder's store (an empty store
    when there is none), made with SQLite's backup from a read-only connection: the dry run
    reads and replays on the copy, and the run folder is never written (without a write-ahead
    log beside the store, the source is opened as immutable, so SQLite creates no side file
    there either)."""
    source = store_path(run_dir)
    with tempfile.TemporaryDirectory(prefix="gesbench-dry-run-") as folder:
        copy = store_path(folder)
        if not source.is_file():
            ResultStore(folder, create=True).close()
            yield Path(folder)
            return
        query = "mode=ro" if Path(f"{source}-wal").exists() else "mode=ro&immutable=1"
        try:
            with (
                closing(
                    sqlite3.connect(f"file:{quote(str(source.resolve()))}?{query}", uri=True)
                ) as reader,
                closing(sqlite3.connect(copy)) as writer,
            ):
                reader.backup(writer)
            connect_readonly(folder).close()  # the store's own checks, on the copy
        except (sqlite3.DatabaseError, StoreError) as exc:
            message = str(exc).replace(str(copy), str(source)).replace(folder, str(run_dir))
            raise StoreError(message) from None
        yield Path(folder)


def _stored(run_dir: Path) -> pd.DataFrame:
    """Every trial in the store: id, status, wall time, problem label, entry label, stage and
    budget limit."""
    columns = ["id", "status", "wall_time", "problem_label", "label", "stage", "limit"]
    with closing(connect_readonly(run_dir)) as db:
        names = {row[1] for row in db.execute("PRAGMA table_info(trials)")}
        stage = "stage" if "stage" in names else "'evaluation' AS stage"
        rows = db.execute(
            f"SELECT id, status, wall_time, problem_label, label, {stage}, spec FROM trials"
        ).fetchall()
    out = []
    for trial_id, status, wall, problem_label, label, stage_name, spec in rows:
        try:
            limit = float(json.loads(spec)["budget"]["limit"])
        except (ValueError, KeyError, TypeError):
            limit = np.nan
        if stage_name == "tuning" and TUNING_MARK in label:
            label = label.rsplit(TUNING_MARK, 1)[0]
        out.append((trial_id, status, wall, problem_label, label, stage_name, limit))
    return pd.DataFrame(out, columns=columns)


class _Rates:
    """Seconds per budget unit: by (problem, method) where the store has finished trials of
    it, else over every finished trial (None: no timings)."""

    def __init__(self, stored: pd.DataFrame) -> None:
        finished = stored[stored["status"].isin(FINAL_STATUSES)]
        rate = finished["wall_time"].astype(float) / finished["limit"].astype(float)
        finished = finished.assign(rate=rate)
        finished = finished[np.isfinite(finished["rate"])]
        self.by_pair = finished.groupby(["problem_label", "label"])["rate"].median().to_dict()
        self.overall = float(finished["rate"].median()) if len(finished) else None
        self.pairs_used: set[tuple[str, str]] = set()
        self.fallbacks = 0

    def seconds(self, problem_label: str, label: str, limit: float, count: int) -> float:
        if count == 0:
            return 0.0
        rate = self.by_pair.get((problem_label, label))
        if rate is None:
            if self.overall is None:
                return float("nan")
            rate = self.overall
            self.fallbacks += count
        return float(rate * limit * count)

    def basis(self) -> str:
        if self.overall is None:
            return "no time estimate: the store has no finished trial to time"
        text = (
            "timed by the median wall time per budget unit of the folder's finished trials of "
            "the same problem and method"
        )
        if self.fallbacks:
            text += (
                f"; {self.fallbacks} trial(s) of problems and methods without any, by that of "
                "all its finished trials"
            )
        return text


def _nothing(trials: list[TrialSpec]) -> Generator[list[TrialResult], None, None]:
    """An executor that runs nothing."""
    yield from ()


def _replay_tuning(experiment: Experiment, copy: Path) -> tuple[dict[str, Any], list[TrialSpec]]:
    """The tuning record and the evaluation trials :func:`run_tuning` gives with the store as
    it is (trials not in it count as failed), replayed on the private copy, running nothing."""
    with warnings.catch_warnings(), ResultStore(copy) as store:
        warnings.simplefilter("ignore")
        outcome = run_tuning(experiment, store, copy, _nothing, progress=False)
    return outcome.record, outcome.evaluation


def _counts(statuses: list[str | None]) -> tuple[int, int, int]:
    """(finished, failed, new) among stored statuses (None: not stored)."""
    done = sum(s in FINAL_STATUSES for s in statuses)
    failed = sum(s == "failed" for s in statuses)
    return done, failed, len(statuses) - done - failed


def plan_run(
    experiment: Experiment,
    run_dir: str | os.PathLike[str],
    *,
    only: Selection | None = None,
    rerun: bool = False,
) -> Plan:
    """What ``run_experiment(experiment, run_dir, only=only)`` would run (see the module
    docstring); with ``rerun``, the chosen trials already stored count as trials to run
    again. Reads the store only."""
    run_dir = Path(run_dir)
    selection = only or Selection()
    selection.resolve(experiment)  # a pattern that matches nothing: an error before any work
    with _snapshot(run_dir) as copy:
        return _plan(experiment, run_dir, copy, selection, rerun)


def _plan(
    experiment: Experiment, run_dir: Path, copy: Path, selection: Selection, rerun: bool
) -> Plan:
    chosen = selection.resolve(experiment)
    stored = _stored(copy)
    status = dict(zip(stored["id"], stored["status"], strict=True))
    rates = _Rates(stored)
    rows: list[dict[str, Any]] = []
    known: list[TrialSpec] = []  # the chosen trials whose ids are certain
    candidates: list[TrialSpec] = []  # and those whose ids the stored results give for now
    if experiment.tuning is None:
        evaluation = [t for t in experiment.trials() if chosen.keeps(t)]
        rows += _rows("evaluation", evaluation, status, rerun, rates)
        known += evaluation
    else:
        record, replayed = _replay_tuning(experiment, copy)
        trials = _tuning_specs(experiment, record)
        assert experiment.tuning is not None
        shared = experiment.tuning.scope == "shared"

        def group(t: TrialSpec) -> tuple[str, str]:
            """Whose tuning results a trial's settings depend on: its method's on its problem
            (on every problem for the shared scope)."""
            return (entry_label(t), "" if shared else t.problem_label)

        waiting: set[tuple[str, str]] = set()  # groups with tuning results not stored yet
        rungs = len(record["schedule"])
        stages = [
            (
                "tuning" if rungs == 1 else f"tuning rung {r + 1}/{rungs}",
                [trials[t["id"]] for t in record["trials"] if int(t["rung"]) == r],
            )
            for r in range(rungs)
        ]
        for stage, specs in [*stages, ("evaluation", replayed)]:
            members = [t for t in specs if chosen.keeps(t)]
            certain = [t for t in members if group(t) not in waiting]
            known += certain
            candidates += [t for t in members if group(t) in waiting]
            rows += _rows(stage, certain, status, rerun, rates)
            rows += _rows(stage, [t for t in members if group(t) in waiting], status, rerun,
                          rates, pending=True)  # fmt: skip
            waiting |= {
                group(t) for t in members if rerun or status.get(t.id) not in FINAL_STATUSES
            }
    frame = pd.DataFrame(rows, columns=PLAN_COLUMNS)
    if len(frame):  # in the spec's order of problems and methods, within each stage
        order = _order(experiment)
        order["stage"] = {stage: i for i, stage in enumerate(dict.fromkeys(frame["stage"]))}
        frame = frame.sort_values(
            ["stage", "problem_label", "label"],
            key=lambda column: column.map(order[str(column.name)]),
            kind="stable",
            ignore_index=True,
        )
    chosen_ids = [t.id for t in [*known, *candidates]]
    return Plan(experiment, run_dir, frame, known, status, chosen_ids, rates.basis(), selection)


def _order(experiment: Experiment) -> dict[str, dict[str, int]]:
    return {
        "problem_label": {p.label: i for i, p in enumerate(experiment.problems)},
        "label": {o.label: i for i, o in enumerate(experiment.optimizers)},
    }


def _rows(
    stage: str,
    specs: list[TrialSpec],
    status: dict[str, str],
    rerun: bool,
    rates: _Rates,
    *,
    pending: bool = False,
) -> list[dict[str, Any]]:
    """One row per problem and method of ``specs``. Pending trials (their ids depend on
    results not stored yet) all count as trials to run."""
    groups: dict[tuple[str, str], list[TrialSpec]] = {}
    for spec in specs:
        groups.setdefault((spec.problem_label, entry_label(spec)), []).append(spec)
    rows = []
    for (problem_label, label), members in groups.items():
        n = len(members)
        if pending:
            done, failed, new, waiting, again = 0, 0, 0, n, 0
            running = members
        else:
            done, failed, new = _counts([status.get(t.id) for t in members])
            waiting, again = 0, done if rerun else 0
            running = [t for t in members if rerun or status.get(t.id) not in FINAL_STATUSES]
        seconds = sum(rates.seconds(problem_label, label, t.budget.limit, 1) for t in running)
        rows.append(
            _row(
                stage,
                problem_label,
                label,
                n,
                done,
                failed,
                new,
                waiting,
                again,
                len(running),
                seconds,
            )
        )
    return rows


def _row(*values: Any) -> dict[str, Any]:
    return dict(zip(PLAN_COLUMNS, values, strict=True))


def _tuning_specs(experiment: Experiment, record: dict[str, Any]) -> dict[str, TrialSpec]:
    """The spec of every tuning trial in ``record``, by id (for ``--rerun``)."""
    from gesbench.spec.tuning import rung_budget, tuning_trial

    out = {}
    fractions = {int(r["rung"]): float(r["fraction"]) for r in record["schedule"]}
    for t in record["trials"]:
        problem = next(p for p in experiment.problems if p.label == t["problem_label"])
        entry = experiment.optimizers[int(t["entry"])]
        budget = rung_budget(experiment.budget, fractions[int(t["rung"])])
        spec = tuning_trial(experiment, problem, entry, t["params"], int(t["repetition"]), budget)
        out[spec.id] = spec
    return out


def discard(run_dir: str | os.PathLike[str], ids: Iterable[str]) -> int:
    """Delete these trials (and their traces) from the run folder's store, under the run lock,
    so that the next run runs them again (``gesbench run --rerun``); returns how many."""
    wanted = list(dict.fromkeys(ids))
    if not wanted or not store_path(run_dir).is_file():
        return 0
    with run_lock(run_dir), ResultStore(run_dir) as store, store.db:
        removed = 0
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            store.db.execute(f"DELETE FROM traces WHERE trial_id IN ({marks})", chunk)
            removed += store.db.execute(f"DELETE FROM trials WHERE id IN ({marks})", chunk).rowcount
    return removed


def format_plan(plan: Plan, workers: int = 1) -> str:
    """The dry run's table and totals, as ``gesbench run --dry-run`` prints them."""
    frame = plan.rows
    where = f"{plan.experiment.name} -> {plan.run_dir}"
    chosen = "" if not plan.selection.active else f" ({plan.selection.describe()})"
    lines = [f"dry run of {where}{chosen}: nothing runs and nothing is written"]
    if frame.empty:
        return "\n".join([*lines, "no trials"])
    table = frame.assign(
        estimate=[_time(s, n) for s, n in zip(frame["estimate"], frame["to_run"], strict=True)]
    ).rename(
        columns={
            "problem_label": "problem",
            "label": "method",
            "failed": "failed (retried)",
            "new": "not run yet",
            "pending": "pending",
            "rerun": "re-run",
            "to_run": "would run",
            "estimate": "est. time",
        }
    )
    if not table["pending"].any():
        table = table.drop(columns="pending")
    if not table["re-run"].any():
        table = table.drop(columns="re-run")
    total: dict[str, Any] = {
        c: table[c].sum() for c in table.columns if table[c].dtype.kind in "iu"
    }
    total |= {"stage": "total", "problem": "", "method": "", "est. time": ""}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    total_time = _time(plan.estimate, plan.to_run)
    table["est. time"] = table["est. time"].where(table["stage"] != "total", total_time)
    lines.append(table.to_string(index=False))
    todo = plan.to_run
    skipped = int(frame["done"].sum() - frame["rerun"].sum())
    lines.append(f"{todo} trial(s) would run; {skipped} finished trial(s) are skipped")
    if frame["pending"].any():
        lines.append(
            "pending: trials whose settings depend on tuning results not stored yet (counted "
            "as trials to run)"
        )
    if frame["rerun"].any():
        lines.append("re-run: finished trials --rerun discards and runs again")
    if todo and np.isfinite(plan.estimate):
        parallel = plan.estimate / max(1, min(workers, todo))
        text = f"estimated time: {duration(plan.estimate)} of trial time"
        if workers > 1:
            text += f", about {duration(parallel)} on {workers} workers"
        lines += [text, f"  ({plan.basis})"]
    elif todo:
        lines.append(plan.basis)
    return "\n".join(lines)


def _time(seconds: float, count: int) -> str:
    if count == 0:
        return "-"
    return duration(seconds) if np.isfinite(seconds) else "?"
