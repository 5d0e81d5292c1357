"""Render a report as Markdown (``summary.md``), linking the figures written beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gesbench.report.content import RunHeader, Section


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (cells' pipes and newlines escaped)."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(cell(c) for c in frame.columns) + " |",
        "|" + "---|" * len(frame.columns),
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.to_numpy().tolist()]
    return "\n".join(lines)


def render_markdown(head: RunHeader, sections: Sequence[Section]) -> str:
    out = [f"# {head.name}", ""]
    if head.description:
        out += [head.description, ""]
    out += ["## Trials", "", markdown_table(head.counts), ""]
    if head.failures:
        out += ["### Failed and diverged trials", ""]
        for r in head.failures:
            first = r.error.strip().splitlines()
            out.append(
                f"- **{r.label}** on {r.problem_label}, repetition {r.repetition}: "
                f"{r.status} (trial {r.id}): {first[0] if first else 'no error text'}"
            )
        out.append("")
    for section in sections:
        out += [f"## {section.title}", ""]
        for paragraph in section.paragraphs:
            out += [paragraph, ""]
        for table in section.tables:
            if table.caption:
                out += [f"**{table.caption}**", ""]
            out += [markdown_table(table.frame), ""]
            if table.csv is not None:
                out += [f"Data: [{table.csv.name}]({table.csv.name})", ""]
        for fig in section.figures:
            out += [f"![{fig.caption}]({fig.png.name})", ""]
            links = [f"[SVG]({fig.svg.name})"]
            if fig.csv is not None:
                links.append(f"[data]({fig.csv.name})")
            out += [f"{fig.caption} " + ", ".join(links), ""]
    out += ["## Provenance", "", markdown_table(head.provenance), ""]
    out += ["## Experiment spec", "", "```json", json.dumps(head.spec, indent=2), "```", ""]
    return "\n".join(out)


def write_markdown(path: Path, head: RunHeader, sections: Sequence[Section]) -> Path:
    path.write_text(render_markdown(head, sections), encoding="utf-8")
    return path
