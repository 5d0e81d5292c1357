"""Stopping multiprocessing's fork server, so that the next executor starts one afresh, as in a
new process (through its private ``_stop``, which CPython's own tests use)."""

from __future__ import annotations


def stop_fork_server() -> None:
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if getattr(server, "_forkserver_pid", None) is not None:
        server._stop()  # type: ignore[union-attr]
