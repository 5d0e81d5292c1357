"""The tuning stage: run every tuned method's configurations on the tuning seeds, select each
method's setting from those trials alone, and give back the evaluation trials at the selection.

:func:`run_tuning` is called by :func:`gesbench.run.experiment.run_experiment` for a spec with
``tune`` entries (see :mod:`gesbench.spec.tuning`). Tuning trials are ordinary trials of stage
"tuning" (repetitions 0..R-1 of the tuning stream: their problem instances and seeds differ from
every evaluation trial's), so they are stored, skipped when finished and spread over the
executor like any other. With successive halving, each rung is one such batch at its fraction
of the budget; the survivors of a rung are those with the best scores on that rung.

The selection (:mod:`gesbench.run.selection`) is recomputed from the stored tuning trials every
time, so a resumed run selects exactly what the interrupted one did. What it used is stored in
the run's meta under ``tuning``: the settings and schedule, each method's tuning cost, every
tuning trial's score, every configuration's score per rung, the selected settings with notes
(edge of the search space, ties and how they were broken, everything diverged, failures) and
the evaluation trials each selection gave.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Generator, Iterable
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from gesbench.core.budget import Budget
from gesbench.run.progress import Progress, progress_bar
from gesbench.run.selection import edges as edge_of
from gesbench.run.selection import rank_configurations, score_trials, ties
from gesbench.spec.experiment import Entry, Experiment
from gesbench.spec.trial import TrialSpec
from gesbench.spec.tuning import (
    SELECTS,
    TuneSpace,
    UnequalTuningBudget,
    cost_lines,
    format_config,
    largest_space,
    rung_budget,
    tuned_entries,
    tuning_costs,
    tuning_trial,
)
from gesbench.store.database import ResultStore
from gesbench.store.reader import load_results
from gesbench.store.record import TrialResult

Execute = Callable[[list[TrialSpec]], Generator[list[TrialResult], None, None]]
"""Runs trials and yields their results in lists, each of those that finished together (an
open executor's ``batches``)."""


@dataclass(frozen=True)
class TuningOutcome:
    """What the evaluation stage needs: its trials (one spec per trial id, the selected settings
    in place) and the ids of every tuning trial, for the run's trial list and counts."""

    evaluation: list[TrialSpec]
    tuning_ids: list[str]
    record: dict[str, Any]


def forget_tuning(store: ResultStore) -> None:
    """Remove a tuning record from the store's meta: a run of a spec without tuning must not
    show the selection an earlier spec made in the same folder."""
    with store.db:
        store.db.execute("DELETE FROM meta WHERE key = 'tuning'")


def run_stage(
    store: ResultStore,
    trials: Iterable[TrialSpec],
    desc: str,
    execute: Execute,
    *,
    progress: bool = True,
    keep: Callable[[TrialSpec], bool] | None = None,
) -> list[TrialSpec]:
    """Run the unfinished ones of ``trials`` (one per id) into ``store``, with a progress bar
    titled ``desc``; return the trials, one per id, in their order. With ``keep``, only the
    trials it keeps are run (and counted by the progress bar)."""
    unique = list({t.id: t for t in trials}.values())
    finished = store.finished_ids()
    store.relabel(t for t in unique if t.id in finished)
    shown = unique if keep is None else [t for t in unique if keep(t)]
    todo = [t for t in shown if t.id not in finished]
    with progress_bar(
        total=len(shown),
        initial=len(shown) - len(todo),
        desc=desc,
        unit="trial",
        disable=not progress,
    ) as bar:
        if todo:
            store_batches(store, execute(todo), bar)
    return unique


def store_batches(
    store: ResultStore, batches: Generator[list[TrialResult], None, None], bar: Progress
) -> int:
    """Write each batch of results into ``store`` in one transaction as it comes (a batch is
    what finished together: nothing waits to fill one); returns how many were written."""
    written = 0
    with closing(batches):  # on Ctrl-C, stop the workers before returning
        for batch in batches:
            store.write_many(batch)
            written += len(batch)
            bar.update(len(batch))
    return written


def _number(value: float) -> float | None:
    """A float for JSON: None where it is not finite (diverged or failed everywhere)."""
    value = float(value)
    return value if math.isfinite(value) else None


Group = tuple[int, int]
"""A tuning group: (problem index, optimizer entry index); problem -1 for the shared scope."""


def _group(scope: str, problem: int, entry: int) -> Group:
    return (problem if scope == "per_problem" else -1, entry)


def _notes(
    experiment: Experiment,
    entry: Entry,
    config: int,
    tied: list[int] | None,
    first_rung: pd.DataFrame,
    failed: int,
    score: float,
) -> list[str]:
    """What a reader must know about one selection: its edges, ties, divergence, failures."""
    space = entry.tune
    assert space is not None and experiment.tuning is not None
    chosen = space.configurations[config]
    notes = []
    for name in space.params:
        where = edge_of(space.values(name), chosen[name])
        if where is None:
            continue
        how = "sampled" if space.is_range(name) else "tried"
        notes.append(
            f"{name} = {chosen[name]:g} is the {where} value {how} "
            f"({space.describe()}): the best setting may lie beyond it"
            if isinstance(chosen[name], float)
            else f"{name} = {chosen[name]} is the {where} value {how} ({space.describe()}): "
            "the best setting may lie beyond it"
        )
    # how rank_configurations breaks a tie
    spent = (
        "(by the seed that diverged soonest, then the median over seeds)"
        if experiment.tuning.select == "worst_final"
        else "(median over seeds)"
    )
    if (first_rung["median_final"] == math.inf).all():
        every = (first_rung["diverged"] + first_rung["failed"] == first_rung["n"]).all()
        notes.append(
            f"every configuration diverged (or failed) on {'every' if every else 'most'} tuning "
            f"seed(s); the one that lasted longest ({format_config(chosen)}) is used, and its "
            "evaluation trials may diverge too"
        )
    elif tied and experiment.tuning.select == "worst_final" and score == math.inf:
        notes.append(
            "every configuration diverged (or failed) on at least one tuning seed, so their "
            f"worst_final scores tie; broken by the budget spent before diverging {spent}, "
            f"then by listing order: {format_config(chosen)}"
        )
    elif tied:
        names = "; ".join(format_config(space.configurations[c]) for c in tied)
        notes.append(
            f"tie: {names} share the best {experiment.tuning.select} score; broken by the "
            f"budget spent before diverging {spent}, then by listing order: "
            f"{format_config(chosen)}"
        )
    if failed:
        notes.append(
            f"{failed} tuning trial(s) failed and count as the worst result; re-run to retry them"
        )
    return notes


def _rung_trials(
    experiment: Experiment, alive: dict[tuple[int, int], list[int]], budget: Budget
) -> tuple[list[TrialSpec], pd.DataFrame]:
    """The tuning trials of one rung (every alive configuration on every tuning seed and
    problem) and a cell per trial: id, problem, entry, config, repetition, problem_label."""
    assert experiment.tuning is not None
    scope = experiment.tuning.scope
    specs, cells = [], []
    for repetition in range(experiment.tuning.repetitions):
        for p, problem in enumerate(experiment.problems):
            for e, entry in tuned_entries(experiment):
                assert entry.tune is not None
                for c in alive[_group(scope, p, e)]:
                    config = entry.tune.configurations[c]
                    spec = tuning_trial(experiment, problem, entry, config, repetition, budget)
                    specs.append(spec)
                    cells.append(
                        {
                            "id": spec.id,
                            "problem": p,
                            "entry": e,
                            "config": c,
                            "repetition": repetition,
                            "problem_label": problem.label,
                        }
                    )
    return specs, pd.DataFrame(cells)


def _space(experiment: Experiment, entry: int) -> TuneSpace:
    space = experiment.optimizers[entry].tune
    assert space is not None
    return space


def _survivors(experiment: Experiment, table: pd.DataFrame, rung: int) -> dict[Group, list[int]]:
    """Per group, the configurations that run at ``rung``: each method's best
    ``Tuning.kept(n, rung)`` of the previous rung's ``table``."""
    assert experiment.tuning is not None
    alive: dict[Group, list[int]] = {}
    for row in table.to_dict("records"):
        group = (int(row["problem"]), int(row["entry"]))
        keep = experiment.tuning.kept(len(_space(experiment, group[1]).configurations), rung)
        if int(row["order"]) < keep:
            alive.setdefault(group, []).append(int(row["config"]))
    return {group: sorted(configs) for group, configs in alive.items()}


def _trial_rows(experiment: Experiment, scored: pd.DataFrame, rung: int) -> list[dict[str, Any]]:
    """Every tuning trial of a rung with its score, for the run's meta."""
    rows = []
    for cell in scored.to_dict("records"):
        entry = int(cell["entry"])
        rows.append(
            {
                "id": cell["id"],
                "rung": rung,
                "problem_label": cell["problem_label"],
                "label": experiment.optimizers[entry].label,
                "entry": entry,
                "config": int(cell["config"]),
                "params": _space(experiment, entry).configurations[int(cell["config"])],
                "repetition": int(cell["repetition"]),
                "status": cell["status"],
                "final": _number(cell["final"]),
                "auc": _number(cell["auc"]),
            }
        )
    return rows


def _table_rows(
    experiment: Experiment,
    table: pd.DataFrame,
    rung: int,
    budget: Budget,
    next_alive: dict[Group, list[int]] | None,
) -> list[dict[str, Any]]:
    """Every configuration's score at a rung, and whether it went on (to the next rung, or
    was selected at the last), for the run's meta."""
    rows = []
    for row in table.to_dict("records"):
        problem, entry, config = int(row["problem"]), int(row["entry"]), int(row["config"])
        if next_alive is None:
            kept = int(row["order"]) == 0
        else:
            kept = config in next_alive.get((problem, entry), [])
        rows.append(
            {
                "rung": rung,
                "budget": budget.limit,
                "problem_label": "" if problem < 0 else experiment.problems[problem].label,
                "label": experiment.optimizers[entry].label,
                "optimizer": experiment.optimizers[entry].name,
                "entry": entry,
                "config": config,
                "params": _space(experiment, entry).configurations[config],
                "score": _number(row["score"]),
                "median_final": _number(row["median_final"]),
                "median_auc": _number(row["median_auc"]),
                "survival": float(row["survival"]),
                "worst_survival": float(row["worst_survival"]),
                "n": int(row["n"]),
                "diverged": int(row["diverged"]),
                "failed": int(row["failed"]),
                "order": int(row["order"]),
                "kept": kept,
            }
        )
    return rows


def _select(
    experiment: Experiment,
    first: pd.DataFrame,
    last: pd.DataFrame,
    failures: dict[Group, int],
) -> dict[Group, dict[str, Any]]:
    """Per group, the selected configuration (the best of the last rung) with its score and
    notes."""
    tied = ties(last)
    out = {}
    for row in last[last["order"] == 0].to_dict("records"):
        group = (int(row["problem"]), int(row["entry"]))
        config = int(row["config"])
        entry = experiment.optimizers[group[1]]
        in_first = first[(first["problem"] == group[0]) & (first["entry"] == group[1])]
        out[group] = {
            "config": config,
            "params": _space(experiment, group[1]).configurations[config],
            "score": _number(row["score"]),
            "median_final": _number(row["median_final"]),
            "notes": _notes(
                experiment,
                entry,
                config,
                tied.get(group),
                in_first,
                failures.get(group, 0),
                float(row["score"]),
            ),
        }
    return out


def _evaluation_trials(
    experiment: Experiment, selections: dict[Group, dict[str, Any]]
) -> list[TrialSpec]:
    """The evaluation trials (every repetition, problem and method, in the spec's order) with
    each tuned method at its selected setting."""
    assert experiment.tuning is not None
    scope = experiment.tuning.scope
    index_of = {p.label: i for i, p in enumerate(experiment.problems)}
    entry_of = {o.label: i for i, o in enumerate(experiment.optimizers)}
    out = []
    for spec in experiment.trials():
        e = entry_of[spec.label]
        if experiment.optimizers[e].tune is None:
            out.append(spec)
            continue
        pick = selections[_group(scope, index_of[spec.problem_label], e)]
        out.append(replace(spec, optimizer_params={**spec.optimizer_params, **pick["params"]}))
    return out


def run_tuning(
    experiment: Experiment,
    store: ResultStore,
    run_dir: str | os.PathLike[str],
    execute: Execute,
    *,
    progress: bool = True,
    keep: Callable[[TrialSpec], bool] | None = None,
) -> TuningOutcome:
    """Run the tuning stage of ``experiment`` into ``store`` (rung by rung for successive
    halving), select each tuned method's setting on the tuning trials alone, store what was
    done in the meta key ``tuning`` and the run's ``trial_ids``, and return the evaluation
    trials at the selected settings (see the module docstring). ``keep`` restricts which
    tuning trials run (``gesbench run --optimizers``); the selection uses what is stored."""
    tuning = experiment.tuning
    if tuning is None:
        raise ValueError(f"{experiment.name} has no tuning stage")
    lines, unequal = cost_lines(experiment)
    if unequal:
        warnings.warn(unequal, UnequalTuningBudget, stacklevel=3)
    schedule = tuning.schedule(largest_space(experiment))
    groups = range(len(experiment.problems)) if tuning.scope == "per_problem" else [-1]
    alive = {
        (p, e): list(range(len(_space(experiment, e).configurations)))
        for p in groups
        for e, _ in tuned_entries(experiment)
    }
    tuning_ids: list[str] = []
    rungs: list[dict[str, Any]] = []
    table_rows: list[dict[str, Any]] = []
    trial_rows: list[dict[str, Any]] = []
    tables: list[pd.DataFrame] = []
    failures: dict[Group, int] = {}
    for rung, fraction in enumerate(schedule):
        budget = rung_budget(experiment.budget, fraction)
        specs, cells = _rung_trials(experiment, alive, budget)
        desc = f"{experiment.name} tuning"
        if len(schedule) > 1:
            desc += f" (rung {rung + 1}/{len(schedule)}, {fraction:.3g} of the budget)"
        unique = run_stage(store, specs, desc, execute, progress=progress, keep=keep)
        tuning_ids += [t.id for t in unique]
        stored = load_results(run_dir, all_trials=True, ids={t.id for t in unique})
        scored = score_trials(cells, stored.trials, stored.traces, budget)
        left_out = set() if keep is None else {t.id for t in specs if not keep(t)}
        for cell in scored[scored["status"] == "failed"].to_dict("records"):
            if cell["id"] in left_out:  # not run by choice (keep), not a failure
                continue
            group = _group(tuning.scope, int(cell["problem"]), int(cell["entry"]))
            failures[group] = failures.get(group, 0) + 1
        table = rank_configurations(scored, tuning.select, tuning.scope)
        tables.append(table)
        last_rung = rung + 1 == len(schedule)
        alive = {} if last_rung else _survivors(experiment, table, rung + 1)
        rungs.append({"rung": rung, "fraction": fraction, "budget": budget.to_dict()})
        trial_rows += _trial_rows(experiment, scored, rung)
        table_rows += _table_rows(experiment, table, rung, budget, None if last_rung else alive)
    if failures:
        warnings.warn(
            f"{sum(failures.values())} tuning trial(s) failed; the selection counts them as the "
            "worst result. Re-run the same command to retry them (the selection may change).",
            stacklevel=3,
        )
    selections = _select(experiment, tables[0], tables[-1], failures)
    evaluation = _evaluation_trials(experiment, selections)
    labels_of: dict[str, list[list[str]]] = {}
    for spec in evaluation:
        labels_of.setdefault(spec.id, []).append([spec.problem_label, spec.label])
    selected_rows = []
    for p, problem in enumerate(experiment.problems):
        for e, entry in tuned_entries(experiment):
            selected_rows.append(
                {
                    "problem_label": problem.label,
                    "label": entry.label,
                    "optimizer": entry.name,
                    "entry": e,
                    "scope": tuning.scope,
                    "criterion": tuning.select,
                    **selections[_group(tuning.scope, p, e)],
                    "trial_ids": [
                        t.id
                        for t in evaluation
                        if (t.problem_label, t.label) == (problem.label, entry.label)
                    ],
                }
            )
    record = {
        "settings": asdict(tuning),
        "criterion": SELECTS[tuning.select],
        "budget_kind": experiment.budget.kind,
        "budget": experiment.budget.limit,
        "schedule": rungs,
        "costs": [{**asdict(c), "total": c.total} for c in tuning_costs(experiment)],
        "cost_lines": lines,
        "unequal": unequal,
        "spaces": {
            entry.label: {"params": list(space.params), "given": space.given}
            for e, entry in tuned_entries(experiment)
            for space in [_space(experiment, e)]
        },
        "trials": trial_rows,
        "table": table_rows,
        "selected": selected_rows,
        "shared_trials": {k: v for k, v in labels_of.items() if len(v) > 1},
    }
    store.set_meta("tuning", record)
    unique_evaluation = list({t.id: t for t in evaluation}.values())
    unique_tuning = list(dict.fromkeys(tuning_ids))
    store.set_meta("trial_ids", [*unique_tuning, *(t.id for t in unique_evaluation)])
    return TuningOutcome(unique_evaluation, unique_tuning, record)
