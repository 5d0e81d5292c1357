"""Pairwise win rates between methods over paired instances, with bootstrap CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd


def win_rate(
    finals: pd.DataFrame, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """How often the row method ends lower than the column method on the same instance.

    ``finals`` is :func:`~gesbench.analysis.final_values` output; instances are (problem,
    repetition) pairs both methods finished. A tie counts as half a win. The CI is a seeded
    percentile bootstrap over instances. Returns ``label, opponent, rate, low, high, n``.
    """
    wide = finals.pivot_table(
        index=["problem_label", "repetition"], columns="label", values="final", sort=False
    )
    labels = list(dict.fromkeys(finals["label"]))
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2 * 100
    rows = []
    for a in labels:
        for b in labels:
            if a == b:
                continue
            pair = wide[[a, b]].dropna().to_numpy()
            score = (pair[:, 0] < pair[:, 1]) + 0.5 * (pair[:, 0] == pair[:, 1])
            if len(score) == 0:
                rows.append((a, b, np.nan, np.nan, np.nan, 0))
                continue
            boot = score[rng.integers(0, len(score), size=(n_boot, len(score)))].mean(axis=1)
            low, high = np.percentile(boot, [tail, 100 - tail])
            rows.append((a, b, float(score.mean()), float(low), float(high), len(score)))
    return pd.DataFrame(rows, columns=["label", "opponent", "rate", "low", "high", "n"])
