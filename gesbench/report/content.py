"""What a report contains, independent of how it is rendered (HTML or Markdown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    """A table ready to show (formatted cells); its raw numbers are in ``csv``."""

    caption: str
    frame: pd.DataFrame
    csv: Path | None = None


@dataclass(frozen=True)
class Section:
    """A titled part of a report: paragraphs of text, then tables, then figures."""

    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[ReportTable, ...] = ()
    figures: tuple[ReportFigure, ...] = ()


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
class RunHeader:
    """The run a report describes: spec, provenance, trial counts and failures."""

    name: str
    description: str
    run_dir: Path
    spec: dict[str, Any]
    provenance: pd.DataFrame
    counts: pd.DataFrame
    failures: tuple[Failure, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
