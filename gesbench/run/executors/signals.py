"""Starting worker processes that leave Ctrl-C to the driver, and that do not import the
driver's main module."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C while worker processes are started in the block.

    Ctrl-C in a terminal reaches every process of the job; workers should leave it to the
    driver (which stops them) instead of each printing a traceback, even when it comes while
    they are still importing. A process inherits an *ignored* signal across exec (not a
    handler, nor a blocked mask: Python's spawn resets the mask, and other threads would
    take the signal anyway), and Python then never installs its KeyboardInterrupt handler.
    A Ctrl-C that comes while the block runs is lost (starting a worker process takes
    milliseconds; pressing Ctrl-C again works).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


@contextmanager
def spawned_ignoring_sigint() -> Iterator[None]:
    """Every process started with multiprocessing's 'spawn' method in the block (from any
    thread: a local Dask cluster starts and restarts its workers from its own) ignores
    Ctrl-C from its first instruction, without the driver ignoring it for a moment.

    Spawned processes run through a two-line shell wrapper that ignores SIGINT (``trap ''
    INT``) and then execs the real interpreter, which inherits the ignored signal. Where
    there is no POSIX shell, this falls back to :func:`sigint_ignored`.
    """
    import multiprocessing.spawn as spawn

    shell = shutil.which("sh")
    if shell is None or sys.platform == "win32":
        with sigint_ignored():
            yield
        return
    python = os.fsdecode(spawn.get_executable())
    with tempfile.TemporaryDirectory(prefix="gesbench-") as folder:
        wrapper = Path(folder) / "python-ignoring-sigint"
        wrapper.write_text(f"#!{shell}\ntrap '' INT\nexec {shlex.quote(python)} \"$@\"\n")
        wrapper.chmod(0o700)
        spawn.set_executable(str(wrapper))
        try:
            yield
        finally:
            spawn.set_executable(python)


@contextmanager
def sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C back until the block is done, then raise KeyboardInterrupt: for setting
    up something that must not be left half made (a local Dask cluster half started cannot
    be shut down cleanly)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """Processes started with the 'spawn' method in the block do not import the caller's main
    module (a script, the test runner, the console script of a tool that drives gesbench).

    Spawn re-imports it in every child unless it is missing, which costs each worker its
    imports (0.5 s for a script that imports the experiment loop and pandas) and runs a script
    without an ``if __name__ == "__main__"`` guard once more per worker. Workers need none of
    it: they run gesbench's own functions on specs, and find plugins through entry points.
    The main module is swapped for an empty one only while the block runs.
    """
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main
