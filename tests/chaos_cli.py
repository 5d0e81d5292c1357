"""The real command line, in a fresh interpreter, for the chaos suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def gesbench(*args: object, cwd: Path | None = None, timeout: float = 300):
    """Run the real command line in a fresh interpreter; a hang fails the test."""
    return subprocess.run(
        [sys.executable, "-m", "gesbench.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
