"""Build a run folder's report from its store alone (never re-runs a trial).

``build_report(run_dir)`` writes, into the run folder: ``report.html`` (self-contained: figures
embedded, opens from disk), ``summary.md``, every figure as PNG and SVG, and beside each figure
the CSV of what it shows. Curves are medians over repetitions with seeded 95% bootstrap bands;
repetitions are aligned on a common x grid by step interpolation of the *current* value (the
true loss at the optimizer's recommendation when it was logged), not of the best-so-far. The
runtime ECDF and performance profiles, which ask when a target was first reached, use the
best-so-far of the logged values.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gesbench import analysis as metrics
from gesbench.analysis.curves import summarize
from gesbench.core.errors import GesbenchError
from gesbench.ges import theory
from gesbench.report.content import Failure, ReportFigure, ReportTable, RunHeader, Section
from gesbench.report.figures import (
    bias_variance_figure,
    curve_grid,
    ecdf_figure,
    method_colors,
    phase_figure,
    profile_figure,
    sweep_figure,
    win_rate_figure,
)
from gesbench.report.html import write_html
from gesbench.report.markdown import write_markdown
from gesbench.store.reader import Results, load_results, read_meta

CONVERGENCE_X = ("iteration", "evaluations", "gradient_calls", "wall_time")
PROFILE_TAUS = (0.5, 0.1, 0.01)
SEED = 0


@dataclass(frozen=True)
class RunData:
    """A run's tidy results plus what every section needs."""

    results: Results
    meta: dict[str, Any]
    colors: dict[str, tuple[float, float, float]]
    y_names: dict[str, str]  # per problem: 'excess_loss' where f* is known, else 'loss'
    finals: pd.DataFrame
    reference: str
    budget_label: str


