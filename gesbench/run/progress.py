"""Progress of a run: a live bar in a terminal, plain lines everywhere else.

In a terminal (the stream is a TTY) the progress is tqdm's bar, redrawn in place. In a log
file, a CI job or a pipe, carriage-return redraws pile up into one unreadable line, so
:class:`LineProgress` prints a line instead every few percent of the trials (5% by default) or
every minute, whichever comes first, each with the counts, the elapsed time and an ETA from
the trials finished so far in this run, and a last line when the stage ends.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from tqdm import tqdm

STEP = 0.05
"""A line at every multiple of this fraction of the trials."""
INTERVAL = 60.0
"""... and at least one line per this many seconds while trials run."""


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...

    def __enter__(self) -> Progress: ...

    def __exit__(self, *exc: object) -> Any: ...


def duration(seconds: float) -> str:
    """``<1s``, ``42s``, ``3m07s``, ``2h05m``."""
    if not math.isfinite(seconds):
        return "?"
    if 0 < seconds < 0.5:
        return "<1s"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


class LineProgress:
    """Line-based progress for streams that are not terminals (see the module docstring).

    ``clock`` is the time source (``time.monotonic``); ``heartbeat`` starts a thread that
    prints a line when ``interval`` seconds pass without one (a long trial in a CI log).
    """

    def __init__(
        self,
        total: int,
        initial: int = 0,
        desc: str = "",
        unit: str = "trial",
        *,
        file: TextIO | None = None,
        step: float = STEP,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        heartbeat: bool = True,
    ) -> None:
        self.total, self.initial, self.n = total, initial, initial
        self.desc, self.unit = desc, unit
        self.file = file if file is not None else sys.stderr
        self.step, self.interval, self.clock = step, interval, clock
        self.started = self.last_line = clock()
        self._printed_at = initial
        self._lock = threading.Lock()
        self._closed = threading.Event()
        todo = total - initial
        self._print(
            f"{desc}: {total} {unit}s, {initial} done before, {todo} to run"
            if initial
            else f"{desc}: {total} {unit}s to run"
        )
        self._thread: threading.Thread | None = None
        if heartbeat and todo > 0 and interval > 0:
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()

    def _print(self, line: str) -> None:
        print(line, file=self.file, flush=True)

    def line(self) -> str:
        """The current state: counts, percentage, elapsed time and ETA."""
        elapsed = self.clock() - self.started
        ran = self.n - self.initial
        left = self.total - self.n
        share = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        text = f"{self.desc}: {self.n}/{self.total} {self.unit}s{share}, {duration(elapsed)}"
        if left > 0:
            eta = elapsed / ran * left if ran else math.inf
            text += f", ETA {duration(eta)}"
        return text

    def _emit(self) -> None:
        self._print(self.line())
        self.last_line = self.clock()
        self._printed_at = self.n

    def update(self, n: int = 1) -> None:
        with self._lock:
            self.n += n
            steps = max(1, math.ceil(self.step * self.total))
            crossed = self.n // steps > self._printed_at // steps
            late = self.clock() - self.last_line >= self.interval
            if (crossed or late) and self.n < self.total:
                self._emit()

    def _beat(self) -> None:
        while not self._closed.wait(max(1.0, self.interval / 4)):
            with self._lock:
                if self.clock() - self.last_line >= self.interval:
                    self._emit()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            if self.n != self._printed_at:  # the last line: where the stage ended
                self._emit()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Silent:
    def update(self, n: int = 1) -> None:
        return None

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def progress_bar(
    *,
    total: int,
    initial: int = 0,
    desc: str = "",
    unit: str = "trial",
    disable: bool = False,
    file: TextIO | None = None,
) -> Progress:
    """Progress of ``total`` trials (``initial`` of them already done) on ``file`` (stderr):
    tqdm's bar when it is a terminal, :class:`LineProgress` otherwise, nothing when
    ``disable``."""
    if disable:
        return _Silent()
    stream = file if file is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    if callable(isatty) and isatty():
        bar: Progress = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=stream)
        return bar
    return LineProgress(total, initial, desc, unit, file=stream)
