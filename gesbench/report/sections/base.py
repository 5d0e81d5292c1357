"""What a report section is: a name, a title, what it needs from the run, and how it draws.

A section's ``draw(run, out)`` reads the :class:`~gesbench.report.model.RunData`, writes its
figures and CSVs through ``out`` (:class:`~gesbench.report.writer.Writer`) and returns the
:class:`~gesbench.report.content.Section` to show, or None when it has nothing to show.
:meth:`ReportSection.render` runs it in isolation: an unmet :class:`Need` becomes a notice
saying why the section is not drawn (or leaves a section out that does not apply to the run),
and an error inside ``draw`` becomes a short note naming the section and the error, so the
rest of the report is still written.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from gesbench.report.content import Details, Section
from gesbench.report.model import RunData
from gesbench.report.writer import Writer

log = logging.getLogger("gesbench.report")

Draw = Callable[[RunData, Writer], Section | None]


class NotDrawn(Exception):
    """Raised inside ``draw`` when the run lacks what the section needs; the message says what
    (it is shown as the section's notice)."""


@dataclass(frozen=True)
class Need:
    """Something a section needs from the run, checked before it draws.

    ``missing`` completes "Not drawn: ..." when ``met`` is false (a function of the run when
    the reason depends on it). A ``quiet`` need says whether the section applies to the run at
    all (a sweep, Guided ES): when it is unmet the section is left out without a word.
    Needs are checked quiet ones first, then in the order given.
    """

    met: Callable[[RunData], bool]
    missing: str | Callable[[RunData], str]
    quiet: bool = False

    def why(self, run: RunData) -> str:
        """What the run lacks, as a sentence."""
        return self.missing if isinstance(self.missing, str) else self.missing(run)


@dataclass(frozen=True)
class ReportSection:
    """A registered part of the report (see :mod:`gesbench.report.sections`).

    ``appendix`` sections (provenance) come after any extra sections a caller adds.
    """

    name: str
    title: str
    draw: Draw
    needs: tuple[Need, ...] = ()
    appendix: bool = False

    def render(self, run: RunData, out: Writer) -> Section | None:
        """Check the needs, then draw; never raises for what the data or the drawing does."""
        try:
            for need in sorted(self.needs, key=lambda n: not n.quiet):
                if not need.met(run):
                    return None if need.quiet else self.notice(f"Not drawn: {need.why(run)}")
            return self.draw(run, out)
        except NotDrawn as why:
            return self.notice(f"Not drawn: {why}")
        except Exception as error:
            log.warning("report section %r failed", self.name, exc_info=True)
            first = (str(error).strip().splitlines() or [""])[0]
            if len(first) > 300:
                first = first[:297] + "..."
            message = f"{type(error).__name__}: {first}" if first else type(error).__name__
            return Section(
                self.title,
                notice=f"The {self.name!r} section failed ({message}); "
                "the rest of the report is unaffected.",
                details=(Details("Traceback", traceback.format_exc()),),
            )

    def notice(self, text: str) -> Section:
        """The section, titled, with only a notice."""
        return Section(self.title, notice=text)


FINISHED = Need(
    lambda run: not run.finals.empty,
    "no trial of this run finished or diverged (see Trials for the errors).",
)
ALIGNMENT = Need(
    lambda run: bool(run.traces["alignment"].notna().any()),
    "no problem of this run has a true gradient, so no surrogate alignment was logged.",
)
