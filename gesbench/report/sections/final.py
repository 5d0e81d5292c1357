"""Final results in full: per problem and method the median final value with its
order-statistic CI and that CI's coverage, the mean rank, and the paired comparison with the
reference: how much lower or higher (Hodges-Lehmann ratio with its exact CI), how often lower
(with its exact CI), the Holm-corrected p-value over every comparison of the run, and how many
repetitions it would take to detect the observed difference."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.final_table import pairs_to_reach, smallest_holm_p
from gesbench.analysis.stats import format_coverage
from gesbench.report import formatting as fmt
from gesbench.report.content import ReportTable, Section
from gesbench.report.model import RunData
from gesbench.report.sections.base import FINISHED, ReportSection
from gesbench.report.writer import Writer
from gesbench.store.reader import metric_columns


def shift_text(r: Mapping[Any, Any]) -> str:
    """The ratio (or difference) with its CI and that CI's coverage."""
    if not r["pairs"]:
        return ""
    if r["scale"] == "log ratio":
        text = fmt.with_interval(r["ratio"], r["ratio_low"], r["ratio_high"])
        if r["ratio"] == np.inf:
            text = "∞ (method diverged)"
        elif r["ratio"] == 0:
            text = f"0 {fmt.interval(r['ratio_low'], r['ratio_high'])} ({r['reference']} diverged)"
    else:
        text = fmt.with_interval(r["shift"], r["shift_low"], r["shift_high"])
    return f"{text} ({format_coverage(r['shift_coverage'])})"


def outcome(r: Mapping[Any, Any]) -> str:
    """Significant (and which side is lower), or why not: too few repetitions for an effect
    of the observed size, or no effect observed."""
    if not r["pairs"]:
        return ""
    if r["significant"]:
        return f"★ {r['winner']} lower"
    needed = r["pairs_needed"]
    if not np.isfinite(needed):
        return "n.s.: no effect observed"
    if needed > r["pairs"]:
        return f"n.s.: too few runs (~{int(needed)} needed)"
    return "n.s."


def draw(run: RunData, out: Writer) -> Section:
    table = run.comparisons.copy()
    trials = run.trials
    extra = metric_columns(trials)
    if extra:  # final metrics some problems report (e.g. final_accuracy): medians over done
        done = trials[trials["status"] == "done"]
        medians = done.groupby(["problem_label", "label"])[extra].median().reset_index()
        table = table.merge(medians, on=["problem_label", "label"], how="left")
    csv = out.csv("final_results", table)
    rows = table.to_dict("records")
    ref = run.reference
    shown = pd.DataFrame(
        {
            "problem": table["problem_label"],
            "method": table["label"],
            "n": table["n"],
            "median final [CI]": [
                fmt.with_interval(r["median"], r["low"], r["high"]) for r in rows
            ],
            "CI: order statistics, coverage": table["ci"],
            "mean rank": table["mean_rank"].map("{:.2f}".format),
            f"ratio method/{ref} [CI] (<1: method lower)": [shift_text(r) for r in rows],
            f"P(method < {ref}) [CI]": [
                fmt.with_interval(r["p_lower"], r["p_lower_low"], r["p_lower_high"])
                if r["pairs"]
                else ""
                for r in rows
            ],
            "Holm p (all comparisons)": table["holm_p"].map(fmt.pvalue),
            "verdict": [outcome(r) for r in rows],
            **{
                f"median {c.removeprefix('final_')}": table[c].map(
                    lambda v: "" if pd.isna(v) else f"{v:.3g}"
                )
                for c in extra
            },
        }
    )
    if set(table["scale"].dropna()) == {"difference"}:
        shown = shown.rename(
            columns={shown.columns[6]: f"difference method - {ref} [CI] (<0: method lower)"}
        )
    m = int((table["pairs"] > 0).sum())
    paragraphs = [
        f"Final {run.value_label} per method: median over repetitions with its "
        "distribution-free order-statistic CI (which order statistics, and the interval's "
        "actual coverage at this number of repetitions, are in their own column); diverged "
        "runs count as +inf. Mean rank is over repetitions (1 = lowest).",
        f"Every comparison is the method versus {ref} over the repetitions both finished "
        "(paired: the same problem instance). Ratio: Hodges-Lehmann estimate of method / "
        f"{ref} (the median of the pairwise averages of log ratios, exponentiated) with its "
        "exact signed-rank CI and that CI's coverage; below 1 the method ends lower. Where "
        "a problem has negative final values, differences replace ratios. P(method < "
        f"{ref}): the share of repetitions where the method ends lower (ties 1/2), with its "
        "Clopper-Pearson CI. p: two-sided Wilcoxon signed-rank test on the same log ratios, "
        f"Holm-corrected over all {m} comparisons of the run (every problem). ★ marks a "
        "difference significant at 5% and names the lower side; for the others, the "
        "repetitions needed to detect the observed effect with 80% power at 5% after Holm "
        "(Noether's formula, never fewer than the exact test allows) say whether "
        "'not significant' means too few runs.",
    ]
    tested = table[table["pairs"] > 0]
    if len(tested):
        pairs = int(tested["pairs"].min())
        if smallest_holm_p(pairs, m) > 0.05:
            paragraphs.append(
                f"Note: with {pairs} pairs and {m} comparisons the smallest possible "
                f"Holm-adjusted p-value is {smallest_holm_p(pairs, m):.3g} (exact two-sided "
                "signed-rank test, every pair one way), so no difference can reach 5% "
                f"significance here; that takes at least {pairs_to_reach(m)} repetitions."
            )
    return Section("Final results", tuple(paragraphs), (ReportTable("", shown, csv),))


SECTION = ReportSection("final_results", "Final results", draw, needs=(FINISHED,))
