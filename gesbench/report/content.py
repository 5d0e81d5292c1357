"""What a report contains, independent of how it is rendered (HTML or Markdown).

A section's ``draw`` returns a :class:`Section`; :mod:`gesbench.report.html` and
:mod:`gesbench.report.markdown` render a :class:`Document` of them. Nothing here draws or reads
the store, so a renderer can be tested on hand-made content.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class ReportFigure:
    """A figure written as ``name.png`` and ``name.svg``, with the CSV of the data it shows."""

    name: str
    caption: str
    png: Path
    svg: Path
    csv: Path | None


@dataclass(frozen=True)
class ReportTable:
    """A table ready to show (formatted cells); its raw numbers are in ``csv``.

    ``bold`` holds the (row, column) positions of cells to emphasise (the best value of a
    row); ``notes`` are short lines shown under the table (what marks and intervals mean);
    ``files`` are other renderings of it written beside the report (LaTeX, CSV as shown).
    """

    caption: str
    frame: pd.DataFrame
    csv: Path | None = None
    bold: frozenset[tuple[int, int]] = frozenset()
    notes: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Failure:
    """A trial that did not finish normally (failed or diverged), with its error text."""

    problem_label: str
    label: str
    repetition: int
    status: str
    id: str
    error: str


@dataclass(frozen=True)
class Details:
    """Preformatted text shown folded away (HTML ``<details>``), e.g. the experiment spec."""

    summary: str
    text: str
    language: str = ""  # the Markdown code-fence language ('json'); empty for plain text


@dataclass(frozen=True)
class Section:
    """A titled part of a report: a notice, paragraphs, tables, failed trials, folded
    details, then figures.

    ``notice`` says why the section is not drawn (what the run lacks) or that drawing it
    failed; renderers set it apart from the text. ``failures`` lists trials that did not
    finish normally (the run's Trials section).
    """

    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()
    failures: tuple[Failure, ...] | None = None  # None: not a list of trials at all
    details: tuple[Details, ...] = ()
    notice: str = ""


@dataclass(frozen=True)
class Document:
    """A whole report: the run's name, description and folder, then its sections in order."""

    name: str
    description: str
    run_dir: Path
    sections: tuple[Section, ...]
