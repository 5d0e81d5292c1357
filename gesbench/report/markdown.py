"""Render a report as Markdown (``summary.md``), linking the figures written beside it."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from gesbench.report.content import Details, Document, Failure, Section


def markdown_table(
    frame: pd.DataFrame, bold: frozenset[tuple[int, int]] | set[tuple[int, int]] = frozenset()
) -> str:
    """A GitHub-flavoured Markdown table (cells' pipes and newlines escaped; the ``bold``
    (row, column) cells in ``**``)."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and value != value):
            return ""
        return str(value).replace("|", "\\|").replace("\n", " ")

    def shown(i: int, j: int, value: object) -> str:
        text = cell(value)
        return f"**{text}**" if (i, j) in bold and text else text

    lines = [
        "| " + " | ".join(cell(c) for c in frame.columns) + " |",
        "|" + "---|" * len(frame.columns),
    ]
    lines += [
        "| " + " | ".join(shown(i, j, v) for j, v in enumerate(row)) + " |"
        for i, row in enumerate(frame.itertuples(index=False, name=None))
    ]
    return "\n".join(lines)


def _failures(failures: tuple[Failure, ...]) -> list[str]:
    if not failures:
        return []
    out = ["### Failed and diverged trials", ""]
    for r in failures:
        first = r.error.strip().splitlines()
        out.append(
            f"- **{r.label}** on {r.problem_label}, repetition {r.repetition}: "
            f"{r.status} (trial {r.id}): {first[0] if first else 'no error text'}"
        )
    return [*out, ""]


def _details(details: Details) -> list[str]:
    """Folded on GitHub (``<details>``), a plain code block elsewhere."""
    longest = max((len(run) for run in re.findall(r"`+", details.text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [
        f"<details><summary>{html.escape(details.summary)}</summary>",
        "",
        f"{fence}{details.language}",
        details.text,
        fence,
        "",
        "</details>",
        "",
    ]


def render_section(section: Section) -> list[str]:
    """One section as Markdown lines: heading, notice, text, tables, failed trials, details,
    figures."""
    out = [f"## {section.title}", ""]
    if section.notice:
        out += [f"> {section.notice}", ""]
    for paragraph in section.paragraphs:
        out += [paragraph, ""]
    for table in section.tables:
        if table.caption:
            out += [f"**{table.caption}**", ""]
        out += [markdown_table(table.frame, table.bold), ""]
        out += [line for note in table.notes for line in (note, "")]
        files = [p for p in (table.csv, *table.files) if p is not None]
        if files:
            out += ["Data: " + ", ".join(f"[{p.name}]({p.name})" for p in files), ""]
    if section.failures is not None:
        out += _failures(section.failures)
    for details in section.details:
        out += _details(details)
    for fig in section.figures:
        out += [f"![{fig.caption}]({fig.png.name})", ""]
        links = [f"[SVG]({fig.svg.name})"]
        if fig.csv is not None:
            links.append(f"[data]({fig.csv.name})")
        out += [f"{fig.caption} " + ", ".join(links), ""]
    return out


def render_markdown(document: Document) -> str:
    out = [f"# {document.name}", ""]
    if document.description:
        out += [document.description, ""]
    for section in document.sections:
        out += render_section(section)
    return "\n".join(out)


def write_markdown(path: Path, document: Document) -> Path:
    path.write_text(render_markdown(document), encoding="utf-8")
    return path
