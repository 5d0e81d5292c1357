"""Comparing several methods at once (Demsar 2006): the Friedman test over blocks, pairwise
post-hoc comparisons of mean ranks with Holm's correction, and the groups a
critical-difference diagram connects.

Blocks are problems (each method's median final value on it) when the run has two or more,
else the repetitions of the one problem (paired instances). p-values come from seeded
within-block permutations of the ranks, exact up to Monte Carlo error whatever the number of
blocks, where the chi-square and normal approximations Demsar describes need many blocks;
those are reported too, with the Nemenyi critical difference for reference.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from gesbench.analysis.stats import holm


class Friedman(NamedTuple):
    """``ranks``: ``label, mean_rank`` (1 = lowest value), best first. ``test``: one row with
    ``blocks, block_kind, methods, chi2, chi2_p, iman_davenport_f, f_p, permutation_p,
    permutations, critical_difference`` (Nemenyi, at the level given). ``pairs``: every
    pair ``label, opponent, rank_diff, z, z_p, permutation_p, holm_p, significant``.
    ``groups``: the maximal runs of methods (in rank order) with no significant difference
    inside, as lists of labels (the bars of a critical-difference diagram)."""

    ranks: pd.DataFrame
    test: pd.DataFrame
    pairs: pd.DataFrame
    groups: list[list[str]]


def blocks(finals: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The blocks x methods table the test ranks, and what a block is ('problem' or
    'repetition'). Only complete blocks and methods are kept: whichever of dropping
    incomplete methods or incomplete blocks keeps more values."""
    finals = finals[finals["final"].notna()]
    if finals["problem_label"].nunique() >= 2:
        wide = finals.pivot_table(
            index="problem_label", columns="label", values="final", aggfunc="median", sort=False
        )
        kind = "problem"
    else:
        wide = finals.pivot_table(
            index="repetition", columns="label", values="final", aggfunc="first", sort=False
        )
        kind = "repetition"
    by_method = wide.dropna(axis=1, how="any")
    by_block = wide.dropna(axis=0, how="any")
    best = max((by_method, by_block), key=lambda w: (w.shape[1] >= 2) * w.size)
    return best, kind


def friedman(
    finals: pd.DataFrame, *, level: float = 0.05, permutations: int = 20000, seed: int = 0
) -> Friedman | None:
    """The Friedman test and Holm-corrected post-hoc comparisons (see the module docstring);
    None with fewer than two methods or two blocks."""
    table, kind = blocks(finals)
    n, k = table.shape
    if n < 2 or k < 2:
        return None
    labels = [str(c) for c in table.columns]
    R = stats.rankdata(table.to_numpy(dtype=float), axis=1)  # ties share the mean rank
    mean = R.mean(axis=0)
    centre = (k + 1) / 2
    statistic = float(np.sum((mean - centre) ** 2))
    diffs = np.abs(mean[:, None] - mean[None, :])
    rng = np.random.default_rng(seed)
    exceed_global = 0
    exceed_pairs = np.zeros((k, k))
    done = 0
    chunk = max(1, min(permutations, 2_000_000 // max(n * k, 1)))
    while done < permutations:
        b = min(chunk, permutations - done)
        order = np.argsort(rng.random((b, n, k)), axis=2)
        means = np.take_along_axis(np.broadcast_to(R, (b, n, k)), order, axis=2).mean(axis=1)
        exceed_global += int(np.sum(np.sum((means - centre) ** 2, axis=1) >= statistic - 1e-12))
        perm_diffs = np.abs(means[:, :, None] - means[:, None, :])
        exceed_pairs += np.sum(perm_diffs >= diffs[None] - 1e-12, axis=0)
        done += b
    permutation_p = (1 + exceed_global) / (1 + permutations)
    pair_p = (1 + exceed_pairs) / (1 + permutations)

    chi2 = 12 * n / (k * (k + 1)) * statistic
    ties = np.sum([np.sum(c**3 - c) for c in _tie_sizes(R)])
    correction = 1 - ties / (n * k * (k * k - 1))
    chi2 = chi2 / correction if correction > 0 else np.nan
    chi2_p = float(stats.chi2.sf(chi2, k - 1)) if np.isfinite(chi2) else np.nan
    denominator = n * (k - 1) - chi2
    # With every block ranking the methods alike the F statistic is infinite and its
    # approximation says nothing: NaN rather than p = 0.
    f = (n - 1) * chi2 / denominator if denominator > 1e-12 else np.inf
    f_p = float(stats.f.sf(f, k - 1, (k - 1) * (n - 1))) if np.isfinite(f) else np.nan
    se = np.sqrt(k * (k + 1) / (6 * n))
    q = float(stats.studentized_range.ppf(1 - level, k, np.inf)) / np.sqrt(2) if k > 1 else 0
    test = pd.DataFrame(
        [
            {
                "blocks": n,
                "block_kind": kind,
                "methods": k,
                "chi2": chi2,
                "chi2_p": chi2_p,
                "iman_davenport_f": f,
                "f_p": f_p,
                "permutation_p": permutation_p,
                "permutations": permutations,
                "critical_difference": q * se,
            }
        ]
    )
    rows = []
    for i in range(k):
        for j in range(i + 1, k):
            z = (mean[i] - mean[j]) / se
            rows.append(
                {
                    "label": labels[i],
                    "opponent": labels[j],
                    "rank_diff": mean[i] - mean[j],
                    "z": z,
                    "z_p": float(2 * stats.norm.sf(abs(z))),
                    "permutation_p": float(pair_p[i, j]),
                }
            )
    pairs = pd.DataFrame(rows)
    pairs["holm_p"] = holm(pairs["permutation_p"].to_numpy())
    pairs["significant"] = pairs["holm_p"] <= level
    ranks = (
        pd.DataFrame({"label": labels, "mean_rank": mean})
        .sort_values("mean_rank", kind="stable")
        .reset_index(drop=True)
    )
    return Friedman(ranks, test, pairs, cd_groups(ranks, pairs))


def _tie_sizes(R: np.ndarray) -> list[np.ndarray]:
    """Sizes of the groups of tied ranks in each block."""
    return [np.unique(row, return_counts=True)[1].astype(float) for row in R]


def cd_groups(ranks: pd.DataFrame, pairs: pd.DataFrame) -> list[list[str]]:
    """Maximal runs of consecutive methods (by mean rank) with no significant pair inside."""
    order = ranks["label"].tolist()
    significant = {
        frozenset((a, b))
        for a, b, s in zip(pairs["label"], pairs["opponent"], pairs["significant"], strict=True)
        if s
    }
    runs = []
    for i in range(len(order)):
        j = i
        while j + 1 < len(order) and all(
            frozenset((order[m], order[j + 1])) not in significant for m in range(i, j + 1)
        ):
            j += 1
        if j > i:
            runs.append((i, j))
    maximal = [r for r in runs if not any(o != r and o[0] <= r[0] and r[1] <= o[1] for o in runs)]
    return [order[i : j + 1] for i, j in maximal]
