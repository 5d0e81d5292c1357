"""Trials, an appendix after the evidence: what ran, by problem, method and status, and every
failed or diverged trial with its error."""

from __future__ import annotations

import pandas as pd

from gesbench.report.content import Failure, ReportTable, Section
from gesbench.report.model import RunData
from gesbench.report.sections.base import ReportSection
from gesbench.report.writer import Writer

STATUSES = ("done", "diverged", "failed")


def draw(run: RunData, out: Writer) -> Section:
    trials = run.trials
    counts = trials.pivot_table(
        index=["problem_label", "label"],
        columns="status",
        values="id",
        aggfunc="count",
        fill_value=0,
        sort=False,
    ).reset_index()
    for status in STATUSES:
        if status not in counts:
            counts[status] = 0
    counts = counts[["problem_label", "label", *STATUSES]]
    counts.columns = pd.Index(["problem", "method", *STATUSES])
    failures = tuple(
        Failure(
            str(r["problem_label"]),
            str(r["label"]),
            int(r["repetition"]),
            str(r["status"]),
            str(r["id"]),
            str(r["error"] or ""),
        )
        for r in trials[trials["status"] != "done"].to_dict("records")
    )
    return Section("Trials", tables=(ReportTable("", counts),), failures=failures)


SECTION = ReportSection("trials", "Trials", draw, appendix=True)
