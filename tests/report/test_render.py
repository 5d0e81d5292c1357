"""HTML and Markdown rendering of hand-made report content (no run, no drawing)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from gesbench.report.content import Details, Document, Failure, ReportTable, Section
from gesbench.report.html import render_html
from gesbench.report.markdown import render_markdown

TABLE = pd.DataFrame({"method": ["a|b", "<c>"], "value": ["1", "2\n3"]})
FAILED = Failure("P", "M<1>", 2, "failed", "abc123", "ValueError: bad\ntraceback line")
DOCUMENT = Document(
    name="demo <run>",
    description="what it is for",
    run_dir=Path("/runs/demo"),
    sections=(
        Section("Trials", tables=(ReportTable("", TABLE),), failures=()),
        Section("Failures", failures=(FAILED,)),
        Section("Missing", notice="Not drawn: no <alignment>."),
        Section(
            "Spec",
            paragraphs=("One & two.",),
            details=(Details("Experiment spec", 'a\n```\n{"x": 1}', "json"),),
        ),
    ),
)


def test_html_escapes_and_marks_notices_failures_and_details():
    html = render_html(DOCUMENT)
    assert "<h1>demo &lt;run&gt;</h1>" in html and "<code>/runs/demo</code>" in html
    assert html.index("<h2>Trials</h2>") < html.index("<h2>Spec</h2>")
    assert "<p>No failed or diverged trials.</p>" in html  # an empty list of failures says so
    assert html.count("No failed or diverged trials.") == 1  # only where failures are listed
    assert '<li class="status-failed"><b>M&lt;1&gt;</b> on P, repetition 2: failed' in html
    assert "<summary>ValueError: bad</summary>" in html
    assert '<p class="notice">Not drawn: no &lt;alignment&gt;.</p>' in html
    assert "<details><summary>Experiment spec</summary><pre>a\n```" in html
    assert "<td>&lt;c&gt;</td>" in html and "<script" not in html


def test_markdown_lists_failures_quotes_notices_and_fences_details_safely():
    markdown = render_markdown(DOCUMENT)
    assert markdown.startswith("# demo <run>\n\nwhat it is for\n")
    assert "| a\\|b | 1 |" in markdown and "| <c> | 2 3 |" in markdown
    assert "### Failed and diverged trials" in markdown.split("## Failures")[1]
    assert "No failed or diverged trials" not in markdown
    assert "- **M<1>** on P, repetition 2: failed (trial abc123): ValueError: bad" in markdown
    assert "## Missing\n\n> Not drawn: no <alignment>.\n" in markdown
    # The spec holds a ``` line, so the fence is longer than any run of backticks in it.
    assert '````json\na\n```\n{"x": 1}\n````' in markdown
