"""Importing the report, and drawing and writing a figure, leave matplotlib's global state
alone: no backend chosen, pyplot never imported, rcParams untouched."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys, tempfile
    from pathlib import Path

    import matplotlib
    import pandas as pd

    def raw(params):  # read without resolving the backend (rcParams["backend"] would)
        return {k: dict.__getitem__(params, k) for k in params}

    before = raw(matplotlib.rcParams)  # the backend is still unresolved here
    import gesbench.report
    from gesbench.report import figures, sections

    for package in (gesbench.report, figures, sections):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    from gesbench.report.figures.curves import curve_grid
    from gesbench.report.figures.style import method_colors
    from gesbench.report.writer import Writer

    curves = pd.DataFrame({
        "problem_label": "p", "label": "a", "x_name": "iteration", "y_name": "loss",
        "x": [0.0, 1.0, 2.0], "median": [3.0, 2.0, 1.0], "low": [2.5, 1.5, 0.5],
        "high": [3.5, 2.5, 1.5], "n": 3,
    })
    fig = curve_grid(curves, ["iteration"], method_colors(["a"]), log_y=True)
    with tempfile.TemporaryDirectory() as folder:
        Writer(Path(folder)).figure("curves", fig, "caption", curves)
    assert "matplotlib.pyplot" not in sys.modules, "pyplot was imported"
    assert "seaborn" not in sys.modules, "seaborn (which imports pyplot) was imported"
    after = raw(matplotlib.rcParams)
    changed = {k for k in before if before[k] != after[k]}
    assert not changed, changed
    print("ok")
    """
)


def test_report_leaves_matplotlib_global_state_alone():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
