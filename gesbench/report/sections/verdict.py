"""The verdict, first thing in the report: a problem x method table of median final values,
each with its order-statistic CI, the best per problem in bold and significant differences
from the reference marked; written beside the report as CSV and LaTeX too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.final_table import pairs_to_reach, smallest_holm_p
from gesbench.analysis.stats import format_coverage
from gesbench.report import formatting as fmt
from gesbench.report.content import ReportTable, Section
from gesbench.report.model import RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer

LOWER, HIGHER = "↓", "↑"


def best_labels(group: pd.DataFrame) -> set[str]:
    """Methods with the lowest median on a problem (all of them when tied; none when every
    median is infinite or missing)."""
    medians = group["median"].to_numpy(dtype=float)
    finite = np.isfinite(medians)
    if not finite.any():
        return set()
    low = medians[finite].min()
    return set(group["label"][finite & (medians == low)])


def mark(row: Mapping[Any, Any]) -> str:
    """↓ / ↑ when the method differs significantly from the reference (Holm, run-wide)."""
    if not row.get("significant"):
        return ""
    return LOWER if float(row["shift"]) < 0 else HIGHER


def verdict_frame(run: RunData) -> tuple[pd.DataFrame, frozenset[tuple[int, int]], int]:
    """The pivot as shown: one row per problem, one column per method, the bold cells and
    the most common repetition count (cells with another count say theirs)."""
    table = run.comparisons
    labels = [x for x in run.labels if x in set(table["label"])]
    counts = Counter(table["n"].astype(int))
    modal = counts.most_common(1)[0][0] if counts else 0
    trials = run.trials
    tried = set(zip(trials["problem_label"], trials["label"], strict=True))
    rows, bold = [], set()
    problems = [p for p in run.problems if p in set(table["problem_label"])]
    for i, problem in enumerate(problems):
        group = table[table["problem_label"] == problem]
        best = best_labels(group)
        by_label = {r["label"]: r for r in group.to_dict("records")}
        cells = [problem]
        for j, label in enumerate(labels, start=1):
            r = by_label.get(label)
            if r is None:
                cells.append("failed" if (problem, label) in tried else "")
                continue
            text = fmt.with_interval(r["median"], r["low"], r["high"])
            if int(r["n"]) != modal:
                text += f" (n={int(r['n'])}, {format_coverage(r['coverage'])})"
            sign = mark(r)
            cells.append(f"{text} {sign}" if sign else text)
            if label in best:
                bold.add((i, j))
        rows.append(cells)
    return pd.DataFrame(rows, columns=["problem", *labels]), frozenset(bold), modal


def headline(run: RunData) -> list[str]:
    """The verdict in words: who is best where, what is significant, and whether the run
    had enough repetitions for significance to be possible at all."""
    table = run.comparisons
    wins: Counter[str] = Counter()
    for _, group in table.groupby("problem_label", sort=False):
        for label in best_labels(group):
            wins[label] += 1
    problems = table["problem_label"].nunique()
    lines = []
    if wins:
        ranked = sorted(wins.items(), key=lambda kv: (-kv[1], run.labels.index(kv[0])))
        parts = [f"{label} on {n} of {problems}" for label, n in ranked]
        lines.append(
            f"Lowest median final {run.value_label} (bold): " + ", ".join(parts) + " problem(s)."
        )
    tested = table[table["pairs"] > 0]
    if len(tested):
        m = len(tested)
        lower = tested[tested["significant"] & (tested["shift"] < 0)]
        higher = tested[tested["significant"] & (tested["shift"] >= 0)]
        text = (
            f"Against {run.reference}: {len(lower)} of {m} comparisons significantly lower "
            f"({LOWER}), {len(higher)} significantly higher ({HIGHER}), the rest not "
            "significant (paired signed-rank tests, Holm-corrected over all "
            f"{m} comparisons of the run, 5%)."
        )
        pairs = int(tested["pairs"].min())
        if smallest_holm_p(pairs, m) > 0.05:
            text += (
                f" With {pairs} paired repetitions and {m} comparisons no difference can "
                f"reach significance at all (the smallest possible Holm-adjusted p is "
                f"{smallest_holm_p(pairs, m):.2g}); that takes at least "
                f"{pairs_to_reach(m)} repetitions, so 'not significant' here says nothing "
                "about whether the methods differ."
            )
        lines.append(text)
    return lines


def draw(run: RunData, out: Writer) -> Section:
    frame, bold, modal = verdict_frame(run)
    interval = run.comparisons.loc[run.comparisons["n"] == modal, "ci"]
    how = interval.iloc[0] if len(interval) else ""
    notes = (
        f"Cells: median final {run.value_label} over repetitions [distribution-free "
        f"order-statistic CI of the median: {how} coverage]; cells with another number of "
        "finished repetitions give theirs and its coverage. Diverged runs count as +inf "
        "('diverged': most repetitions diverged; ∞ as a bound: some did).",
        f"Bold: lowest median on the problem. {LOWER} / {HIGHER}: significantly lower / "
        f"higher than the reference, {run.reference}. 'failed': no trial of the method "
        "finished on the problem (see Trials).",
    )
    csv = out.csv("verdict", frame)
    tex = out.text(
        "verdict.tex",
        fmt.latex_table(
            list(frame.columns),
            frame.astype(str).to_numpy().tolist(),
            set(bold),
            "gesbench verdict: " + " ".join(notes),
        ),
    )
    table = ReportTable("", frame, csv, bold=bold, notes=notes, files=(tex,))
    return Section("Verdict", tuple(headline(run)), (table,))


SECTION = ReportSection("verdict", "Verdict", draw, needs=(FINISHED,))
