"""The report's sections, in the order they appear: one module per section, each declaring
what it needs from the run (:class:`~gesbench.report.sections.base.Need`) and drawing itself
(``draw(run, out) -> Section | None``), registered in :data:`SECTIONS`.

Adding a figure: write a module here with a ``draw`` that makes the figure (its drawing code
in the same module, or in :mod:`gesbench.report.figures` when sections share it), writes it
with ``out.figure(name, fig, caption, data)`` and returns a
:class:`~gesbench.report.content.Section`; end the module with
``SECTION = ReportSection(name, title, draw, needs=(...))`` and add ``SECTION`` to
:data:`SECTIONS` where it should appear. A section that raises is shown as a short note and
the rest of the report is still written.
"""

from __future__ import annotations

from gesbench.report.sections import (
    across,
    alignment,
    coco,
    convergence,
    final,
    provenance,
    ranks,
    sweep,
    theory,
    trials,
    tuning,
    verdict,
)
from gesbench.report.sections.base import Need, NotDrawn, ReportSection

SECTIONS: tuple[ReportSection, ...] = (
    verdict.SECTION,
    convergence.SECTION,
    alignment.SECTION,
    final.SECTION,
    ranks.SECTION,
    coco.SECTION,
    across.SECTION,
    sweep.SECTION,
    tuning.SECTION,
    theory.SECTION,
    trials.SECTION,
    provenance.SECTION,
)
"""Every section of the report, in order: the verdict first, then the evidence; trial counts
and provenance are ``appendix`` sections, last, after any extra sections a caller adds."""

__all__ = ["SECTIONS", "Need", "NotDrawn", "ReportSection"]
