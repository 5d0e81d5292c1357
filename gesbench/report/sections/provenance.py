"""Provenance: package versions, git commit, host and platform of the trials (with counts
where they differ), the distribution and version of every plugin that provided a component,
and the experiment spec as stored."""

from __future__ import annotations

import json

import pandas as pd

from gesbench.report.content import Details, ReportTable, Section
from gesbench.report.model import RunData
from gesbench.report.origins import component_origins
from gesbench.report.sections.base import ReportSection
from gesbench.report.writer import Writer


def _distinct(column: pd.Series) -> str:
    """A column's distinct values; with counts when the trials disagree (e.g. two hosts)."""
    counts = column.astype(str).value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    return "; ".join(f"{value} ({n} trials)" for value, n in counts.items())


def draw(run: RunData, out: Writer) -> Section:
    rows = []
    for text in run.trials["provenance"]:
        p = json.loads(text)
        flat = {f"version: {k}": v for k, v in p.get("versions", {}).items()}
        flat |= {k: p.get(k) for k in ("git_commit", "host", "platform", "python")}
        rows.append(flat)
    prov = pd.DataFrame(rows)
    table = pd.DataFrame(
        [{"field": c, "value(s)": _distinct(prov[c])} for c in prov.columns],
        columns=["field", "value(s)"],
    )
    spec = Details("Experiment spec", json.dumps(run.experiment, indent=2), "json")
    tables = [ReportTable("", table)]
    origins = component_origins(run.meta)  # plugin distributions and their versions
    if len(origins):
        caption = "Components: the distribution (and version) each problem and optimizer came from"
        tables.append(ReportTable(caption, origins))
    return Section("Provenance", tables=tuple(tables), details=(spec,))


SECTION = ReportSection("provenance", "Provenance", draw, appendix=True)
