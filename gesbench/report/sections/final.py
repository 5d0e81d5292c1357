"""Final results, the verdict: per problem and method the median final value with its
bootstrap CI, the mean rank, and a paired test against the reference method."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench import analysis as metrics
from gesbench.report.content import ReportTable, Section
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer


def _fmt(value: float) -> str:
    return "diverged" if value == np.inf else f"{value:.3g}"


def _power_note(table: pd.DataFrame) -> str | None:
    """Says so when the repetitions are too few for any difference to reach 5%."""
    tested = table[table["pairs"] > 0]
    if not len(tested):
        return None
    pairs, m = int(tested["pairs"].min()), int(tested.groupby("problem_label").size().max())
    smallest = min(1.0, m * 2.0 / 2**pairs)  # all pairs one way, Holm's largest factor
    if smallest <= 0.05:
        return None
    needed = int(np.ceil(np.log2(m * 2 / 0.05)))
    return (
        f"Note: with {pairs} pairs and {m} comparisons per problem, the smallest "
        f"possible Holm-adjusted p-value is {smallest:.3g} (exact two-sided Wilcoxon, "
        f"every pair one way), so no difference can reach 5% significance here; that "
        f"takes at least {needed} repetitions."
    )


def draw(run: RunData, out: Writer) -> Section:
    table = metrics.final_table(run.finals, run.reference, seed=SEED)
    order = {label: i for i, label in enumerate(run.labels)}
    table = table.sort_values(
        ["problem_label", "label"],
        key=lambda c: c.map(order) if c.name == "label" else c,
        kind="stable",
        ignore_index=True,
    )
    trials = run.trials
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
        f"Final {run.value_label} per method: median over repetitions with its seeded 95% "
        "bootstrap CI; diverged runs count as the worst value. Mean rank is over repetitions "
        f"(1 = lowest). Each method is compared with {run.reference} by a two-sided paired "
        "Wilcoxon signed-rank test over repetitions (same problem instance), Holm-corrected "
        "across the methods of each problem; effect r is the matched-pairs rank-biserial "
        f"correlation (+1: the method ends lower than {run.reference} on every pair). ★ marks "
        "the lower side of a difference significant at 5% after correction."
    ]
    note = _power_note(table)
    if note:
        paragraphs.append(note)
    return Section("Final results", tuple(paragraphs), (ReportTable("", shown, csv),))


SECTION = ReportSection("final_results", "Final results", draw, needs=(FINISHED,))