def _labels_in_spec_order(meta: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    spec_labels = [o["label"] for o in meta.get("experiment", {}).get("optimizers", [])]
    present = set(trials["label"])
    return [x for x in spec_labels if x in present] + sorted(present - set(spec_labels))


def _optimizer_info(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """What the run stored about an optimizer (stores older than that know nothing)."""
    return dict(meta.get("components", {}).get("optimizers", {}).get(name, {}))


def _ges_params(trials: pd.DataFrame, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Optimizer params of every label run by Guided ES proper (alpha < 1)."""
    out = {}
    for label, spec in trials.drop_duplicates("label").set_index("label")["spec"].items():
        data = json.loads(spec)
        params = data["optimizer_params"]
        info = _optimizer_info(meta, data["optimizer"])
        if info.get("guided_es") and params.get("alpha", 1.0) < 1:
            out[str(label)] = params
    return out


def choose_reference(trials: pd.DataFrame, labels: Sequence[str], meta: dict[str, Any]) -> str:
    """The method every other is tested against: Guided ES at its default alpha, beta, k, P
    if present, else the first Guided ES label, else the first method."""
    ges = _ges_params(trials, meta)
    keys = ("alpha", "beta", "k", "pairs")
    for label in labels:
        if label not in ges:
            continue
        optimizer = json.loads(trials.loc[trials["label"] == label, "spec"].iloc[0])["optimizer"]
        defaults = _optimizer_info(meta, optimizer).get("defaults", {})
        if all(ges[label].get(k) == defaults.get(k) for k in keys):
            return label
    return next((x for x in labels if x in ges), labels[0])


def load_run(run_dir: Path, reference: str | None = None) -> RunData:
    results = load_results(run_dir)
    meta = read_meta(run_dir)
    trials, traces = results.trials, results.traces
    labels = _labels_in_spec_order(meta, trials)
    finished = traces[traces["status"].isin(["done", "diverged"])]
    y_names = {
        str(p): "excess_loss" if g["excess_loss"].notna().all() else "loss"
        for p, g in finished.groupby("problem_label")
    }
    traces["value"] = np.where(
        traces["problem_label"].map(y_names) == "excess_loss", traces["excess_loss"], traces["loss"]
    )
    if reference is not None and reference not in labels:
        raise GesbenchError(f"reference {reference!r} is not a method of this run: {labels}")
    budget = meta.get("experiment", {}).get("budget", {})
    return RunData(
        results=results,
        meta=meta,
        colors=method_colors(labels),
        y_names=y_names,
        finals=metrics.final_values(trials, traces, "value"),
        reference=reference or choose_reference(trials, labels, meta),
        budget_label=f"budget spent ({budget.get('kind', 'budget units')})",
    )


def value_label(run: RunData) -> str:
    names = set(run.y_names.values())
    return "excess loss f - f*" if names == {"excess_loss"} else "loss (excess loss where f* known)"


class Writer:
    """Writes figures (PNG + SVG) and CSVs into the run folder, remembering every path."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.written: list[Path] = []

    def csv(self, name: str, frame: pd.DataFrame) -> Path:
        path = self.run_dir / f"{name}.csv"
        frame.to_csv(path, index=False)
        self.written.append(path)
        return path

    def figure(self, name: str, fig: Figure, caption: str, data: pd.DataFrame) -> ReportFigure:
        csv = self.csv(name, data)
        png, svg = self.run_dir / f"{name}.png", self.run_dir / f"{name}.svg"
        fig.savefig(png, dpi=130)
        fig.savefig(svg)
        plt.close(fig)
        self.written += [png, svg]
        return ReportFigure(name, caption, png, svg, csv)


def _distinct(column: pd.Series) -> str:
    """A column's distinct values; with counts when the trials disagree (e.g. two hosts)."""
    counts = column.astype(str).value_counts()
    if len(counts) == 1:
        return str(counts.index[0])
    return "; ".join(f"{value} ({n} trials)" for value, n in counts.items())


def header(run: RunData, run_dir: Path) -> RunHeader:
    trials = run.results.trials
    experiment = run.meta.get("experiment", {})
    counts = trials.pivot_table(
        index=["problem_label", "label"],
        columns="status",
        values="id",
        aggfunc="count",
        fill_value=0,
        sort=False,
    ).reset_index()
    for status in ("done", "diverged", "failed"):
        if status not in counts:
            counts[status] = 0
    counts = counts[["problem_label", "label", "done", "diverged", "failed"]]
    counts.columns = pd.Index(["problem", "method", "done", "diverged", "failed"])
    failures = tuple(
        Failure(
            str(r["problem_label"]),
            str(r["label"]),
            int(r["repetition"]),
            str(r["status"]),
            str(r["id"]),
            str(r["error"] or ""),
        )
        for r in trials[trials["status"] != "done"].to_dict("records")
    )
    rows = []
    for text in trials["provenance"]:
        p = json.loads(text)
        flat = {f"version: {k}": v for k, v in p.get("versions", {}).items()}
        flat |= {k: p.get(k) for k in ("git_commit", "host", "platform", "python")}
        rows.append(flat)
    prov = pd.DataFrame(rows)
    provenance = pd.DataFrame([{"field": c, "value(s)": _distinct(prov[c])} for c in prov.columns])
    return RunHeader(
        name=str(experiment.get("name", run_dir.name)),
        description=str(experiment.get("description", "")),
        run_dir=run_dir,
        spec=experiment,
        provenance=provenance,
        counts=counts,
        failures=failures,
    )


def convergence_sections(run: RunData, out: Writer) -> list[Section]:
    traces = run.results.traces
    curves = pd.concat(
        [
            summarize(traces[traces["problem_label"] == p], x, y, seed=SEED)
            for p, y in run.y_names.items()
            for x in CONVERGENCE_X
        ],
        ignore_index=True,
    )
    text = (
        "Median over repetitions with a seeded 95% percentile-bootstrap band. Repetitions are "
        "aligned on the union of their logged x values by step interpolation of the current "
        "value (the true loss at the optimizer's recommendation when last logged), and shown "
        "only where every repetition has been logged. Failed trials are left out (see above)."
    )
    sections = []
    if not curves.empty:
        fig = curve_grid(curves, CONVERGENCE_X, run.colors, log_y=True, title="Convergence")
        caption = "Convergence against iterations, loss evaluations, surrogate calls, wall time."
        sections.append(
            Section(
                "Convergence", (text,), figures=(out.figure("convergence", fig, caption, curves),)
            )
        )
    if traces["alignment"].notna().any():
        curves = summarize(traces, "iteration", "alignment", seed=SEED)
        if not curves.empty:
            fig = curve_grid(
                curves,
                ["iteration"],
                run.colors,
                log_y=False,
                title="Alignment along each method's own trajectory",
            )
            caption = "Cosine between a fresh surrogate draw and the true gradient at x_t."
            sections.append(
                Section("Alignment", figures=(out.figure("alignment", fig, caption, curves),))
            )
    return sections


def _fmt(value: float) -> str:
    return "diverged" if value == np.inf else f"{value:.3g}"


def final_section(run: RunData, out: Writer) -> Section:
    table = metrics.final_table(run.finals, run.reference, seed=SEED)
    order = {label: i for i, label in enumerate(run.colors)}
    table = table.sort_values(
        ["problem_label", "label"],
        key=lambda c: c.map(order) if c.name == "label" else c,
        kind="stable",
        ignore_index=True,
    )
    trials = run.results.trials
    extra = [c for c in trials.columns if c.startswith("final_") and c != "final_loss"]
    if extra:  # final metrics some problems report (e.g. final_accuracy): medians over done
        done = trials[trials["status"] == "done"]
        medians = done.groupby(["problem_label", "label"])[extra].median().reset_index()
        table = table.merge(medians, on=["problem_label", "label"], how="left")
    csv = out.csv("final_results", table)
    winners = set(zip(table["problem_label"], table["winner"], strict=True))
    rows = table.to_dict("records")
    shown = pd.DataFrame(
        {
            "problem": table["problem_label"],
            "method": table["label"],
            "n": table["n"],
            "median final [95% CI]": [
                f"{_fmt(r['median'])}{' ★' if (r['problem_label'], r['label']) in winners else ''}"
                f" [{_fmt(r['low'])}, {_fmt(r['high'])}]"
                for r in rows
            ],
            "mean rank": table["mean_rank"].map("{:.2f}".format),
            f"vs {run.reference}: Holm p": table["holm_p"].map(
                lambda p: "" if np.isnan(p) else f"{p:.3g}"
            ),
            "effect r": table["effect"].map(lambda r: "" if np.isnan(r) else f"{r:+.2f}"),
            "significant win": [
                f"★ {r['winner']}" if r["significant"] else ("n.s." if r["pairs"] else "")
                for r in rows
            ],
            **{
                f"median {c.removeprefix('final_')}": table[c].map(
                    lambda v: "" if np.isnan(v) else f"{v:.3g}"
                )
                for c in extra
            },
        }
    )
    paragraphs = [
        f"Final {value_label(run)} per method: median over repetitions with its seeded 95% "
        "bootstrap CI; diverged runs count as the worst value. Mean rank is over repetitions "
        f"(1 = lowest). Each method is compared with {run.reference} by a two-sided paired "
        "Wilcoxon signed-rank test over repetitions (same problem instance), Holm-corrected "
        "across the methods of each problem; effect r is the matched-pairs rank-biserial "
        f"correlation (+1: the method ends lower than {run.reference} on every pair). ★ marks "
        "the lower side of a difference significant at 5% after correction."
    ]
    tested = table[table["pairs"] > 0]
    if len(tested):
        pairs, m = int(tested["pairs"].min()), int(tested.groupby("problem_label").size().max())
        smallest = min(1.0, m * 2.0 / 2**pairs)  # all pairs one way, Holm's largest factor
        if smallest > 0.05:
            needed = int(np.ceil(np.log2(m * 2 / 0.05)))
            paragraphs.append(
                f"Note: with {pairs} pairs and {m} comparisons per problem, the smallest "
                f"possible Holm-adjusted p-value is {smallest:.3g} (exact two-sided Wilcoxon, "
                f"every pair one way), so no difference can reach 5% significance here; that "
                f"takes at least {needed} repetitions."
            )
    return Section("Final results", tuple(paragraphs), (ReportTable("", shown, csv),))


def across_section(run: RunData, out: Writer) -> Section:
    traces = run.results.traces
    references = {
        p: v
        for p, v in metrics.best_logged(traces, "value").items()
        if run.y_names.get(p) == "loss"
    }
    goals = metrics.targets(traces, "value", references=references)
    hits = metrics.hitting_times(traces, goals, "cost", "value")
    finite = hits["hit"][np.isfinite(hits["hit"]) & (hits["hit"] > 0)]
    top = float(traces["cost"].max())
    low = float(finite.min()) if len(finite) else 1.0
    grid = np.unique(np.concatenate([[0.0], np.geomspace(low, max(top, low), 300)]))
    ecdf = metrics.runtime_ecdf(hits, grid)
    subtitle = (
        f"{goals['relative'].nunique()} targets per problem, log-spaced from "
        f"{goals['relative'].max():.2g} to {goals['relative'].min():.2g} of the initial gap"
    )
    figures = [
        out.figure(
            "ecdf",
            ecdf_figure(ecdf, run.colors, run.budget_label, subtitle),
            "Runtime ECDF over all problems, trials and targets.",
            ecdf,
        )
    ]
    out.csv("ecdf_hits", hits)
    costs = pd.concat(
        [metrics.solve_costs(traces, "cost", "value", tau) for tau in PROFILE_TAUS],
        ignore_index=True,
    )
    ratios = np.geomspace(1, 1000, 300)
    profiles = pd.concat(
        [
            metrics.performance_profile(c, ratios).assign(tau=tau)
            for tau, c in costs.groupby("tau", sort=False)
        ],
        ignore_index=True,
    )
    figures.append(
        out.figure(
            "performance_profile",
            profile_figure(profiles, run.colors, run.budget_label),
            "Dolan-More performance profiles.",
            profiles,
        )
    )
    rates = metrics.win_rate(run.finals, seed=SEED)
    figures.append(
        out.figure(
            "win_rate", win_rate_figure(rates, list(run.colors)), "Pairwise win rates.", rates
        )
    )
    text = (
        "Runtime ECDF (COCO style): for each problem, targets are log-spaced fractions of the "
        "initial gap (excess loss where f* is known, else the gap to the best loss any method "
        "logged); a (trial, target) pair counts as reached at the first logged budget where "
        "the best-so-far gap is at or below the target. Performance profiles (Dolan-More): an "
        "instance (problem x repetition) is solved once f <= f_L + tau (f_0 - f_L), f_L the "
        "best value any method logged on it; the profile is the share of instances solved "
        "within a factor of the fastest method's budget. Win rate: share of instances where "
        "the row method ends lower than the column method (ties 1/2), with a 95% bootstrap CI "
        "over instances."
    )
    return Section("Across problems", (text,), figures=tuple(figures))


def sweep_sections(run: RunData, out: Writer) -> list[Section]:
    grid = metrics.sweep_grid(run.results.trials, run.finals)
    if grid.empty:
        return []
    figures = []
    for optimizer, sub in grid.groupby("optimizer", sort=False):
        sub = sub.dropna(axis=1, how="all")
        defaults = _optimizer_info(run.meta, str(optimizer)).get("defaults", {})
        fig = sweep_figure(sub, defaults, value_label(run))
        if fig is not None:
            name = f"sweep_{optimizer}"
            caption = f"Median final {value_label(run)} of each {optimizer} setting."
            figures.append(out.figure(name, fig, caption, sub))
    if not figures:
        return []
    text = (
        "Median final value over repetitions of each swept setting; the optimizer's default "
        "setting is outlined in red; hatched cells had diverged runs (counted as +inf)."
    )
    return [Section("Hyperparameter sweep", (text,), figures=tuple(figures))]


def theory_sections(run: RunData, out: Writer) -> list[Section]:
    """GES theory at this run's settings, with the reference run's alignment overlaid."""
    ges = _ges_params(run.results.trials, run.meta)
    if run.reference not in ges:
        return []
    traces = run.results.traces
    ref = traces[(traces["label"] == run.reference) & traces["alignment"].notna()]
    if ref.empty:
        return []
    problem_label = str(ref["problem_label"].iloc[0])
    trial = run.results.trials
    dims = trial.loc[
        (trial["label"] == run.reference) & (trial["problem_label"] == problem_label), "dim"
    ].dropna()
    if dims.empty:  # a store written before dimensions were kept
        return []
    n = int(dims.iloc[0])
    params = ges[run.reference]
    k, P, beta = int(params["k"]), int(params["pairs"]), float(params["beta"])
    path = summarize(ref, "iteration", "alignment", seed=SEED)
    rho = np.abs(path["median"].to_numpy())
    rhos = sorted({round(float(rho[0]), 2), round(float(np.median(rho[-5:])), 3)}, reverse=True)
    figures = [
        out.figure(
            "theory_bias_variance",
            bias_variance_figure(rhos, n, k, P, beta),
            "Bias-variance trade-off of the GES estimate over alpha.",
            _bias_variance_table(rhos, n, k, P, beta),
        ),
        out.figure(
            "theory_phase",
            phase_figure(n, P, {run.reference: (k / n, rho)}, run.colors),
            "Optimal alpha over alignment and k/n.",
            path.assign(k_over_n=k / n, n=n),
        ),
    ]
    text = (
        f"From the closed forms in gesbench.ges.theory (exact for quadratics), at this run's "
        f"n = {n}, k = {k}, P = {P}, beta = {beta:g}. The alignment rho of {run.reference} on "
        f"{problem_label} goes from {rhos[0]:.2f} at the start to {rhos[-1]:.3g} at the end "
        f"(median over repetitions); the phase diagram shows that track against the regimes "
        f"of the optimal alpha. Errors are relative to ||grad f||^2."
    )
    return [Section("Theory", (text,), figures=tuple(figures))]


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


def build_report(
    run_dir: str | os.PathLike[str],
    *,
    reference: str | None = None,
    extra_sections: Sequence[Section] = (),
) -> list[Path]:
    """Write the report of ``run_dir`` (see the module docstring); return the paths written.

    ``reference`` is the label every method is tested against (default: Guided ES at its
    default hyperparameters when present). ``extra_sections`` are appended (e.g. a
    reproduction's check table).
    """
    run_dir = Path(run_dir)
    run = load_run(run_dir, reference)
    out = Writer(run_dir)
    head = header(run, run_dir)
    sections: list[Section] = []
    if not run.finals.empty:
        sections += convergence_sections(run, out)
        sections.append(final_section(run, out))
        sections.append(across_section(run, out))
        sections += sweep_sections(run, out)
        sections += theory_sections(run, out)
    sections += extra_sections
    out.written.append(write_markdown(run_dir / "summary.md", head, sections))
    out.written.append(write_html(run_dir / "report.html", head, sections))
    return out.written
