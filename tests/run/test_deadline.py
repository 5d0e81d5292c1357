"""Time limits in threads other than the main one (Dask runs trials in worker threads): one
watchdog thread per process raises TrialTimeout in the thread whose limit passed, and never
after its block ended."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from gesbench.core.errors import TrialTimeout
from gesbench.run.executors.timed import deadline


def in_thread(target: Callable[[], Any]) -> Any:
    """``target()``'s result, or the exception it raised, run in a new thread."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(target())
        except BaseException as exc:  # handed back to the caller
            box.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return box[0]


def spin(seconds: float) -> None:
    """Python bytecode for ``seconds`` (an injected exception takes effect here)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def limited_spin() -> float:
    start = time.monotonic()
    with deadline(0.05):
        spin(30.0)
    return time.monotonic() - start  # not reached when the limit strikes


def test_the_limit_strikes_in_a_thread():
    assert isinstance(in_thread(limited_spin), TrialTimeout)


def test_nothing_strikes_after_a_block_ends_in_time():
    def finish_then_spin() -> str:
        for _ in range(50):
            with deadline(0.02):
                pass
        spin(0.3)  # past every limit set above
        return "done"

    assert in_thread(finish_then_spin) == "done"


def test_one_watchdog_thread_serves_every_limit():
    def threads_seen_in_blocks() -> set[int | None]:
        seen: set[int | None] = set()
        for _ in range(20):
            with deadline(60.0):
                seen |= {t.ident for t in threading.enumerate() if t.name == "gesbench-limits"}
        return seen

    assert len(in_thread(threads_seen_in_blocks)) == 1  # (a timer thread per block: 20)


def _limit_in_a_forked_child(queue: Any) -> None:
    queue.put(type(in_thread(limited_spin)).__name__)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
def test_the_limit_strikes_in_a_forked_child_of_a_process_that_used_it():
    # the parent's watchdog thread is not copied into a forked child: the child starts its own
    assert isinstance(in_thread(limited_spin), TrialTimeout)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_limit_in_a_forked_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=120) == "TrialTimeout"
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.kill()
