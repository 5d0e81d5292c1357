"""Build a run folder's figures and their CSVs from the store alone (never re-runs a trial)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from gesbench.curves import summarize
from gesbench.plots import curve_grid, method_colors
from gesbench.results import load_results

CONVERGENCE_X = ("iteration", "evaluations")


def build_report(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``convergence.{png,csv}`` and ``alignment.{png,csv}`` into ``run_dir``.

    Convergence shows the excess loss where every problem's f* is known, else the loss.
    Returns the paths written.
    """
    run_dir = Path(run_dir)
    results = load_results(run_dir)
    traces = results.traces
    colors = method_colors(list(dict.fromkeys(results.trials["label"])))
    y_name = "excess_loss" if traces["excess_loss"].notna().all() else "loss"
    written: list[Path] = []

    def save(name: str, curves_by_x: list[pd.DataFrame], log_y: bool, title: str) -> None:
        curves = pd.concat(curves_by_x, ignore_index=True)
        curves.to_csv(run_dir / f"{name}.csv", index=False)
        written.append(run_dir / f"{name}.csv")
        if curves.empty:
            return
        x_names = list(dict.fromkeys(curves["x_name"]))
        fig = curve_grid(curves, x_names, colors, log_y=log_y, title=title)
        fig.savefig(run_dir / f"{name}.png", dpi=120)
        plt.close(fig)
        written.append(run_dir / f"{name}.png")

    save(
        "convergence",
        [summarize(traces, x, y_name) for x in CONVERGENCE_X],
        log_y=True,
        title="Convergence",
    )
    if traces["alignment"].notna().any():
        save(
            "alignment",
            [summarize(traces, "iteration", "alignment")],
            log_y=False,
            title="Alignment along each method's trajectory",
        )
    return written
