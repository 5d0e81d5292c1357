"""Pairwise win rates between methods over paired instances, with honest intervals.

On one problem the repetitions are independent paired instances, so a win rate is a
binomial proportion and gets the exact Clopper-Pearson interval (5 wins of 5: [0.48, 1]).
Across several problems, instances of one problem are not independent draws from the
problems a reader cares about, so the interval comes from a two-stage bootstrap that
resamples problems, then repetitions within each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench.analysis.stats import clopper_pearson

WIN_COLUMNS = ["label", "opponent", "rate", "low", "high", "n", "problems", "interval"]


def _scores(pair: np.ndarray) -> np.ndarray:
    """1 where the first column is lower, 1/2 for a tie, 0 otherwise."""
    return (pair[:, 0] < pair[:, 1]) + 0.5 * (pair[:, 0] == pair[:, 1])


def win_rate(
    finals: pd.DataFrame, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> pd.DataFrame:
    """How often the row method ends lower than the column method on the same instance.

    ``finals`` is :func:`~gesbench.analysis.final_values` output; instances are (problem,
    repetition) pairs both methods finished; a tie counts as half a win. ``interval`` says
    how ``low``/``high`` were made: 'Clopper-Pearson' (one problem) or 'bootstrap over
    problems' (seeded two-stage bootstrap: problems, then repetitions within each; widened
    to the Clopper-Pearson interval over all instances where that is wider, so that
    identical outcomes still get an interval). Returns :data:`WIN_COLUMNS`.
    """
    finals = finals[finals["final"].notna()]
    wide = finals.pivot_table(
        index=["problem_label", "repetition"],
        columns="label",
        values="final",
        aggfunc="first",
        sort=False,
    )
    labels = list(dict.fromkeys(finals["label"]))
    rng = np.random.default_rng(seed)
    rows = []
    for a in labels:
        for b in labels:
            if a == b:
                continue
            pair = wide[[a, b]].dropna()
            if pair.empty:
                rows.append((a, b, np.nan, np.nan, np.nan, 0, 0, ""))
                continue
            score = _scores(pair.to_numpy(dtype=float))
            problems = pair.index.get_level_values(0).to_numpy()
            names = list(dict.fromkeys(problems))
            rate = float(score.mean())
            if len(names) == 1:
                exact = clopper_pearson(score.sum(), len(score), level)
                low, high = float(exact[0]), float(exact[1])
                interval = "Clopper-Pearson"
            else:
                boot = _problem_bootstrap(score, problems, names, level, n_boot, rng)
                exact = clopper_pearson(score.sum(), len(score), level)
                # Never narrower than the exact interval over independent instances: a
                # bootstrap of identical outcomes (every instance won) has no spread at all.
                low = min(float(boot[0]), float(exact[0]))
                high = max(float(boot[1]), float(exact[1]))
                interval = "bootstrap over problems"
            rows.append((a, b, rate, float(low), float(high), len(score), len(names), interval))
    return pd.DataFrame(rows, columns=WIN_COLUMNS)


def _problem_bootstrap(
    score: np.ndarray,
    problems: np.ndarray,
    names: list[str],
    level: float,
    n_boot: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """Percentile interval of the pooled win rate under resampling problems, then each
    chosen problem's repetitions (a multinomial draw of its losses, ties and wins)."""
    k = len(names)
    counts = np.array([[np.sum(score[problems == p] == v) for v in (0.0, 0.5, 1.0)] for p in names])
    sizes = counts.sum(axis=1)
    picks = rng.integers(0, k, size=(n_boot, k))
    draws = rng.multinomial(sizes[picks], counts[picks] / sizes[picks][..., None])
    wins = (0.5 * draws[..., 1] + draws[..., 2]).sum(axis=1)
    total = sizes[picks].sum(axis=1).astype(float)
    rates = wins / total
    tail = (1 - level) / 2
    return float(np.quantile(rates, tail)), float(np.quantile(rates, 1 - tail))
