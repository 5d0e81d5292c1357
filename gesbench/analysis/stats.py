"""Statistics across repetitions: seeded bootstrap intervals, paired tests, multiple testing.

Everything random here takes an explicit seed, so a report is identical every time it is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

FloatArray = NDArray[np.float64]


def bootstrap_ci(
    values: ArrayLike,
    statistic: Callable[..., FloatArray] = np.median,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``statistic`` over axis 0 (repetitions) with its percentile-bootstrap CI, per column.

    ``values`` has shape ``(repetitions,)`` or ``(repetitions, points)``; ``statistic`` is
    called as ``statistic(array, axis=...)``. Returns ``(estimate, low, high)`` with the
    trailing shape. Resampling indices are shared across columns, so a curve's band is the
    band of whole resampled curves, point by point.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim == 0 or len(y) == 0:
        raise ValueError("need at least one repetition")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    resampled = statistic(y[idx], axis=1)
    tail = (1 - level) / 2 * 100
    # 'lower'/'higher' keep infinite values (diverged runs) from turning bounds into NaN.
    low = np.percentile(resampled, tail, axis=0, method="lower")
    high = np.percentile(resampled, 100 - tail, axis=0, method="higher")
    return np.asarray(statistic(y, axis=0), dtype=float), low, high


def bootstrap_median_ci(
    values: ArrayLike, *, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Median over axis 0 with its percentile-bootstrap CI (see :func:`bootstrap_ci`)."""
    return bootstrap_ci(values, np.median, level=level, n_boot=n_boot, seed=seed)


def holm(pvalues: ArrayLike) -> FloatArray:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1).

    NaN entries (tests that could not be run) stay NaN and do not count towards the family
    size. Reject hypothesis ``i`` at family-wise level ``a`` when ``adjusted[i] <= a``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out


class PairedTest(NamedTuple):
    """Outcome of a paired Wilcoxon signed-rank test of ``a`` against ``b``.

    ``effect`` is the matched-pairs rank-biserial correlation in [-1, 1]: the share of rank
    mass where ``a < b`` minus the share where ``a > b``, so +1 means ``a`` is lower in every
    pair (for losses: ``a`` always better). ``n`` counts the pairs with a non-zero difference.
    """

    statistic: float
    pvalue: float
    effect: float
    n: int


def paired_wilcoxon(a: ArrayLike, b: ArrayLike) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test on paired samples (zero differences dropped).

    Infinite values (e.g. a diverged run counted as the worst outcome) are allowed: they
    only ever get the largest ranks. With no non-zero difference the p-value is 1.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two paired 1-D samples, got shapes {a.shape} and {b.shape}")
    both_inf = np.isinf(a) & np.isinf(b) & (np.sign(a) == np.sign(b))
    d = np.where(both_inf, 0.0, b - a)  # positive where a is lower
    d = d[d != 0]
    if len(d) == 0:
        return PairedTest(0.0, 1.0, 0.0, 0)
    ranks = stats.rankdata(np.abs(d))
    effect = float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())
    result = stats.wilcoxon(d)
    return PairedTest(float(result.statistic), float(result.pvalue), effect, len(d))
