"""The run model every report section reads: a run folder's results and what was stored about
its components, built from :func:`~gesbench.store.reader.load_results` and
:func:`~gesbench.store.reader.read_meta` alone.

The report never builds a problem and never asks the registry: a run's plugins need not be
installed to report on it. What the sections need is stored with the run: each trial's
``dim`` (NA in stores written before it was kept) and the meta key ``components``, which says,
per problem and optimizer name, its ``summary``, declared ``defaults``, ``uses_surrogate`` and
whether it is Guided ES or a configuration of it (``guided_es``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gesbench import analysis as metrics
from gesbench.analysis.curves import TrialTraces
from gesbench.analysis.subset import subset_results
from gesbench.analysis.tuning import evaluation_only
from gesbench.core.errors import GesbenchError
from gesbench.report.figures.style import Colors, method_colors
from gesbench.spec.filters import Selection
from gesbench.store.reader import Results, load_results, read_meta

SEED = 0
"""Seed of every bootstrap in the report, so a report is a function of its store."""


def labels_in_spec_order(meta: dict[str, Any], trials: pd.DataFrame) -> list[str]:
    """The run's method labels in the order the spec lists them (others after, sorted)."""
    spec_labels = [o["label"] for o in meta.get("experiment", {}).get("optimizers", [])]
    present = set(trials["label"])
    return [x for x in spec_labels if x in present] + sorted(present - set(spec_labels))


