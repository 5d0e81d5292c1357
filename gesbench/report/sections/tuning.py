"""Tuning: how each tuned method's setting was chosen, on seeds it is not judged on.

The protocol (tuning seeds, criterion, scope, strategy), each method's tuning budget (and a
note when they differ), the selected settings (also ``tuning.csv``) with their notes (a
selection at the edge of the search space, ties and how they were broken, configurations
that all diverged), "default vs tuned" where the spec runs a method at its stated settings too,
and a sensitivity figure per method. Everything comes from the run's meta ``tuning`` (written
by :mod:`gesbench.run.tuning`) and, for "default vs tuned", the evaluation trials. The verdict
sections never see a tuning trial (:func:`gesbench.analysis.tuning.evaluation_only`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import pandas as pd

from gesbench.analysis import tuning as metrics
from gesbench.analysis.stats import median_ranks, rank_label
from gesbench.report.content import ReportTable, Section
from gesbench.report.figures.sensitivity import sensitivity_figure
from gesbench.report.figures.style import method_colors
from gesbench.report.model import RunData
from gesbench.report.sections.base import Need, ReportSection
from gesbench.report.writer import Writer

TUNED = Need(
    lambda run: bool(metrics.tuning_record(run.meta)), "the spec tunes nothing.", quiet=True
)

UNITS = {
    "iterations": "iterations",
    "evaluations": "loss evaluations",
    "gradient_calls": "surrogate calls",
    "cost": "cost units",
}


def _fmt(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    return "diverged" if value == math.inf else f"{value:.3g}"


def _protocol(record: dict[str, Any], run: RunData) -> str:
    settings = record.get("settings", {})
    strategy = settings.get("strategy", "grid")
    schedule = record.get("schedule", [])
    how = "every configuration at the full budget"
    if strategy == "halving":
        fractions = ", ".join(f"{r['fraction']:.3g}" for r in schedule)
        how = (
            f"successive halving (eta {settings.get('eta')}: each rung keeps the best "
            f"1/{settings.get('eta')} of each method's configurations; rungs at {fractions} of "
            "the budget, the same schedule for every method)"
        )
    scope = (
        "one setting per method and problem"
        if settings.get("scope") == "per_problem"
        else "one setting per method shared by every problem (mean over problems of each "
        "configuration's rank within a problem)"
    )
    evaluation = run.experiment.get("repetitions", "?")
    return (
        f"Every tuned method's setting was selected on {settings.get('repetitions')} tuning "
        f"seeds (stage 'tuning': problem instances and optimizer draws that no evaluation trial "
        f"uses), by {record.get('criterion', settings.get('select'))}; {scope}; {how}. Ties are "
        "broken by the budget spent before diverging, then by the order the configurations are "
        f"listed in. The results above come from the {evaluation} evaluation repetitions alone, "
        "at the selected settings: no tuning trial enters them."
    )


def _budget(record: dict[str, Any], out: Writer) -> ReportTable:
    unit = UNITS.get(str(record.get("budget_kind")), "budget units")
    costs = metrics.budget_table(record)
    shown = pd.DataFrame(
        {
            "method": costs["label"],
            "configurations": costs["configurations"].map(lambda n: str(n) if n else "not tuned"),
            "tuning trials per problem": costs["trials per problem"],
            f"{unit} per problem": costs["per_problem"].map("{:,.0f}".format),
            f"{unit} in all": costs["total"].map("{:,.0f}".format),
        }
    )
    notes = []
    if record.get("unequal"):
        notes.append(
            f"Unequal tuning budgets: {record['unequal']}. A method with a larger budget had more "
            "chances to find a good setting; weigh its results accordingly."
        )
    csv = out.csv("tuning_budget", costs)
    return ReportTable("Tuning budget per method", shown, csv, notes=tuple(notes))


def _selected(record: dict[str, Any], run: RunData, out: Writer) -> tuple[ReportTable, list[str]]:
    defaults = {
        name: dict(info.get("defaults", {}))
        for name, info in run.meta.get("components", {}).get("optimizers", {}).items()
    }
    table = metrics.selected_table(record, defaults)
    csv = out.csv("tuning", table)
    shown = pd.DataFrame(
        {
            "problem": table["problem_label"],
            "method": table["label"],
            "selected": table["setting"],
            f"score ({record.get('settings', {}).get('select')})": table["score"].map(_fmt),
            "median final (tuning seeds)": table["median_final"].map(_fmt),
            "default": table["default"],
            "default's score": [
                "not tried"
                if rung < 0
                else _fmt(score) + (f" (rung {rung + 1})" if rung != table_rung else "")
                for score, rung, table_rung in zip(
                    table["default_score"],
                    table["default_rung"],
                    [len(record.get("schedule", [])) - 1] * len(table),
                    strict=True,
                )
            ],
        }
    )
    select = record.get("settings", {}).get("select")
    if select == "median_final":  # the score is the median final value: shown once
        shown = shown.drop(columns=f"score ({select})")
    notes = []
    for row in table.to_dict("records"):
        for note in [n for n in str(row["notes"]).split("; ") if n]:
            where = row["problem_label"] if row["scope"] == "per_problem" else "all problems"
            notes.append(f"{row['label']} ({where}): {note}")
    notes = list(dict.fromkeys(notes))
    caption = "Selected settings (lower score is better)"
    return ReportTable(caption, shown, csv, notes=tuple(notes)), notes


def _intervals(table: pd.DataFrame, role: str) -> list[str]:
    columns = [table[f"{role}_{c}"] for c in ("median", "low", "high")]
    return [f"{_fmt(m)} [{_fmt(lo)}, {_fmt(hi)}]" for m, lo, hi in zip(*columns, strict=True)]


def _default_vs_tuned(run: RunData, out: Writer) -> ReportTable | None:
    table = metrics.default_vs_tuned(run.meta, run.trials, run.finals)
    if table.empty:
        return None
    csv = out.csv("default_vs_tuned", table)
    shown = pd.DataFrame(
        {
            "problem": table["problem_label"],
            "tuned": table["tuned"] + " (" + table["tuned_setting"] + ")",
            "median [CI]": _intervals(table, "tuned"),
            "stated settings": table["default"] + " (" + table["default_setting"] + ")",
            "median [CI] ": _intervals(table, "default"),
        }
    )
    sizes = sorted(set(table["tuned_n"]) | set(table["default_n"]))
    notes = [
        "CI: the median's order-statistic interval at 95% or the widest there is: "
        + "; ".join(rank_label(median_ranks(int(n))) for n in sizes)
        + "."
    ]
    if table["same_trials"].any():
        notes.append(
            "Where the tuned setting equals the stated one, both rows are the same trials."
        )
    return ReportTable("Default vs tuned (evaluation repetitions)", shown, csv, notes=tuple(notes))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower() or "method"


def draw(run: RunData, out: Writer) -> Section | None:
    record = metrics.tuning_record(run.meta)
    points = metrics.tuning_points(record)
    if len(points):
        budgets = {r["rung"]: r["budget"]["limit"] for r in record.get("schedule", [])}
        points["budget"] = points["rung"].map(budgets)
    counts = Counter(points["status"]) if len(points) else Counter()
    paragraphs = [
        _protocol(record, run),
        f"{len(points)} tuning trials: "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
    ]
    selected, _ = _selected(record, run, out)
    tables = [_budget(record, out), selected]
    compared = _default_vs_tuned(run, out)
    if compared is not None:
        tables.append(compared)
    figures = []
    chosen = pd.DataFrame(record.get("selected", []))
    labels = list(dict.fromkeys(points["label"])) if len(points) else []
    colors = method_colors(labels)
    for label in labels:
        mine = points[points["label"] == label]
        params = metrics.tuned_params(record, label)
        picks = chosen[chosen["label"] == label]
        selected_values = {
            str(r["problem_label"]): dict(r["params"]) for r in picks.to_dict("records")
        }
        optimizer = str(picks["optimizer"].iloc[0]) if len(picks) else ""
        default = run.optimizer_info(optimizer).get("defaults", {})
        problems = list(dict.fromkeys(mine["problem_label"]))
        fig = sensitivity_figure(
            mine,
            params,
            problems,
            selected_values,
            default,
            run.value_label,
            colors[label],
            label,
        )
        if fig is None:
            continue
        caption = (
            f"{label}: final {run.value_label} of every tuning trial against each tuned "
            "parameter, the median per value, the selected value (solid) and the declared "
            "default (dashed)."
        )
        figures.append(out.figure(f"sensitivity_{_slug(label)}", fig, caption, mine))
    return Section("Tuning", tuple(paragraphs), tuple(tables), figures=tuple(figures))


SECTION = ReportSection("tuning", "Tuning", draw, needs=(TUNED,))
