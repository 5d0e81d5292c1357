"""The report of a run folder: sections and figures, rendered as HTML and Markdown."""

from __future__ import annotations

from typing import Any

__all__ = ["build_report"]


def __getattr__(name: str) -> Any:
    # Imported on first use: drawing needs matplotlib, which `gesbench list` never should.
    if name == "build_report":
        from gesbench.report.build import build_report

        return build_report
    raise AttributeError(name)
