"""Part of a run's results: the problems and methods a :class:`~gesbench.spec.filters.Selection`
chooses (``gesbench report RUN_DIR --problems ... --optimizers ...``), DataFrames in,
DataFrames out."""

from __future__ import annotations

import pandas as pd

from gesbench.spec.filters import Selection
from gesbench.store.reader import Results


def _pairs(trials: pd.DataFrame, name: str, label: str) -> list[tuple[str, str]]:
    """(name, label) pairs of the trials, each once, in order."""
    pairs = trials[[name, label]].astype(str).drop_duplicates()
    return list(pairs.itertuples(index=False, name=None))


def subset_results(results: Results, selection: Selection) -> Results:
    """The trials, traces and selected settings of the problems and methods ``selection``
    chooses among those in ``results`` (by registered name or label; SpecError, listing what
    there is, for a pattern that matches nothing)."""
    if not selection.active:
        return results
    trials = results.trials
    problems, methods = selection.labels(
        _pairs(trials, "problem", "problem_label"), _pairs(trials, "optimizer", "label")
    )
    keep = trials["problem_label"].isin(problems) & trials["label"].isin(methods)
    traces = results.traces
    kept_traces = traces["problem_label"].isin(problems) & traces["label"].isin(methods)
    selected = results.selected
    if len(selected) and {"problem_label", "label"} <= set(selected.columns):
        rows = selected["label"].isin(methods)
        rows &= selected["problem_label"].isin(problems) | selected["problem_label"].eq("")
        selected = selected[rows]
    return Results(
        trials[keep].reset_index(drop=True),
        traces[kept_traces].reset_index(drop=True),
        selected.reset_index(drop=True),
    )
