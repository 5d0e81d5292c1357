"""Intervals and tests that say what they can: exact coverages checked by enumeration where
the maths allows, and by seeded simulation against the exact value elsewhere."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from gesbench.analysis.stats import (
    SENTINEL,
    clopper_pearson,
    hodges_lehmann,
    median_ci,
    median_ranks,
    noether_pairs,
    paired_differences,
    rank_label,
    signed_rank_null,
    wilson,
)

# --- medians ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "low", "coverage"),
    [
        (1, 1, 0.0),
        (2, 1, 0.5),
        (5, 1, 1 - 2 / 2**5),  # [min, max]: 93.75%, the best 5 repetitions can do
        (6, 1, 1 - 2 / 2**6),  # 96.875%: [min, max] is the first to pass 95%
        (9, 2, 1 - 2 * 10 / 2**9),  # [x(2), x(8)]: 96.09%
        (10, 2, 1 - 2 * 11 / 2**10),  # [x(2), x(9)]: 97.85%
        (20, 6, 1 - 2 * scipy_stats.binom.cdf(5, 20, 0.5)),
    ],
)
def test_median_ranks_are_the_narrowest_symmetric_interval_reaching_95_percent(n, low, coverage):
    interval = median_ranks(n)
    assert (interval.low, interval.high) == (low, n + 1 - low)
    assert interval.coverage == pytest.approx(coverage)
    if n >= 6:  # one rank narrower would fall below 95%
        narrower = 1 - 2 * scipy_stats.binom.cdf(low, n, 0.5)
        assert narrower < 0.95 <= interval.coverage


def test_rank_labels_say_which_order_statistics_and_their_coverage():
    assert rank_label(median_ranks(5)) == "[min, max] of 5, 93.75%"
    assert rank_label(median_ranks(10)) == "[x(2), x(9)] of 10, 97.85%"
    assert rank_label(median_ranks(1)) == "a single value, 0% (no interval)"


@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_order_statistic_interval_has_its_stated_coverage(n):
    # 40,000 data sets from a skewed continuous distribution whose median is known (log-normal,
    # median 1). The coverage estimate's standard error is at most 0.0025; 4 of them allowed.
    rng = np.random.default_rng(2024 + n)
    data = rng.lognormal(0.0, 1.5, size=(n, 40_000))
    band = median_ci(data)
    covered = np.mean((band.low <= 1.0) & (band.high >= 1.0))
    assert covered == pytest.approx(median_ranks(n).coverage, abs=0.01)
    assert np.all(band.coverage == median_ranks(n).coverage)


def test_median_ci_handles_missing_and_infinite_values_column_by_column():
    values = np.array(
        [
            [1.0, 2.0, np.nan],
            [3.0, np.nan, np.nan],
            [np.inf, 5.0, 4.0],
            [4.0, 6.0, np.nan],
            [0.0, 7.0, np.nan],
        ]
    )
    band = median_ci(values)
    assert band.n.tolist() == [5, 4, 1]
    assert band.median.tolist() == [3.0, 5.5, 4.0]
    assert band.low.tolist() == [0.0, 2.0, 4.0] and band.high.tolist() == [np.inf, 7.0, 4.0]
    assert band.coverage.tolist() == pytest.approx([0.9375, 0.875, 0.0])
    one = median_ci(np.array([2.0, np.inf, np.inf]))  # a median that is itself infinite
    assert float(one.median) == np.inf and float(one.low) == 2.0


def test_median_ci_needs_no_resampling_memory():
    # 100 repetitions x 5,000 points: one sort of the input, nothing of size resamples x points.
    values = np.random.default_rng(1).standard_normal((100, 5000))
    band = median_ci(values)
    assert band.median == pytest.approx(np.median(values, axis=0))
    sorted_values = np.sort(values, axis=0)
    interval = median_ranks(100)
    assert band.low == pytest.approx(sorted_values[interval.low - 1])
    assert band.high == pytest.approx(sorted_values[interval.high - 1])


# --- proportions --------------------------------------------------------------------------------


def test_clopper_pearson_of_five_wins_of_five():
    low, high = clopper_pearson(5, 5)
    assert float(low) == pytest.approx(0.025 ** (1 / 5))  # 0.478: P(5 of 5 | p) = p^5 = 2.5%
    assert float(high) == 1.0
    low, high = clopper_pearson(0, 5)
    assert float(low) == 0.0 and float(high) == pytest.approx(1 - 0.025 ** (1 / 5))


@pytest.mark.parametrize("n", [5, 10, 30])
def test_clopper_pearson_coverage_is_at_least_nominal_for_every_p(n):
    # Exact: the coverage at p is the binomial probability of the outcomes whose interval
    # contains p, summed over all n + 1 outcomes.
    k = np.arange(n + 1)
    low, high = clopper_pearson(k, np.full(n + 1, n))
    for p in np.linspace(0.001, 0.999, 400):
        inside = (low <= p) & (p <= high)
        assert scipy_stats.binom.pmf(k, n, p)[inside].sum() >= 0.95 - 1e-9


def test_wilson_interval_against_its_formula():
    low, high = wilson(5, 5)
    z = scipy_stats.norm.ppf(0.975)
    assert float(low) == pytest.approx(1 / (1 + z * z / 5))  # p = 1: centre - half
    assert float(high) == 1.0
    low, high = wilson(3, 10)
    assert (float(low), float(high)) == pytest.approx((0.1078, 0.6032), abs=1e-4)


# --- paired comparisons ------------------------------------------------------------------------


def test_signed_rank_null_distribution_by_enumeration():
    n = 6
    counts = np.zeros(n * (n + 1) // 2 + 1)
    for signs in itertools.product((0, 1), repeat=n):
        counts[sum(r for r, s in zip(range(1, n + 1), signs, strict=True) if s)] += 1
    assert signed_rank_null(n) == pytest.approx(counts / 2**n)


def test_hodges_lehmann_estimate_and_widest_interval_at_five_pairs():
    d = np.array([-0.3, -0.1, -0.5, -0.2, 0.05])
    walsh = [(a + b) / 2 for i, a in enumerate(d) for b in d[i:]]
    shift = hodges_lehmann(d)
    assert shift.estimate == pytest.approx(np.median(walsh))
    # With 5 pairs no signed-rank interval reaches 95%: [min, max] of the Walsh averages.
    assert (shift.low, shift.high) == (min(walsh), max(walsh))
    assert shift.coverage == pytest.approx(1 - 2 / 2**5)


@pytest.mark.parametrize("n", [6, 12])
def test_hodges_lehmann_interval_has_its_stated_coverage(n):
    # Differences from a symmetric distribution centred on 0.7: the interval should cover
    # 0.7 with exactly the stated probability (no ties). 6,000 seeded data sets: SE <= 0.003.
    rng = np.random.default_rng(99 + n)
    data = 0.7 + rng.logistic(size=(6_000, n))
    covered = 0
    coverage = hodges_lehmann(data[0]).coverage
    for row in data:
        shift = hodges_lehmann(row)
        covered += shift.low <= 0.7 <= shift.high
    assert covered / len(data) == pytest.approx(coverage, abs=0.012)
    assert coverage >= 0.95


def test_paired_differences_treat_both_diverged_as_a_tie_and_one_as_infinite():
    d = paired_differences([1.0, np.inf, np.inf, 2.0], [2.0, np.inf, 1.0, np.inf], log=True)
    assert d[0] == pytest.approx(math.log(0.5)) and d[1] == 0.0
    assert d[2] == SENTINEL and d[3] == -SENTINEL
    shift = hodges_lehmann([-SENTINEL] * 6)  # the method always finishes, the reference not
    assert shift.estimate == -np.inf and shift.high == -np.inf


def test_noether_pairs_shrink_as_the_effect_grows_and_respect_the_exact_minimum():
    alpha = 0.05 / 3
    needed = [noether_pairs(p, alpha) for p in (0.55, 0.65, 0.8, 1.0)]
    assert needed == sorted(needed, reverse=True)
    assert needed[-1] >= math.ceil(math.log2(2 / alpha))  # 7 pairs: the exact test's floor
    assert noether_pairs(0.5, alpha) == math.inf
    z = scipy_stats.norm.ppf(1 - alpha / 2) + scipy_stats.norm.ppf(0.8)
    assert noether_pairs(0.65, alpha) == math.ceil(z * z / (3 * 0.15**2))


def test_noether_pairs_give_about_the_stated_power():
    # Simulated: with the pairs Noether asks for, the exact signed-rank test at alpha rejects
    # about 80% of the time (normal differences with P(D + D' > 0) = 0.8; 1,000 seeded runs).
    rng = np.random.default_rng(5)
    shift = scipy_stats.norm.ppf(0.8) * math.sqrt(2)  # D + D' ~ N(2 shift, 2): P(> 0) = 0.8
    n = int(noether_pairs(0.8, 0.05))
    data = shift / 2 + rng.standard_normal((1000, n))
    power = np.mean([scipy_stats.wilcoxon(row).pvalue <= 0.05 for row in data])
    assert 0.7 <= power <= 0.95
