"""The report of a run folder, built from its store alone, rendered as HTML and Markdown.

- :mod:`~gesbench.report.model`: the run model (:class:`~gesbench.report.model.RunData`), read
  with :func:`~gesbench.store.reader.load_results` and :func:`~gesbench.store.reader.read_meta`
  only: no problem is built and no registry is asked, so a run's plugins need not be installed.
- :mod:`~gesbench.report.sections`: one module per section, each declaring what it needs and
  drawing itself, in the order of :data:`~gesbench.report.sections.SECTIONS`.
- :mod:`~gesbench.report.figures`: one module per figure family, shared style in ``style``;
  matplotlib's object API only, so importing the report leaves matplotlib's global state alone.
- :mod:`~gesbench.report.content`: what a report contains; :mod:`~gesbench.report.html` and
  :mod:`~gesbench.report.markdown` render it; :mod:`~gesbench.report.writer` writes the files.
- :mod:`~gesbench.report.build`: :func:`build_report` ties them together, each section drawn in
  isolation so one that fails is a note and the rest of the report is still written.
- :mod:`~gesbench.report.formatting`: how numbers appear in tables (and in LaTeX).
- :mod:`~gesbench.report.readme_tables`: the README's recorded-results tables from run folders
  (``gesbench readme-tables``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_report"]


def __getattr__(name: str) -> Any:
    # Imported on first use: drawing needs matplotlib, which `gesbench list` never should.
    if name == "build_report":
        from gesbench.report.build import build_report

        return build_report
    raise AttributeError(name)
