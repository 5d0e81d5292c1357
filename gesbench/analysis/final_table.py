"""The final-results table: per problem and method the median final value with its
order-statistic CI (and that CI's actual coverage), the mean rank, and a paired comparison
with a reference method that says how large the difference is, how sure, and how many
repetitions it would take to tell.

Sign convention: every comparison is *method versus reference*. ``ratio`` is method /
reference (below 1: the method ends lower), ``p_lower`` is the share of paired repetitions
where the method ends lower than the reference (ties 1/2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.stats import (
    clopper_pearson,
    hodges_lehmann,
    holm,
    median_ci,
    median_ranks,
    noether_pairs,
    paired_differences,
    rank_label,
    signed_rank_test,
)

TABLE_COLUMNS = [
    "problem_label", "label", "n", "median", "low", "high", "coverage", "ci", "mean_rank",
    "reference", "pairs", "scale", "shift", "shift_low", "shift_high", "shift_coverage",
    "ratio", "ratio_low", "ratio_high", "p_lower", "p_lower_low", "p_lower_high",
    "wilcoxon_p", "holm_p", "significant", "winner", "pairs_needed",
]  # fmt: skip


def comparison_scale(values: pd.Series) -> str:
    """'log ratio' when every final value is >= 0 (losses, excess losses, +inf for
    divergence), so differences are compared as ratios; else 'difference'."""
    v = values.to_numpy(dtype=float)
    v = v[~np.isnan(v)]
    return "log ratio" if len(v) and (v >= 0).all() else "difference"


def _compare(method: np.ndarray, ref: np.ndarray, scale: str, level: float) -> dict[str, Any]:
    """Paired comparison of one method's finals with the reference's (same repetitions)."""
    d = paired_differences(method, ref, log=scale == "log ratio")
    test = signed_rank_test(d)
    shift = hodges_lehmann(d, 1 - level)
    wins = float(np.sum(method < ref) + 0.5 * np.sum(method == ref))
    low, high = clopper_pearson(wins, len(d), 1 - level)
    row: dict[str, Any] = {
        "pairs": len(d),
        "scale": scale,
        "shift": shift.estimate,
        "shift_low": shift.low,
        "shift_high": shift.high,
        "shift_coverage": shift.coverage,
        "p_lower": wins / len(d) if len(d) else np.nan,
        "p_lower_low": float(low),
        "p_lower_high": float(high),
        "wilcoxon_p": test.pvalue,
        "_walsh_superiority": shift.superiority,
    }
    if scale == "log ratio":
        with np.errstate(over="ignore"):
            ratio = np.exp([shift.estimate, shift.low, shift.high])
        row |= {"ratio": ratio[0], "ratio_low": ratio[1], "ratio_high": ratio[2]}
    return row


def final_table(
    finals: pd.DataFrame,
    reference: str,
    *,
    level: float = 0.05,
    power: float = 0.8,
    seed: int = 0,
) -> pd.DataFrame:
    """Summarise :func:`~gesbench.analysis.final_values` output, one row per (problem, method).

    - ``median``, ``low``, ``high``: median final value and its distribution-free
      order-statistic CI at ``1 - level``; ``coverage`` is the interval's actual coverage at
      the method's repetition count and ``ci`` says which order statistics it is
      (``[min, max] of 5, 93.75%``).
    - ``mean_rank``: rank among methods on each repetition (1 = lowest; ties share the mean
      rank; repetitions where a method has no result are left out of its mean).
    - Versus ``reference`` (a label), over the repetitions both finished (paired: same
      problem instance): ``shift`` is the Hodges-Lehmann estimate of method minus reference
      on the ``scale`` (log ratios where every value is >= 0, else differences) with its
      exact signed-rank CI (``shift_low``, ``shift_high``, actual ``shift_coverage``);
      ``ratio*`` is ``exp(shift*)`` (method / reference; below 1 the method ends lower);
      ``p_lower`` the share of pairs where the method ends lower, with its Clopper-Pearson
      CI; ``wilcoxon_p`` the two-sided signed-rank test on the same differences, and
      ``holm_p`` that p-value Holm-corrected across *every* comparison in the table (all
      problems). ``significant`` is ``holm_p <= level``; ``winner`` names the lower side of
      a significant difference.
    - ``pairs_needed``: repetitions a signed-rank test would need to detect the observed
      effect (Noether's formula on the observed ``P(D + D' < 0)``) with ``power`` at
      ``level / m``, Holm's strictest step over the table's ``m`` comparisons, and no fewer
      than the exact test's minimum: a "not significant" with ``pairs`` well below it means
      too few runs, not no difference. ``seed`` is unused (nothing here is random); it is
      kept so callers need not change.
    """
    del seed
    rows: list[dict[str, Any]] = []
    finals = finals[finals["final"].notna()]
    for problem, group in finals.groupby("problem_label", sort=False):
        wide = group.pivot_table(
            index="repetition", columns="label", values="final", aggfunc="first", sort=False
        )
        ranks = wide.rank(axis=1, method="average")
        scale = comparison_scale(group["final"])
        for label, values in group.groupby("label", sort=False)["final"]:
            band = median_ci(values.to_numpy(dtype=float), 1 - level)
            interval = median_ranks(len(values), 1 - level)
            row: dict[str, Any] = {
                "problem_label": problem,
                "label": label,
                "n": len(values),
                "median": float(band.median),
                "low": float(band.low),
                "high": float(band.high),
                "coverage": float(band.coverage),
                "ci": rank_label(interval),
                "mean_rank": float(ranks[label].mean()),
                "reference": reference,
                "pairs": 0,
                "scale": scale,
                "wilcoxon_p": np.nan,
            }
            if reference in wide.columns and label != reference:
                paired = wide[[label, reference]].dropna()
                if len(paired):
                    row |= _compare(
                        paired[label].to_numpy(), paired[reference].to_numpy(), scale, level
                    )
            rows.append(row)
    table = pd.DataFrame(rows)
    for column in TABLE_COLUMNS:
        if column not in table:
            table[column] = np.nan
    if "_walsh_superiority" not in table:
        table["_walsh_superiority"] = np.nan
    p = table["wilcoxon_p"].to_numpy(dtype=float, na_value=np.nan)
    table["holm_p"] = holm(p)
    table["significant"] = table["holm_p"].to_numpy(dtype=float, na_value=np.nan) <= level
    lower = table["shift"].to_numpy(dtype=float, na_value=np.nan) < 0
    table["winner"] = np.where(
        table["significant"], np.where(lower, table["label"], table["reference"]), ""
    )
    m = max(int((~np.isnan(p)).sum()), 1)
    table["pairs_needed"] = [
        noether_pairs(s, level / m, power) if not np.isnan(s) else np.nan
        for s in table["_walsh_superiority"].to_numpy(dtype=float, na_value=np.nan)
    ]
    table["reference"] = reference
    return table[TABLE_COLUMNS].astype({"significant": bool, "winner": str})


def smallest_holm_p(pairs: int, comparisons: int) -> float:
    """The smallest Holm-adjusted p-value any of ``comparisons`` exact two-sided signed-rank
    tests on ``pairs`` pairs can reach (every pair one way: p = 2 / 2**pairs, times the
    family size at Holm's first step)."""
    return min(1.0, comparisons * 2.0 / 2.0**pairs) if pairs > 0 else 1.0


def pairs_to_reach(comparisons: int, level: float = 0.05) -> int:
    """The fewest pairs with which one of ``comparisons`` exact signed-rank tests can reach
    ``level`` after Holm (all pairs one way)."""
    return int(np.ceil(np.log2(2 * max(comparisons, 1) / level)))
