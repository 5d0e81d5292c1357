"""Render a report as one self-contained HTML file: figures embedded as base64 PNG, no server,
no network, so it opens from disk and can be mailed or archived as a single file."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from gesbench.report.content import (
    Details,
    Document,
    Failure,
    ReportFigure,
    ReportTable,
    Section,
)

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #ccc; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
.status-failed { color: #a00; } .status-diverged { color: #a60; }
.notice { background: #fff8e1; border-left: 4px solid #e0a800; padding: 0.4em 0.8em; }
.note { font-size: 0.85em; color: #444; margin: 0.2em 0; }
td b { color: #000; }
"""


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def _table(table: ReportTable) -> str:
    """A table with escaped cells, the ``bold`` ones in <b>, then its notes and files."""
    frame = table.frame
    head = "".join(f"<th>{_cell(c)}</th>" for c in frame.columns)
    rows = []
    for i, values in enumerate(frame.itertuples(index=False, name=None)):
        cells = [
            f"<td><b>{_cell(v)}</b></td>" if (i, j) in table.bold else f"<td>{_cell(v)}</td>"
            for j, v in enumerate(values)
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    out = [f'<table class="dataframe"><thead><tr>{head}</tr></thead><tbody>'
           + "".join(rows) + "</tbody></table>"]  # fmt: skip
    out += [f'<p class="note">{html.escape(note)}</p>' for note in table.notes]
    links = [table.csv, *table.files] if table.csv is not None else list(table.files)
    if links:
        out.append(
            '<p class="note">Files: '
            + ", ".join(f'<a href="{html.escape(p.name)}">{html.escape(p.name)}</a>' for p in links)
            + "</p>"
        )
    return "\n".join(out)


def _figure(fig: ReportFigure) -> str:
    data = base64.b64encode(fig.png.read_bytes()).decode("ascii")
    links = [f'<a href="{html.escape(fig.svg.name)}">SVG</a>']
    if fig.csv is not None:
        links.append(f'<a href="{html.escape(fig.csv.name)}">data (CSV)</a>')
    return (
        f'<figure id="fig-{html.escape(fig.name)}">'
        f'<img alt="{html.escape(fig.caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(fig.caption)} ({', '.join(links)}; files beside this "
        "report)</figcaption></figure>"
    )


def _failures(failures: tuple[Failure, ...]) -> str:
    if not failures:
        return "<p>No failed or diverged trials.</p>"
    items = []
    for r in failures:
        error = r.error or "no error text"
        first = error.strip().splitlines()[0] if error.strip() else error
        items.append(
            f'<li class="status-{html.escape(r.status)}"><b>{html.escape(r.label)}</b> on '
            f"{html.escape(r.problem_label)}, repetition {r.repetition}: {html.escape(r.status)}"
            f" (trial <code>{html.escape(r.id)}</code>)<details><summary>"
            f"{html.escape(first)}</summary><pre>{html.escape(error)}</pre></details></li>"
        )
    return "<h3>Failed and diverged trials</h3><ul>" + "".join(items) + "</ul>"


def _details(details: Details) -> str:
    return (
        f"<details><summary>{html.escape(details.summary)}</summary>"
        f"<pre>{html.escape(details.text)}</pre></details>"
    )


def render_section(section: Section) -> str:
    """One section as HTML: heading, notice, text, tables, failed trials, details, figures."""
    body = [f"<h2>{html.escape(section.title)}</h2>"]
    if section.notice:
        body.append(f'<p class="notice">{html.escape(section.notice)}</p>')
    body += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
    for table in section.tables:
        if table.caption:
            body.append(f"<p><b>{html.escape(table.caption)}</b></p>")
        body.append(_table(table))
    if section.failures is not None:
        body.append(_failures(section.failures))
    body += [_details(d) for d in section.details]
    body += [_figure(fig) for fig in section.figures]
    return "\n".join(body)


def render_html(document: Document) -> str:
    body = [f"<h1>{html.escape(document.name)}</h1>"]
    if document.description:
        body.append(f"<p>{html.escape(document.description)}</p>")
    body.append(f"<p>Run folder: <code>{html.escape(str(document.run_dir))}</code></p>")
    body += [render_section(section) for section in document.sections]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>gesbench report: {html.escape(document.name)}</title>"
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def write_html(path: Path, document: Document) -> Path:
    path.write_text(render_html(document), encoding="utf-8")
    return path
