"""The final-results table: median with CI, mean rank and paired tests against a reference."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gesbench.analysis.stats import bootstrap_median_ci, holm, paired_wilcoxon

TABLE_COLUMNS = [
    "problem_label", "label", "n", "median", "low", "high", "mean_rank", "reference",
    "pairs", "wilcoxon_p", "holm_p", "effect", "significant", "winner",
]  # fmt: skip


def final_table(
    finals: pd.DataFrame, reference: str, *, level: float = 0.05, seed: int = 0
) -> pd.DataFrame:
    """Summarise :func:`~gesbench.analysis.final_values` output, one row per (problem, method).

    - ``median``, ``low``, ``high``: median final value with its seeded 95% bootstrap CI.
    - ``mean_rank``: rank among methods on each repetition (1 = lowest; ties share the mean
      rank; repetitions where a method has no result are left out of its mean).
    - Versus ``reference`` (a label): paired Wilcoxon signed-rank test over repetitions both
      finished (same problem instance), p-values Holm-corrected across the methods of each
      problem, and the matched-pairs rank-biserial ``effect`` (+1: the method is lower than
      the reference on every pair). ``significant`` is ``holm_p <= level``; ``winner`` names
      the lower side of a significant difference.
    """
    rows = []
    for problem, group in finals.groupby("problem_label", sort=False):
        wide = group.pivot_table(index="repetition", columns="label", values="final")
        ranks = wide.rank(axis=1, method="average")
        ref = wide.get(reference, None)
        problem_rows: list[dict[str, Any]] = []
        for label, values in group.groupby("label", sort=False)["final"]:
            median, low, high = bootstrap_median_ci(values.to_numpy(), seed=seed)
            row: dict[str, Any] = {
                "problem_label": problem,
                "label": label,
                "n": len(values),
                "median": float(median),
                "low": float(low),
                "high": float(high),
                "mean_rank": float(ranks[label].mean()),
                "reference": reference,
                "pairs": 0,
                "wilcoxon_p": np.nan,
                "effect": np.nan,
            }
            if ref is not None and label != reference:
                paired = wide[[label, reference]].dropna()
                test = paired_wilcoxon(paired[label], paired[reference])
                row |= {"pairs": len(paired), "wilcoxon_p": test.pvalue, "effect": test.effect}
            problem_rows.append(row)
        adjusted = holm([r["wilcoxon_p"] for r in problem_rows])
        for row, p in zip(problem_rows, adjusted, strict=True):
            significant = bool(p <= level)
            winner = ""
            if significant:
                winner = row["label"] if row["effect"] > 0 else reference
            rows.append(row | {"holm_p": p, "significant": significant, "winner": winner})
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)
