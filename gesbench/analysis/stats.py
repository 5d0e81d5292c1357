"""Statistics across repetitions that say exactly what they can at the run's repetition count.

- Medians get distribution-free confidence intervals from order statistics (the number of
  repetitions below the median is Binomial(n, 1/2)), with their *actual* coverage, which at
  small n is not the nominal level: with 5 repetitions the widest interval, [min, max],
  covers the median with probability 1 - 2/2**5 = 93.75%, and no narrower one reaches 95%.
  :func:`median_ci` is vectorised over columns (curves) and never resamples.
- Paired comparisons: the exact Wilcoxon signed-rank test, the Hodges-Lehmann estimate of the
  shift with its exact (Walsh-average) confidence interval, and Noether's sample size.
- Proportions: Clopper-Pearson (exact) and Wilson intervals.
- Multiple testing: Holm's step-down adjustment.

The seeded bootstrap (:func:`bootstrap_ci`) is kept for statistics without a closed form;
everything random takes an explicit seed, so a report is a function of its store.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

SENTINEL = 1e300
"""Stands in for an infinite paired difference (a diverged run) in sums of differences:
larger than any finite log ratio or loss difference a run can produce, yet twice it is still
finite. A result at or beyond ``SENTINEL / 4`` is read back as infinite."""


# --- medians: order-statistic intervals --------------------------------------------------------


class RankInterval(NamedTuple):
    """A symmetric order-statistic interval ``[x_(low), x_(high)]`` (1-based ranks) of ``n``
    sorted values and the probability that it covers the population median."""

    n: int
    low: int
    high: int
    coverage: float


@lru_cache(maxsize=4096)
def median_ranks(n: int, level: float = 0.95) -> RankInterval:
    """The narrowest symmetric order-statistic interval for the median of ``n`` values whose
    coverage is at least ``level``; when even ``[min, max]`` falls short (``n <= 5`` at 95%),
    ``[min, max]`` with its actual coverage.

    ``[x_(j), x_(n+1-j)]`` covers the median of any continuous distribution with probability
    ``P(j <= B <= n - j)``, ``B ~ Binomial(n, 1/2)``: exactly, with no assumption on the
    distribution (for ties and atoms it is a lower bound). ``n = 0`` gives ranks 0 and NaN.
    """
    if n <= 0:
        return RankInterval(0, 0, 0, float("nan"))
    j = np.arange(1, (n + 1) // 2 + 1)
    coverage = 1.0 - 2.0 * stats.binom.cdf(j - 1, n, 0.5)
    ok = np.flatnonzero(coverage >= level - 1e-12)
    pick = int(ok[-1]) if len(ok) else 0
    low = int(j[pick])
    return RankInterval(n, low, n + 1 - low, float(max(coverage[pick], 0.0)))


def rank_label(interval: RankInterval) -> str:
    """How an interval was made, for captions and table cells: ``[min, max] of 5, 93.75%``
    or ``[x(2), x(9)] of 10, 97.85%``."""
    n, low, high, coverage = interval
    if n == 0:
        return "no values"
    if n == 1:
        return "a single value, 0% (no interval)"
    bounds = "[min, max]" if low == 1 else f"[x({low}), x({high})]"
    return f"{bounds} of {n}, {format_coverage(coverage)}"


def format_coverage(coverage: float) -> str:
    """A coverage as a percentage with the digits that matter (93.75%, 97.85%, 99.8%)."""
    if not np.isfinite(coverage):
        return "n/a"
    text = f"{100 * coverage:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


class MedianCI(NamedTuple):
    """Per column: the median, an order-statistic interval, its ranks and actual coverage,
    and how many values it is over (NaN values are left out, column by column)."""

    median: FloatArray
    low: FloatArray
    high: FloatArray
    coverage: FloatArray
    low_rank: IntArray
    high_rank: IntArray
    n: IntArray


def median_ci(values: ArrayLike, level: float = 0.95) -> MedianCI:
    """Median over axis 0 with its distribution-free order-statistic CI (:func:`median_ranks`).

    ``values`` has shape ``(repetitions,)`` or ``(repetitions, points)``; NaN entries are
    missing (each column uses its own count), +inf (a diverged run) is a value like any other.
    One sort along axis 0, no resampling: memory ``O(repetitions x points)``.
    """
    y = np.asarray(values, dtype=float)
    scalar = y.ndim == 1
    if scalar:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"values must be 1-D or 2-D, got shape {y.shape}")
    reps = y.shape[0]
    ordered = np.sort(y, axis=0)  # NaN last
    n = (~np.isnan(y)).sum(axis=0)
    table = [median_ranks(i, level) for i in range(reps + 1)]
    lo_rank = np.array([t.low for t in table], dtype=np.intp)[n]
    hi_rank = np.array([t.high for t in table], dtype=np.intp)[n]
    coverage = np.array([t.coverage for t in table])[n]
    cols = np.arange(y.shape[1])

    def pick(rank: IntArray) -> FloatArray:
        out = ordered[np.clip(rank - 1, 0, max(reps - 1, 0)), cols] if reps else rank * np.nan
        return np.where(n > 0, out, np.nan)

    mid_low, mid_high = (n + 1) // 2, n // 2 + 1  # 1-based ranks of the middle value(s)
    a, b = pick(mid_low), pick(mid_high)
    with np.errstate(invalid="ignore"):
        median = np.where(a == b, a, a / 2 + b / 2)  # inf stays inf; no overflow near 1e308
    result = MedianCI(median, pick(lo_rank), pick(hi_rank), coverage, lo_rank, hi_rank, n)
    if scalar:
        return MedianCI(*(np.asarray(v[0]) for v in result))
    return result


# --- the bootstrap, for statistics without a closed form -------------------------------------


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
    called as ``statistic(array, axis=...)``. Returns ``(estimate, low, high)``. Its coverage
    at small n is below ``level`` (for the median of 5 values the interval is at most
    [min, max], 93.75%); prefer :func:`median_ci` for medians.
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


# --- proportions --------------------------------------------------------------------------------


def clopper_pearson(successes: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple[
    FloatArray, FloatArray
]:  # fmt: skip
    """Exact (Clopper-Pearson) interval of a binomial proportion; coverage >= ``level``.

    ``successes`` may be fractional (ties counted as half a win): the beta quantiles are the
    continuous extension. 5 of 5 gives [0.478, 1]. ``n = 0`` gives [0, 1].
    """
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    alpha = 1 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, stats.beta.ppf(alpha / 2, x, m - x + 1), 0.0)
        high = np.where(x < m, stats.beta.ppf(1 - alpha / 2, x + 1, m - x), 1.0)
    low = np.where(m > 0, low, 0.0)
    high = np.where(m > 0, high, 1.0)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def wilson(successes: ArrayLike, n: ArrayLike, level: float = 0.95) -> tuple[
    FloatArray, FloatArray
]:  # fmt: skip
    """Wilson score interval of a binomial proportion (fractional successes allowed)."""
    x = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - (1 - level) / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / m
        centre = (p + z * z / (2 * m)) / (1 + z * z / m)
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    low = np.where(m > 0, np.clip(centre - half, 0, 1), 0.0)
    high = np.where(m > 0, np.clip(centre + half, 0, 1), 1.0)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


# --- multiple testing ---------------------------------------------------------------------------


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


# --- paired comparisons -------------------------------------------------------------------------


def paired_differences(a: ArrayLike, b: ArrayLike, *, log: bool) -> FloatArray:
    """``a - b`` per pair (``log(a) - log(b)`` with ``log``), a pair of equal infinities
    (both diverged) being a tie, and any other infinite difference the finite
    :data:`SENTINEL` with its sign (so ranks and sums stay defined)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"need two paired 1-D samples, got shapes {x.shape} and {y.shape}")
    if log:
        with np.errstate(divide="ignore"):
            x, y = np.log(x), np.log(y)
    both = np.isinf(x) & np.isinf(y) & (np.sign(x) == np.sign(y))
    with np.errstate(invalid="ignore"):
        d = np.where(both, 0.0, x - y)
    return np.clip(d, -SENTINEL, SENTINEL)


