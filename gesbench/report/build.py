"""Build a run folder's report from its store alone (never re-runs a trial, never builds a
problem, never asks the registry).

``build_report(run_dir)`` loads the run model (:func:`~gesbench.report.model.load_run`), runs
each registered section (:data:`gesbench.report.sections.SECTIONS`) in isolation, and writes
into the run folder: ``report.html`` (self-contained: figures embedded, opens from disk),
``summary.md``, every figure as PNG and SVG, and beside each figure the CSV of what it shows.
A section the run cannot support says why; a section that fails is shown as a short note
naming it and its error, and the rest of the report is still written.

The verdict comes first and trial counts and provenance last. Curves are medians over
repetitions with order-statistic bands (their coverage at the run's repetition count in the
legend); repetitions are read off a fixed grid per x axis by step interpolation of the
*current* value (the true loss at the optimizer's recommendation when it was logged), not of
the best-so-far. The runtime measures and performance profiles, which ask when a target was
first reached, use the best-so-far of the logged values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from gesbench.report.content import Document, Section
from gesbench.report.html import write_html
from gesbench.report.markdown import write_markdown
from gesbench.report.model import RunData, choose_reference, load_run
from gesbench.report.sections import SECTIONS, ReportSection
from gesbench.report.writer import Writer
from gesbench.spec.filters import Selection

__all__ = ["RunData", "build_report", "choose_reference", "load_run"]


def build_report(
    run_dir: str | os.PathLike[str],
    *,
    reference: str | None = None,
    extra_sections: Sequence[Section] = (),
    sections: Sequence[ReportSection] | None = None,
    only: Selection | None = None,
    out_dir: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write the report of ``run_dir`` (see the module docstring); return the paths written.

    ``reference`` is the label every method is tested against (default: Guided ES at its
    default hyperparameters when present). ``extra_sections`` are added after the registered
    sections, before the appendix (provenance): e.g. a reproduction's check table.
    ``sections`` replaces the registered sections (default :data:`SECTIONS`). ``only`` draws
    the report of the problems and methods it chooses (``gesbench report --problems``), and
    ``out_dir`` is where the report goes (default: the run folder itself).
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, reference, only=only)
    target = run_dir if out_dir is None else Path(out_dir)
    target.mkdir(parents=True, exist_ok=True)
    out = Writer(target)
    chosen = SECTIONS if sections is None else tuple(sections)
    body = [s.render(run, out) for s in chosen if not s.appendix]
    appendix = [s.render(run, out) for s in chosen if s.appendix]
    drawn = [s for s in [*body, *extra_sections, *appendix] if s is not None]
    experiment = run.experiment
    document = Document(
        name=str(experiment.get("name", run_dir.name)),
        description=str(experiment.get("description", "")),
        run_dir=run_dir,
        sections=tuple(drawn),
    )
    out.written.append(write_markdown(target / "summary.md", document))
    out.written.append(write_html(target / "report.html", document))
    return out.written
