"""The README's recorded-results tables, made from run folders (``gesbench readme-tables``).

Two formats, the README's own:

- a paper comparison (the Fig. 1 table): one row per published method, the run's median
  final value with its CI, the published value, and the final alignment beside the paper's;
- a problem family: one row per problem (sorted by label), one column per method (spec
  order), the median final value (excess loss where f* is known, else the loss), with the
  median final accuracy in parentheses where the problem reports one, the lowest in bold,
  'diverged' where the median is infinite and '(diverging)' where it ended above where it
  started.

Published values are passed in (the reproduce layer sits above the report); nothing here
runs a trial.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from gesbench.report.markdown import markdown_table
from gesbench.report.model import RunData, load_run

PAPER_ALIGNMENT = {"Vanilla ES": "~0.48-0.50", "CMA-ES": "~0.48-0.50"}
"""The paper's words for the alignment panel of Fig. 1 where it gives a range (both methods
stay at 0.48-0.50); gesbench.reproduce.published keeps the midpoint, 0.49."""


class PublishedValue(Protocol):
    """What a published method gives (:class:`gesbench.reproduce.published.Published`)."""

    @property
    def label(self) -> str: ...
    @property
    def optimizer(self) -> str: ...
    @property
    def final(self) -> float: ...
    @property
    def alignment(self) -> float | None: ...


def two_figures(value: float) -> str:
    """Two significant figures, trailing zeros kept (0.0040): the Fig. 1 table's numbers."""
    if value == math.inf:
        return "diverged"
    text = f"{value:#.2g}"
    return text.rstrip(".") if "e" not in text else text


def family_cell(value: float, start: float | None = None, accuracy: float | None = None) -> str:
    """A family-table cell: ``0.00036``, ``diverged``, ``9e+180 (diverging)`` (a finite
    median above the problem's starting value), with `` (90%)`` for a final accuracy."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == math.inf:
        text = "diverged"
    elif start is not None and math.isfinite(start) and value > start:
        text = f"{value:.0e} (diverging)"
    else:
        text = f"{value:.2g}"
    if accuracy is not None and math.isfinite(accuracy):
        text += f" ({100 * accuracy:.0f}%)"
    return text


def last_alignment(run: RunData) -> pd.Series:
    """Each finished trial's last logged alignment, by trial id."""
    traces = run.traces[["trial_id", "iteration", "alignment"]].dropna(subset=["alignment"])
    rows = traces.groupby("trial_id", sort=False)["iteration"].idxmax()
    return traces.loc[rows.to_numpy()].set_index("trial_id")["alignment"]


def _match(run: RunData, published: PublishedValue) -> str | None:
    """The run's label for a published method: the same label, else the only label with the
    same optimizer (as the reproduction check matches them)."""
    trials = run.trials
    if published.label in set(trials["label"]):
        return published.label
    same = trials.loc[trials["optimizer"] == published.optimizer, "label"].unique()
    return str(same[0]) if len(same) == 1 else None


def paper_table(run: RunData, published: Sequence[PublishedValue]) -> str:
    """The Fig. 1 table: median final value [CI], the paper's value, final alignments."""
    table = run.comparisons
    alignment = last_alignment(run)
    rows = []
    for pub in published:
        label = _match(run, pub)
        found = table[table["label"] == label]
        if label is None or found.empty:
            ours, ours_alignment = "(not run)", "-"
        else:
            r = found.iloc[0]
            ours = f"{two_figures(r['median'])} [{two_figures(r['low'])}, {two_figures(r['high'])}]"
            ids = run.finals.loc[run.finals["label"] == label, "trial_id"]
            values = alignment.reindex(ids).to_numpy(dtype=float)
            values = values[np.isfinite(values)]
            ours_alignment = f"{float(np.median(values)):.2g}" if len(values) else "-"
        paper_alignment = PAPER_ALIGNMENT.get(pub.label) or (
            f"~{pub.alignment:.2f}" if pub.alignment is not None else "-"
        )
        rows.append([pub.label, ours, f"~{pub.final:g}", f"{ours_alignment} / {paper_alignment}"])
    columns = [
        "method",
        "gesbench",
        "paper (read off its figure)",
        "final alignment (gesbench / paper)",
    ]
    return markdown_table(pd.DataFrame(rows, columns=columns))


def family_table(run: RunData) -> str:
    """A problem family's table (see the module docstring)."""
    table = run.comparisons
    labels = [x for x in run.labels if x in set(table["label"])]
    data = run.trace_data
    first = pd.Series(data.per_trial("value", "first"), index=data.trials["trial_id"].to_numpy())
    finals = run.finals.assign(start=run.finals["trial_id"].map(first))
    start = finals.groupby("problem_label")["start"].median()
    trials = run.trials
    accuracy = (
        trials[trials["status"] == "done"].groupby(["problem_label", "label"])["final_accuracy"]
        .median()
        if "final_accuracy" in trials
        else pd.Series(dtype=float)
    )  # fmt: skip
    tried = set(zip(trials["problem_label"], trials["label"], strict=True))
    rows, bold = [], set()
    for i, problem in enumerate(sorted(set(table["problem_label"]))):
        part = table[table["problem_label"] == problem].set_index("label")
        medians = part["median"].reindex(labels).to_numpy(dtype=float)
        finite = np.isfinite(medians)
        best = int(np.argmin(np.where(finite, medians, np.inf))) if finite.any() else None
        cells = [problem]
        for j, label in enumerate(labels):
            if label not in part.index:  # every trial of it failed, or it did not run here
                cells.append("failed" if (problem, label) in tried else "")
                continue
            acc = accuracy.get((problem, label), None) if len(accuracy) else None
            cells.append(
                family_cell(
                    float(part.loc[label, "median"]),
                    float(start.get(problem, np.nan)),
                    None if acc is None or pd.isna(acc) else float(acc),
                )
            )
            if j == best:
                bold.add((i, j + 1))
        rows.append(cells)
    frame = pd.DataFrame(rows, columns=["problem", *labels])
    return markdown_table(frame, frozenset(bold))


def readme_tables(
    run_dirs: Iterable[str | os.PathLike[str]],
    papers: Mapping[str, Sequence[PublishedValue]] | None = None,
) -> list[tuple[str, str]]:
    """(experiment name, Markdown table) per run folder: a paper comparison for experiments
    named in ``papers`` (name: published values), a family table for the others."""
    out = []
    for run_dir in run_dirs:
        run = load_run(os.fspath(run_dir))
        name = str(run.experiment.get("name", os.path.basename(os.fspath(run_dir))))
        published = (papers or {}).get(name)
        out.append((name, paper_table(run, published) if published else family_table(run)))
    return out


def format_tables(tables: Sequence[tuple[str, str]]) -> str:
    """What ``gesbench readme-tables`` prints: each table under a comment naming its run."""
    return "\n\n".join(
        f"<!-- gesbench readme-tables: {name} -->\n{table}" for name, table in tables
    )