def unsentinel(value: ArrayLike) -> FloatArray:
    """Values computed from :data:`SENTINEL` differences, with those read back as +-inf."""
    v = np.asarray(value, dtype=float)
    return np.where(np.abs(v) >= SENTINEL / 4, np.copysign(np.inf, v), v)


@lru_cache(maxsize=256)
def signed_rank_null(n: int) -> FloatArray:
    """Exact null distribution of the Wilcoxon signed-rank statistic ``T+`` for ``n`` pairs
    without ties: ``P(T+ = t)`` for ``t = 0 .. n(n+1)/2``."""
    counts = np.zeros(n * (n + 1) // 2 + 1)
    counts[0] = 1.0
    for k in range(1, n + 1):
        shifted = np.zeros_like(counts)
        shifted[k:] = counts[:-k]
        counts = counts + shifted
    return counts / 2.0**n


EXACT_PAIRS = 50
"""Up to this many pairs signed-rank quantities are exact; beyond, normal approximations."""
MAX_WALSH_PAIRS = 2000
"""Beyond this many pairs, Walsh averages come from an evenly spaced subsample of pairs."""


class ShiftEstimate(NamedTuple):
    """Hodges-Lehmann estimate of the median paired difference with its signed-rank CI.

    ``coverage`` is the interval's actual confidence (exact for untied data up to
    :data:`EXACT_PAIRS` pairs); ``superiority`` is ``P(D + D' < 0)`` for two independent
    differences (ties 1/2), the quantity Noether's sample size uses; ``n`` counts the pairs.
    """

    estimate: float
    low: float
    high: float
    coverage: float
    superiority: float
    n: int


def walsh_averages(d: FloatArray) -> FloatArray:
    """Every ``(d_i + d_j) / 2`` for ``i <= j``."""
    i, j = np.triu_indices(len(d))
    return (d[i] + d[j]) / 2


def hodges_lehmann(d: ArrayLike, level: float = 0.95) -> ShiftEstimate:
    """Hodges-Lehmann estimate (median of Walsh averages) of paired differences ``d`` with
    the exact Wilcoxon confidence interval ``[W_(C+1), W_(M-C)]``, ``M = n(n+1)/2``.

    ``C`` is the largest count with ``P(T+ <= C) <= (1 - level)/2``; when none exists (``n <=
    5`` at 95%) the interval is ``[min, max]`` of the Walsh averages with its lower coverage
    ``1 - 2 P(T+ <= 0)`` (93.75% at n = 5). Infinite differences are :data:`SENTINEL`-coded
    (see :func:`paired_differences`); results involving them come back infinite.
    """
    values = np.asarray(d, dtype=float)
    values = values[~np.isnan(values)]
    n = len(values)
    if n == 0:
        return ShiftEstimate(np.nan, np.nan, np.nan, np.nan, np.nan, 0)
    values = np.clip(values, -SENTINEL, SENTINEL)
    sample = values
    if n > MAX_WALSH_PAIRS:
        sample = np.sort(values)[np.linspace(0, n - 1, MAX_WALSH_PAIRS).round().astype(int)]
    walsh = np.sort(walsh_averages(sample))
    m = len(walsh)
    k = len(sample)
    alpha = 1 - level
    if k <= EXACT_PAIRS:
        cdf = np.cumsum(signed_rank_null(k))
        below = np.flatnonzero(cdf <= alpha / 2 + 1e-12)
        c = int(below[-1]) if len(below) else 0
        coverage = 1 - 2 * float(cdf[c])
    else:
        z = stats.norm.ppf(1 - alpha / 2)
        mean, sd = k * (k + 1) / 4, np.sqrt(k * (k + 1) * (2 * k + 1) / 24)
        c = max(int(np.floor(mean - z * sd - 0.5)), 0)
        coverage = 1 - 2 * float(stats.norm.cdf((c + 0.5 - mean) / sd))
    estimate = float(np.median(walsh))
    low, high = float(walsh[c]), float(walsh[m - 1 - c])
    pairs = walsh_averages(sample)
    off = np.ones(len(pairs), dtype=bool)
    off[np.cumsum(np.r_[0, np.arange(k, 1, -1)])] = False  # i == j terms: not independent
    if off.any():
        rest = pairs[off]
        superiority = float(np.mean(rest < 0) + 0.5 * np.mean(rest == 0))
    else:
        superiority = float(np.mean(values < 0) + 0.5 * np.mean(values == 0))
    e, lo, hi = unsentinel([estimate, low, high])
    return ShiftEstimate(float(e), float(lo), float(hi), max(coverage, 0.0), superiority, n)


def noether_pairs(superiority: float, alpha: float, power: float = 0.8) -> float:
    """Pairs a two-sided signed-rank test needs to reject at ``alpha`` with ``power`` when
    ``P(D + D' < 0) = superiority`` (Noether 1987), and never fewer than the exact test's
    minimum (the smallest n with ``2 / 2**n <= alpha``). ``inf`` without an effect."""
    exact_minimum = int(np.ceil(np.log2(2 / alpha)))
    if not np.isfinite(superiority) or abs(superiority - 0.5) < 1e-12:
        return float("inf")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(max(int(np.ceil(z * z / (3 * (superiority - 0.5) ** 2))), exact_minimum))


class PairedTest(NamedTuple):
    """Outcome of a paired Wilcoxon signed-rank test of ``a`` against ``b``.

    ``effect`` is the matched-pairs rank-biserial correlation of ``a - b`` in [-1, 1]: the
    share of rank mass where ``a > b`` minus the share where ``a < b`` (the usual sign: -1
    means ``a`` is lower in every pair, for losses ``a`` always better). ``n`` counts the
    pairs with a non-zero difference.
    """

    statistic: float
    pvalue: float
    effect: float
    n: int


def signed_rank_test(d: ArrayLike) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of paired differences ``d`` (zeros dropped; exact
    without ties up to :data:`EXACT_PAIRS` pairs, else the normal approximation); p = 1 when
    no difference is non-zero. Infinite differences get the largest ranks."""
    values = np.asarray(d, dtype=float)
    values = np.clip(values[~np.isnan(values)], -SENTINEL, SENTINEL)
    values = values[values != 0]
    if len(values) == 0:
        return PairedTest(0.0, 1.0, 0.0, 0)
    ranks = stats.rankdata(np.abs(values))
    effect = float((ranks[values > 0].sum() - ranks[values < 0].sum()) / ranks.sum())
    result = stats.wilcoxon(values)
    return PairedTest(float(result.statistic), float(result.pvalue), effect, len(values))


def paired_wilcoxon(a: ArrayLike, b: ArrayLike) -> PairedTest:
    """Two-sided Wilcoxon signed-rank test of ``a - b`` on paired samples (zero differences
    dropped; a pair where both are the same infinity is a tie)."""
    return signed_rank_test(paired_differences(a, b, log=False))