def optimizer_info(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """What the run stored about an optimizer (stores older than that know nothing)."""
    return dict(meta.get("components", {}).get("optimizers", {}).get(name, {}))


def ges_params(trials: pd.DataFrame, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Optimizer params of every label run by Guided ES proper (alpha < 1)."""
    out = {}
    for label, spec in trials.drop_duplicates("label").set_index("label")["spec"].items():
        data = json.loads(spec)
        params = data["optimizer_params"]
        info = optimizer_info(meta, data["optimizer"])
        if info.get("guided_es") and params.get("alpha", 1.0) < 1:
            out[str(label)] = params
    return out


def choose_reference(trials: pd.DataFrame, labels: Sequence[str], meta: dict[str, Any]) -> str:
    """The method every other is tested against: Guided ES at its default alpha, beta, k, P
    if present, else the first Guided ES label, else the first method ('' for no method)."""
    ges = ges_params(trials, meta)
    keys = ("alpha", "beta", "k", "pairs")
    for label in labels:
        if label not in ges:
            continue
        optimizer = json.loads(trials.loc[trials["label"] == label, "spec"].iloc[0])["optimizer"]
        defaults = optimizer_info(meta, optimizer).get("defaults", {})
        if all(ges[label].get(k) == defaults.get(k) for k in keys):
            return label
    return next((x for x in labels if x in ges), labels[0] if labels else "")


X_COUNTERS = ("iteration", "evaluations", "gradient_calls")
BUDGET_AXES = {"iterations": "iteration", "evaluations": "evaluations",
               "gradient_calls": "gradient_calls", "cost": "cost"}  # fmt: skip
"""The trace column each budget kind counts."""


def value_names(traces: pd.DataFrame) -> dict[str, str]:
    """Per problem: 'excess_loss' where f* is known (every logged point with a finite loss
    has an excess loss; a diverged point's NaN does not count), else 'loss'."""
    finished = traces["status"].isin(["done", "diverged"]).to_numpy()
    loss = traces["loss"].to_numpy(dtype=float, na_value=np.nan)
    finite = finished & np.isfinite(loss)
    problems = traces["problem_label"]
    known = traces["excess_loss"].notna()[finite].groupby(problems[finite]).all()
    return {
        str(p): "excess_loss" if bool(known.get(p, False)) else "loss"
        for p in dict.fromkeys(problems[finished])
    }


def budget_kind(meta: dict[str, Any], trials: pd.DataFrame) -> str:
    """The run's budget kind: from the stored spec, else from a trial's spec, else
    'iterations'."""
    kind = meta.get("experiment", {}).get("budget", {}).get("kind")
    if kind is None and len(trials):
        try:
            kind = json.loads(trials["spec"].iloc[0]).get("budget", {}).get("kind")
        except (TypeError, ValueError, AttributeError):
            kind = None
    return str(kind) if kind in BUDGET_AXES else "iterations"


@dataclass(frozen=True)
class RunData:
    """A run's tidy results plus what every section needs.

    ``traces`` has a ``value`` column: the excess loss on problems where f* is known, else the
    loss (``y_names`` says which, per problem). ``finals`` is each trial's final value (diverged
    runs count as +inf). ``colors`` maps every method, in spec order, to its colour (a hash of
    its label: the same in every report).
    """

    run_dir: Path
    results: Results
    meta: dict[str, Any]
    colors: Colors
    y_names: dict[str, str]  # per problem: 'excess_loss' where f* is known, else 'loss'
    finals: pd.DataFrame
    reference: str
    budget_label: str
    budget_kind: str = "iterations"

    @property
    def trials(self) -> pd.DataFrame:
        return self.results.trials

    @property
    def traces(self) -> pd.DataFrame:
        return self.results.traces

    @property
    def labels(self) -> list[str]:
        """Method labels in spec order."""
        return list(self.colors)

    @property
    def problems(self) -> list[str]:
        """Problem labels in the order of the trials table."""
        return [str(p) for p in dict.fromkeys(self.trials["problem_label"])]

    @property
    def experiment(self) -> dict[str, Any]:
        """The spec last run into the folder, as stored ({} in stores without one)."""
        return dict(self.meta.get("experiment", {}))

    @property
    def value_label(self) -> str:
        """What ``value`` is, for axis labels and captions."""
        if set(self.y_names.values()) == {"excess_loss"}:
            return "excess loss f - f*"
        if set(self.y_names.values()) == {"loss"}:
            return "loss"
        return "loss (excess loss where f* known)"

    @property
    def budget_axis(self) -> str:
        """The trace column the run's budget counts (always one of the x axes)."""
        return BUDGET_AXES.get(self.budget_kind, "iteration")

    @property
    def x_axes(self) -> tuple[str, ...]:
        """Convergence x axes: the budget's first, then the other counters, then wall time."""
        others = [x for x in X_COUNTERS if x != self.budget_axis]
        return (self.budget_axis, *others, "wall_time")

    @cached_property
    def trace_data(self) -> TrialTraces:
        """Every trace as flat arrays by trial (built once, shared by the curve sections)."""
        columns = [*X_COUNTERS, "cost", "wall_time", "value", "alignment"]
        return TrialTraces.from_traces(self.traces, columns)

    def optimizer_info(self, name: str) -> dict[str, Any]:
        """What the run stored about the optimizer called ``name``."""
        return optimizer_info(self.meta, name)

    @cached_property
    def comparisons(self) -> pd.DataFrame:
        """:func:`~gesbench.analysis.final_table` of the run against its reference, methods in
        spec order within each problem (shared by the verdict and the final results)."""
        table = metrics.final_table(self.finals, self.reference, seed=SEED)
        order = {label: i for i, label in enumerate(self.labels)}
        problems = {p: i for i, p in enumerate(self.problems)}
        return table.sort_values(
            ["problem_label", "label"],
            key=lambda c: c.map(order if c.name == "label" else problems),
            kind="stable",
            ignore_index=True,
        )

    @cached_property
    def ges_params(self) -> dict[str, dict[str, Any]]:
        """Params of every method run by Guided ES proper (alpha < 1), by label."""
        return ges_params(self.trials, self.meta)

    @property
    def ges_label(self) -> str | None:
        """The Guided ES method the theory is drawn for: the reference when it is Guided ES,
        else the first Guided ES method in spec order (None without one)."""
        if self.reference in self.ges_params:
            return self.reference
        return next((x for x in self.labels if x in self.ges_params), None)


def load_run(
    run_dir: str | Path, reference: str | None = None, *, only: Selection | None = None
) -> RunData:
    """The run model of ``run_dir``; ``reference`` defaults to :func:`choose_reference`;
    ``only`` keeps the problems and methods it chooses."""
    run_dir = Path(run_dir)
    results = evaluation_only(load_results(run_dir))  # tuning trials never enter the verdict
    if only is not None:
        results = subset_results(results, only)
    meta = read_meta(run_dir)
    trials, traces = results.trials, results.traces
    labels = labels_in_spec_order(meta, trials)
    y_names = value_names(traces)
    excess = traces["problem_label"].map(y_names).to_numpy() == "excess_loss"
    traces["value"] = np.where(excess, traces["excess_loss"], traces["loss"])
    if reference is not None and reference not in labels:
        raise GesbenchError(f"reference {reference!r} is not a method of this run: {labels}")
    kind = budget_kind(meta, trials)
    return RunData(
        run_dir=run_dir,
        results=results,
        meta=meta,
        colors=method_colors(labels),
        y_names=y_names,
        finals=metrics.final_values(trials, traces, "value"),
        reference=reference or choose_reference(trials, labels, meta),
        budget_label=f"budget spent ({kind})",
        budget_kind=kind,
    )
