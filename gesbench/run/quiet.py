"""Keep libraries' warnings off the terminal unless asked for (``gesbench -v``).

matplotlib, nevergrad, pycma, numpy's floating-point warnings and the like say things about
their own internals that a user of the command line cannot act on, and they bury gesbench's
own messages. :func:`library_warnings_hidden` shows a warning only when gesbench issued it
(its category is defined in gesbench, or a plain ``UserWarning`` raised from gesbench's own
code) and counts the others; the command line prints the count at the end. Worker processes
started meanwhile (process pool, local Dask cluster) inherit ``PYTHONWARNINGS=ignore``, and the
libraries' loggers are raised to ERROR.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

PACKAGE_DIR = Path(__file__).resolve().parents[1]
LIBRARY_LOGGERS = ("matplotlib", "nevergrad", "cma", "distributed", "PIL", "fontTools")


def issued_by_gesbench(category: type[Warning], filename: str) -> bool:
    """Whether a warning is gesbench's own: a category defined in gesbench, or a plain
    ``UserWarning`` raised from a file of the gesbench package."""
    if getattr(category, "__module__", "").split(".")[0] == "gesbench":
        return True
    if category is not UserWarning:
        return False
    try:
        return Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    except (OSError, ValueError):
        return False


@contextmanager
def library_warnings_hidden() -> Iterator[Counter[str]]:
    """Within the block, show gesbench's own warnings as before (``warnings.showwarning``) and
    hide the others; yields a Counter of the hidden ones by category name."""
    hidden: Counter[str] = Counter()
    previous = warnings.showwarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issued_by_gesbench(category, filename):
            previous(message, category, filename, lineno, file, line)
        else:
            hidden[category.__name__] += 1

    levels = {name: logging.getLogger(name).level for name in LIBRARY_LOGGERS}
    environment = os.environ.get("PYTHONWARNINGS")
    with warnings.catch_warnings():
        warnings.showwarning = show
        os.environ["PYTHONWARNINGS"] = "ignore"  # worker processes started meanwhile
        for name in LIBRARY_LOGGERS:
            logging.getLogger(name).setLevel(max(levels[name], logging.ERROR))
        try:
            yield hidden
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)
            if environment is None:
                os.environ.pop("PYTHONWARNINGS", None)
            else:
                os.environ["PYTHONWARNINGS"] = environment


def hidden_note(hidden: Counter[str]) -> str | None:
    """The line that says what was hidden (None when nothing was)."""
    if not hidden:
        return None
    total = sum(hidden.values())
    kinds = ", ".join(f"{n} {name}" for name, n in hidden.most_common())
    return f"{total} warning(s) from libraries hidden ({kinds}); gesbench -v shows them"
