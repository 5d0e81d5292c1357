"""Ranks across problems (Demsar 2006): the Friedman test over blocks, every pair of methods
compared by mean rank with Holm's correction, and the critical-difference diagram."""

from __future__ import annotations

import pandas as pd

from gesbench.analysis.friedman import friedman
from gesbench.report import formatting as fmt
from gesbench.report.content import ReportTable, Section
from gesbench.report.figures.cd import cd_figure
from gesbench.report.model import SEED, RunData
from gesbench.report.sections.base import FINISHED, Need, ReportSection
from gesbench.report.writer import Writer

SEVERAL_METHODS = Need(
    lambda run: run.finals["label"].nunique() >= 2,
    "the run has results of fewer than two methods.",
    quiet=True,
)


def draw(run: RunData, out: Writer) -> Section | None:
    result = friedman(run.finals, seed=SEED)
    if result is None:
        return Section(
            "Ranks across problems",
            notice="Not drawn: fewer than two methods have results on two or more blocks "
            "(problems, or repetitions of the one problem).",
        )
    test = result.test.iloc[0]
    blocks, kind = int(test["blocks"]), str(test["block_kind"])
    unit = (
        "problems (each method's median final value on it)"
        if kind == "problem"
        else "repetitions of the one problem (paired instances)"
    )
    text = [
        f"Methods ranked on each of {blocks} {unit}, 1 = lowest final {run.value_label}. "
        f"Friedman test of equal mean ranks: permutation p = {test['permutation_p']:.3g} "
        f"({int(test['permutations'])} seeded within-block permutations; chi-square "
        f"approximation p = {fmt.pvalue(test['chi2_p']) or 'n/a'}, Iman-Davenport F p = "
        f"{fmt.pvalue(test['f_p']) or 'n/a (every block ranks the methods alike)'}).",
        "Every pair of methods is compared by its difference in mean rank, p-values from the "
        "same permutations, Holm-corrected over all pairs; a bar joins methods with no "
        "significant difference between any two of them (5%). The Nemenyi critical "
        "difference, the classic reference, is drawn above the axis.",
    ]
    if blocks < 5:
        text.append(
            f"With {blocks} blocks the test has little power: few differences can be "
            "significant however large they are."
        )
    fig = cd_figure(
        result.ranks,
        result.groups,
        float(test["critical_difference"]),
        run.colors,
        f"Mean ranks over {blocks} {kind}s (bars: no significant difference, Holm 5%)",
    )
    data = result.ranks.assign(
        group=[
            "; ".join(str(i + 1) for i, g in enumerate(result.groups) if label in g)
            for label in result.ranks["label"]
        ]
    )
    figure = out.figure("critical_difference", fig, "Critical-difference diagram.", data)
    pairs = result.pairs
    csv = out.csv("rank_comparisons", pairs)
    shown = pd.DataFrame(
        {
            "method": pairs["label"],
            "opponent": pairs["opponent"],
            "mean rank difference": pairs["rank_diff"].map("{:+.2f}".format),
            "permutation p": pairs["permutation_p"].map(fmt.pvalue),
            "Holm p": pairs["holm_p"].map(fmt.pvalue),
            "significant": pairs["significant"].map({True: "yes", False: "no"}),
        }
    )
    return Section(
        "Ranks across problems",
        tuple(text),
        (ReportTable("Pairwise comparisons of mean ranks", shown, csv),),
        figures=(figure,),
    )


SECTION = ReportSection("ranks", "Ranks across problems", draw, needs=(SEVERAL_METHODS, FINISHED))
