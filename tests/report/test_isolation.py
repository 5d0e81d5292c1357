"""A section that fails, or that the run cannot support, is shown in place and the rest of the
report is still written."""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from html import unescape

from report_fixtures import FIGURES, tiny_store_copy

from gesbench import parse_experiment
from gesbench.report.build import build_report
from gesbench.report.content import Section
from gesbench.report.model import RunData
from gesbench.report.sections import SECTIONS, Need, ReportSection, final, theory
from gesbench.report.writer import Writer
from gesbench.run.experiment import run_experiment


def explode(run: RunData, out: Writer) -> Section:
    raise RuntimeError("deliberately broken section\nsecond line of the message")


BROKEN = ReportSection("broken_figure", "Broken figure", explode)


def test_a_failing_section_is_a_note_in_place_and_every_other_section_is_written(
    tmp_path_factory, caplog
):
    run_dir = tiny_store_copy(tmp_path_factory)
    sections = (*SECTIONS[:2], BROKEN, *SECTIONS[2:])  # registered for this test only
    with caplog.at_level(logging.WARNING, logger="gesbench.report"):
        written = build_report(run_dir, sections=sections)
    assert "'broken_figure'" in caplog.text and "deliberately broken" in caplog.text

    note = (
        "The 'broken_figure' section failed (RuntimeError: deliberately broken section); "
        "the rest of the report is unaffected."
    )
    html = unescape((run_dir / "report.html").read_text())
    markdown = (run_dir / "summary.md").read_text()
    assert note in html and f"> {note}" in markdown
    assert "second line of the message" not in html.split(note)[0]  # a short note, first line
    # Every other section that applies to this run is drawn, the note in place.
    titles = [s.title for s in sections if f"<h2>{s.title}</h2>" in html]
    assert {"Verdict", "Convergence", "Broken figure", "Theory", "Provenance"} <= set(titles)
    html_order = [html.index(f"<h2>{title}</h2>") for title in titles]
    md_order = [markdown.index(f"\n## {title}\n") for title in titles]
    assert html_order == sorted(html_order) and md_order == sorted(md_order)
    assert {f"{name}.png" for name in FIGURES} <= {p.name for p in written}
    assert html.count("<img ") == len(FIGURES)
    assert "\n> " not in markdown.replace(f"> {note}", "")  # no other section has a notice


def test_unmet_needs_say_why_and_quiet_ones_leave_the_section_out(tmp_path_factory):
    run_dir = tiny_store_copy(tmp_path_factory)
    never = Need(lambda run: False, "the run has no such thing.")
    not_here = Need(lambda run: False, "nothing to say.", quiet=True)
    broken_need = Need(lambda run: 1 / 0 > 0, "unused")
    sections = (
        ReportSection("needy", "Needy", explode, needs=(never,)),
        ReportSection("absent", "Absent", explode, needs=(never, not_here)),
        ReportSection("odd", "Odd need", explode, needs=(broken_need,)),
        final.SECTION,
    )
    build_report(run_dir, sections=sections)
    markdown = (run_dir / "summary.md").read_text()
    assert "## Needy\n\n> Not drawn: the run has no such thing." in markdown
    assert "Absent" not in markdown and "nothing to say" not in markdown
    assert "The 'odd' section failed (ZeroDivisionError: division by zero)" in markdown
    assert "## Final results" in markdown and (run_dir / "final_results.csv").is_file()


def test_theory_says_why_without_the_problem_dimension(tmp_path_factory):
    """A store from before trials kept their dimension: no dim column at all."""
    run_dir = tiny_store_copy(tmp_path_factory)
    with closing(sqlite3.connect(run_dir / "results.sqlite")) as db:
        db.execute("ALTER TABLE trials DROP COLUMN dim")
        db.commit()
    written = build_report(run_dir, sections=(theory.SECTION, final.SECTION))
    markdown = (run_dir / "summary.md").read_text()
    assert "## Theory\n\n> Not drawn: the problem dimension n is not stored" in markdown
    assert not any(p.name.startswith("theory_") for p in written)
    assert "## Final results" in markdown


def test_a_run_where_every_trial_failed_is_reported_with_the_reasons(tmp_path):
    spec = {
        "name": "all_failed",
        "repetitions": 2,
        "budget": {"kind": "iterations", "limit": 20},
        "problems": [{"name": "perturbed_quadratic", "params": {"n": 5, "m": 10}}],
        "optimizers": [{"name": "guided_es", "label": "Too big", "params": {"k": 9}}],
    }
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    written = {p.name for p in build_report(tmp_path)}
    assert written == {"report.html", "summary.md"}
    markdown = (tmp_path / "summary.md").read_text()
    assert markdown.count("**Too big**") == 2 and "k must be <= n = 5" in markdown
    for section in SECTIONS:
        if section.name in ("trials", "provenance"):
            assert f"## {section.title}\n\n|" in markdown
        elif f"## {section.title}\n" in markdown:  # the others are left out (no sweep, ...)
            assert f"## {section.title}\n\n> Not drawn: no trial of this run finished" in markdown
    assert "Hyperparameter sweep" not in markdown and "Ranks across" not in markdown
