"""Theory: Guided ES's bias-variance trade-off and the phase diagram of the optimal alpha
(:mod:`gesbench.ges.theory`, exact for quadratics) at the reference run's n, k, P and beta,
with its measured alignment overlaid.

Drawn when the reference method is Guided ES proper (as the run's stored ``components``
say). It needs the problem dimension, stored per trial as ``dim``; stores written before
that column existed say so instead of drawing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from gesbench.analysis.curves import summarize
from gesbench.ges import theory
from gesbench.report.content import Section
from gesbench.report.figures.theory import bias_variance_figure, phase_figure
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, Need, ReportSection
from gesbench.report.writer import Writer


def _aligned(run: RunData) -> pd.DataFrame:
    """The reference method's logged points that have an alignment."""
    traces = run.traces
    return traces[(traces["label"] == run.reference) & traces["alignment"].notna()]


def _problem(run: RunData) -> str:
    """The problem whose alignment track is drawn: the first the reference logged one on."""
    return str(_aligned(run)["problem_label"].iloc[0])


def _dims(run: RunData) -> pd.Series:
    trials = run.trials
    chosen = (trials["label"] == run.reference) & (trials["problem_label"] == _problem(run))
    return trials.loc[chosen, "dim"].dropna()


GUIDED_ES_REFERENCE = Need(
    lambda run: run.reference in run.ges_params,
    "the reference method is not Guided ES.",
    quiet=True,
)


def _no_alignment(run: RunData) -> str:
    trials = run.trials
    finished = trials[(trials["label"] == run.reference) & (trials["status"] != "failed")]
    why = "its problems have no true gradient" if len(finished) else "every trial of it failed"
    return (
        f"the reference method {run.reference} logged no alignment ({why}), and the theory "
        "is drawn along that alignment."
    )


REFERENCE_ALIGNMENT = Need(lambda run: not _aligned(run).empty, _no_alignment)
DIMENSION = Need(
    lambda run: not _dims(run).empty,
    "the problem dimension n is not stored with this run (its store was written by an older "
    "gesbench, before trials kept their dimension); re-running the experiment into a new "
    "folder stores it.",
)


def bias_variance_table(rhos: Sequence[float], n: int, k: int, P: int, beta: float) -> pd.DataFrame:
    """The curves of the bias-variance figure, over alpha, for each rho."""
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


def draw(run: RunData, out: Writer) -> Section:
    problem_label = _problem(run)
    n = int(_dims(run).iloc[0])
    params = run.ges_params[run.reference]
    k, P, beta = int(params["k"]), int(params["pairs"]), float(params["beta"])
    ref = _aligned(run)
    ref = ref[ref["problem_label"] == problem_label]
    path = summarize(ref, "iteration", "alignment", seed=SEED)
    rho = np.abs(path["median"].to_numpy())
    rhos = sorted({round(float(rho[0]), 2), round(float(np.median(rho[-5:])), 3)}, reverse=True)
    figures = (
        out.figure(
            "theory_bias_variance",
            bias_variance_figure(rhos, n, k, P, beta),
            "Bias-variance trade-off of the GES estimate over alpha.",
            bias_variance_table(rhos, n, k, P, beta),
        ),
        out.figure(
            "theory_phase",
            phase_figure(n, P, {run.reference: (k / n, rho)}, run.colors),
            "Optimal alpha over alignment and k/n.",
            path.assign(k_over_n=k / n, n=n),
        ),
    )
    text = (
        f"From the closed forms in gesbench.ges.theory (exact for quadratics), at this run's "
        f"n = {n}, k = {k}, P = {P}, beta = {beta:g}. The alignment rho of {run.reference} on "
        f"{problem_label} goes from {rhos[0]:.2f} at the start to {rhos[-1]:.3g} at the end "
        f"(median over repetitions); the phase diagram shows that track against the regimes "
        f"of the optimal alpha. Errors are relative to ||grad f||^2."
    )
    return Section("Theory", (text,), figures=figures)


SECTION = ReportSection(
    "theory",
    "Theory",
    draw,
    needs=(GUIDED_ES_REFERENCE, FINISHED, REFERENCE_ALIGNMENT, DIMENSION),
)
