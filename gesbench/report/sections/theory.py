"""Theory, problem by problem: Guided ES's bias-variance trade-off and the phase diagram of the
optimal alpha (:mod:`gesbench.ges.theory`, exact for quadratics) at that problem's n and the
run's k, P and beta, with the alignment Guided ES measured on that problem overlaid.

Drawn for the run's Guided ES method (the reference when it is Guided ES proper, as the run's
stored ``components`` say, else the first Guided ES method); a run without Guided ES has no
theory section. It needs the problem dimension, stored per trial as ``dim``; stores written
before that column existed say so instead of drawing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.curves import summarize
from gesbench.ges import theory
from gesbench.report.content import ReportFigure, Section
from gesbench.report.figures.theory import theory_figure
from gesbench.report.model import RunData
from gesbench.report.sections.base import FINISHED, Need, ReportSection
from gesbench.report.writer import Writer

PAPER = {"alpha": 0.5, "beta": 2.0, "k": 1, "pairs": 1}
"""The paper's defaults, used where a run stored neither the parameter nor its default."""


def _aligned(run: RunData) -> pd.DataFrame:
    """The Guided ES method's logged points that have an alignment."""
    traces = run.traces
    return traces[(traces["label"] == run.ges_label) & traces["alignment"].notna()]


GUIDED_ES = Need(
    lambda run: run.ges_label is not None, "the run has no Guided ES method.", quiet=True
)


def _no_alignment(run: RunData) -> str:
    trials = run.trials
    finished = trials[(trials["label"] == run.ges_label) & (trials["status"] != "failed")]
    why = "its problems have no true gradient" if len(finished) else "every trial of it failed"
    return (
        f"the Guided ES method {run.ges_label} logged no alignment ({why}), and the theory "
        "is drawn along that alignment."
    )


def _dims(run: RunData) -> pd.Series:
    """The Guided ES method's problem dimension per problem (where stored)."""
    trials = run.trials
    chosen = trials[trials["label"] == run.ges_label]
    return chosen.dropna(subset=["dim"]).groupby("problem_label", sort=False)["dim"].first()


ALIGNMENT = Need(lambda run: not _aligned(run).empty, _no_alignment)
DIMENSION = Need(
    lambda run: bool(set(_dims(run).index) & set(_aligned(run)["problem_label"])),
    "the problem dimension n is not stored with this run (its store was written by an older "
    "gesbench, before trials kept their dimension); re-running the experiment into a new "
    "folder stores it.",
)


def bias_variance_table(rhos: Sequence[float], n: int, k: int, P: int, beta: float) -> pd.DataFrame:
    """The curves of the bias-variance panels, over alpha, for each rho (NaN where a closed
    form is 0/0, as the MSE at beta* for rho = 0 and alpha = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return _bias_variance_table(rhos, n, k, P, beta)


def _bias_variance_table(
    rhos: Sequence[float], n: int, k: int, P: int, beta: float
) -> pd.DataFrame:
    alpha = np.linspace(0, 1, 101)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "rho": rho,
                    "alpha": alpha,
                    "bias_squared": theory.bias_squared(rho, alpha, beta, k, n),
                    "variance": theory.variance(rho, alpha, beta, k, n, P),
                    "mse": theory.mse(rho, alpha, beta, k, n, P),
                    "optimal_beta": theory.optimal_beta(rho, alpha, k, n, P),
                    "mse_at_optimal_beta": theory.optimal_mse(rho, alpha, k, n, P),
                }
            )
            for rho in rhos
        ],
        ignore_index=True,
    )


def optimal_alpha(rho: float, k: int, n: int, P: int) -> float:
    """alpha* at one alignment (NaN where the closed form is 0/0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(theory.optimal_alpha(rho, k, n, P))


def slug(text: str, taken: set[str]) -> str:
    """A file-name-safe name for a problem label, unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "problem"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def parameters(run: RunData) -> tuple[int, int, float]:
    """k, P and beta of the Guided ES method: as run, else its stored defaults, else the
    paper's."""
    params: dict[str, Any] = dict(run.ges_params[str(run.ges_label)])
    spec = run.trials.loc[run.trials["label"] == run.ges_label, "spec"]
    optimizer = str(json.loads(spec.iloc[0]).get("optimizer", "")) if len(spec) else ""
    defaults = run.optimizer_info(optimizer).get("defaults", {})

    def get(key: str) -> Any:
        return params.get(key, defaults.get(key, PAPER[key]))

    return int(get("k")), int(get("pairs")), float(get("beta"))


def draw(run: RunData, out: Writer) -> Section:
    label = str(run.ges_label)
    k, P, beta = parameters(run)
    paths = summarize(run.trace_data, "iteration", "alignment", kind="alignment").summary
    paths = paths[paths["label"] == label]
    dims = _dims(run)
    figures: list[ReportFigure] = []
    text, skipped = [], []
    taken: set[str] = set()
    for problem in run.problems:
        path = paths[paths["problem_label"] == problem]
        rho = np.abs(path["median"].to_numpy(dtype=float))
        rho = rho[np.isfinite(rho)]
        n = int(dims[problem]) if problem in dims.index else 0
        if not n or len(rho) < 1 or k >= n:
            reason = (
                "no dimension stored"
                if not n
                else "no alignment logged"
                if len(rho) < 1
                else f"k = {k} is not below n = {n}: the subspace is the whole space"
            )
            skipped.append(f"{problem} ({reason})")
            continue
        start, end = round(float(rho[0]), 3), round(float(np.median(rho[-5:])), 3)
        rhos = sorted({start, end}, reverse=True)
        fig = theory_figure(
            rhos, n, k, P, beta, {label: (k / n, [start, end])}, run.colors,
            f"{problem}: {label}, n = {n}, k = {k}, P = {P}, beta = {beta:g}",
        )  # fmt: skip
        data = pd.concat(
            [
                bias_variance_table(rhos, n, k, P, beta).assign(kind="bias_variance"),
                path.assign(kind="measured_alignment", k_over_n=k / n, n=n),
            ],
            ignore_index=True,
        )
        name = f"theory_{slug(problem, taken)}"
        figures.append(
            out.figure(name, fig, f"Theory at the measured alignment on {problem}.", data)
        )
        text.append(
            f"{problem} (n = {n}): the alignment rho of {label} goes from {start:.3g} at the "
            f"start to {end:.3g} at the end (median over repetitions); at those values the "
            f"optimal alpha is {optimal_alpha(start, k, n, P):.2f} and "
            f"{optimal_alpha(end, k, n, P):.2f}."
        )
    intro = (
        f"From the closed forms in gesbench.ges.theory (exact for quadratics), at each "
        f"problem's n and {label}'s k = {k}, P = {P}, beta = {beta:g}: the bias-variance "
        "trade-off of the gradient estimate over alpha at the alignment measured at the start "
        "and at the end of the run, and the phase diagram of the optimal alpha with the "
        "measured alignment track. Errors are relative to ||grad f||^2."
    )
    if skipped:
        text.append("Not drawn for: " + "; ".join(skipped) + ".")
    return Section("Theory", (intro, *text), figures=tuple(figures))


SECTION = ReportSection(
    "theory",
    "Theory",
    draw,
    needs=(GUIDED_ES, FINISHED, ALIGNMENT, DIMENSION),
)
