"""Reproductions of published comparisons: run (or resume) a spec, report, check against values.

``gesbench reproduce fig1`` runs the Fig. 1 spec, builds the report and prints a check table
against the GES paper's published values (the problem families are checked against gesbench's
own recorded runs, see :mod:`gesbench.reproduce.published`). Methods are matched by label (or by
optimizer name, so a relabelled entry still matches); a published method that the spec does
not run is shown as absent, and a method the source does not have is shown without a
published value. Where a spec runs several problems, each is checked on its own.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.stats import median_ci
from gesbench.core.errors import UnknownNameError
from gesbench.report.build import build_report, load_run
from gesbench.report.content import ReportTable, Section
from gesbench.reproduce.published import REPRODUCTIONS, Published, Reproduction
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import load_experiment


@dataclass(frozen=True)
class CheckResult:
    """The check table and whether the published ordering holds."""

    table: pd.DataFrame
    ordering_holds: bool
    orderings: tuple[str, ...]  # per problem ("problem: a < b < c" where there are several)
    violations: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()  # problems with fewer than two ordered methods run

    @property
    def ordering(self) -> str:
        return "; ".join(self.orderings)


def _match(published: Published, methods: pd.DataFrame) -> str | None:
    """The run's label for a published method: same label, else the only label with the
    same optimizer name."""
    if published.label in set(methods["label"]):
        return published.label
    same = methods[methods["optimizer"] == published.optimizer]["label"].unique()
    return str(same[0]) if len(same) == 1 else None


def _summary(finals: pd.DataFrame, last_alignment: pd.Series) -> dict[str, float]:
    ci = median_ci(finals["final"].to_numpy())
    align = last_alignment.reindex(finals["trial_id"]).to_numpy()
    return {
        "n": len(finals),
        "median final": float(ci.median),
        "CI low": float(ci.low),
        "CI high": float(ci.high),
        "CI coverage": float(ci.coverage),
        "final alignment": float(np.nanmedian(align)) if np.isfinite(align).any() else np.nan,
    }


def check(run_dir: str | os.PathLike[str], reproduction: Reproduction) -> CheckResult:
    """Compare a run folder's final values and alignment with the published ones."""
    run = load_run(Path(run_dir))
    traces = run.results.traces
    last_alignment = (
        traces.sort_values("iteration").groupby("trial_id")["alignment"].last().rename("align")
    )
    rows: list[dict[str, Any]] = []
    orderings, violations, unchecked = [], [], []
    holds = True
    for problem in dict.fromkeys(p.problem for p in reproduction.published):
        finals = run.finals
        if problem is not None:
            finals = finals[finals["problem_label"] == problem]
        published = [p for p in reproduction.published if p.problem == problem]
        part = _check_problem(finals, published, last_alignment)
        prefix = "" if problem is None else f"{problem}: "
        rows += [r if problem is None else {"problem": problem, **r} for r in part.rows]
        violations += [prefix + v for v in part.violations]
        if sum(p.ordered for p in published) < 2:
            continue  # the source orders nothing here
        orderings.append(prefix + " < ".join(part.present))
        if len(part.present) < 2:
            unchecked.append(prefix)
        holds = holds and len(part.present) >= 2 and not part.violations
    holds = holds and bool(orderings)  # an empty claim is not a reproduction
    return CheckResult(
        pd.DataFrame(rows), holds, tuple(orderings), tuple(violations), tuple(unchecked)
    )


@dataclass(frozen=True)
class _ProblemCheck:
    rows: list[dict[str, Any]]
    present: list[str]  # the ordered published methods that were run, by published value
    violations: list[str]


