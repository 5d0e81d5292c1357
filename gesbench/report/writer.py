"""Where a report's files go: every figure (PNG and SVG) and table (CSV) into the run folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from gesbench.report.content import ReportFigure


class Writer:
    """Writes figures (PNG + SVG, with the CSV of their data) and CSVs into the run folder,
    remembering every path written."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.written: list[Path] = []

    def csv(self, name: str, frame: pd.DataFrame) -> Path:
        """Write ``name.csv``; return its path."""
        path = self.run_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        self.written.append(path)
        return path

    def text(self, name: str, content: str) -> Path:
        """Write ``name`` (a file name with its extension, e.g. ``verdict.tex``)."""
        path = self.run_dir / name
        path.write_text(content, encoding="utf-8")
        self.written.append(path)
        return path

    def figure(self, name: str, fig: Figure, caption: str, data: pd.DataFrame) -> ReportFigure:
        """Write ``name.png``, ``name.svg`` and ``name.csv`` (the data the figure shows)."""
        csv = self.csv(name, data)
        png, svg = self.run_dir / f"{name}.png", self.run_dir / f"{name}.svg"
        fig.savefig(png, dpi=130)
        # The layout is settled by the PNG; laying it out again for the SVG only costs time.
        fig.set_layout_engine("none")
        fig.savefig(svg)
        self.written += [png, svg]
        return ReportFigure(name, caption, png, svg, csv)