def _check_problem(
    finals: pd.DataFrame, published: list[Published], last_alignment: pd.Series
) -> _ProblemCheck:
    methods = finals[["label", "optimizer"]].drop_duplicates()
    rows: list[dict[str, Any]] = []
    matched: dict[str, float] = {}
    for pub in published:
        label = _match(pub, methods)
        row: dict[str, Any] = {"method": pub.label, "run label": label or "(not run)"}
        row |= {"published final": pub.final, "published alignment": pub.alignment}
        if label is not None:
            row |= _summary(finals[finals["label"] == label], last_alignment)
            row["published within CI"] = bool(row["CI low"] <= pub.final <= row["CI high"])
            matched[pub.label] = row["median final"]
        rows.append(row)
    extra = set(methods["label"]) - {r["run label"] for r in rows}
    for label in sorted(extra):
        summary = _summary(finals[finals["label"] == label], last_alignment)
        rows.append({"method": label, "run label": label, **summary})
    ordered = sorted((p for p in published if p.ordered), key=lambda p: p.final)
    present = [p.label for p in ordered if p.label in matched]
    violations = [
        f"{b} ({matched[b]:.3g}) is not above {a} ({matched[a]:.3g})"
        for a, b in itertools.pairwise(present)
        if not matched[a] < matched[b]
    ]
    return _ProblemCheck(rows, present, violations)


CHECK_COLUMNS = [
    "method", "run label", "n", "median final", "CI low", "CI high", "CI coverage",
    "published final", "published within CI", "final alignment", "published alignment",
]  # fmt: skip


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "diverged" if value == np.inf else f"{value:.3g}"
    return str(value)


def check_frame(result: CheckResult) -> pd.DataFrame:
    """The check table with formatted cells, in reading order (for text, HTML, Markdown)."""
    columns = (["problem"] if "problem" in result.table else []) + CHECK_COLUMNS
    rows = [[_cell(r.get(c)) for c in columns] for r in result.table.to_dict("records")]
    return pd.DataFrame(rows, columns=columns)


def format_check(result: CheckResult, reproduction: Reproduction) -> str:
    """The check table as aligned plain text, with the ordering verdict."""
    frame = check_frame(result)
    cells = frame.to_numpy().tolist()
    columns = list(frame.columns)
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    verdict = "HOLDS" if result.ordering_holds else "FAILS"
    lines.append("")
    if len(result.orderings) == 1:
        lines.append(f"published ordering at {reproduction.at} ({result.ordering}): {verdict}")
    else:
        lines.append(f"published orderings at {reproduction.at}: {verdict}")
        lines += [f"  {o}" for o in result.orderings]
    lines += [f"  - {v}" for v in result.violations]
    lines += [
        f"  - {p}fewer than two published methods were run: nothing to order"
        for p in result.unchecked
    ]
    return "\n".join(lines)


def reproduce(
    name: str,
    out: str | os.PathLike[str] | None = None,
    *,
    workers: int = 1,
    repetitions: int | None = None,
    budget: float | None = None,
    progress: bool = True,
) -> tuple[CheckResult, list[Path]]:
    """Run (or resume) a reproduction into ``out`` (default ``reports/NAME``), build its report
    with the check table as a section, and return the check and the paths written.

    ``repetitions`` and ``budget`` override the spec for quick looks; the published values
    are at the spec's own budget, so a shortened run is not expected to match them.
    """
    if name not in REPRODUCTIONS:
        raise UnknownNameError("reproduction", name, REPRODUCTIONS)
    reproduction = REPRODUCTIONS[name]
    experiment = load_experiment(reproduction.spec).with_overrides(repetitions, budget)
    run_dir = Path(out) if out is not None else Path("reports") / reproduction.name
    run_experiment(experiment, run_dir, workers=workers, progress=progress)
    result = check(run_dir, reproduction)
    csv = run_dir / "reproduction_check.csv"
    result.table.to_csv(csv, index=False)
    verdict = "holds" if result.ordering_holds else "does NOT hold"
    section = Section(
        f"Reproduction check: {reproduction.name}",
        (
            f"Against {reproduction.source}. Median final value over repetitions with its "
            "distribution-free order-statistic CI (95%, or [min, max] when the repetitions are "
            "too few for 95%; 'CI coverage' is its exact coverage) beside the published value at "
            f"{reproduction.at}; final alignment is the median over repetitions of the last "
            "logged alignment.",
            f"Published ordering ({result.ordering}): {verdict}."
            + "".join(f" {v}." for v in result.violations),
        ),
        (ReportTable("", check_frame(result), csv),),
    )
    paths = build_report(run_dir, extra_sections=[section])
    return result, [*paths, csv]
