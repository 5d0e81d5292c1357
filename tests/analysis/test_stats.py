"""Statistics and comparison metrics against known answers and small hand-made traces."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from gesbench.analysis import (
    best_logged,
    final_table,
    final_values,
    hitting_times,
    performance_profile,
    runtime_ecdf,
    solve_costs,
    sweep_grid,
    targets,
    win_rate,
)
from gesbench.analysis.stats import bootstrap_ci, holm, paired_wilcoxon


def test_bootstrap_ci_of_the_median_covers_the_true_median_about_95_percent():
    # 600 independent data sets of 40 log-normal draws; the true median is exp(0) = 1.
    # The coverage estimate's standard error is ~0.009, so the bounds are about 3 of them.
    rng = np.random.default_rng(12345)
    data = rng.lognormal(mean=0.0, sigma=1.0, size=(40, 600))
    median, low, high = bootstrap_ci(data, np.median, n_boot=1000, seed=7)
    coverage = np.mean((low <= 1.0) & (high >= 1.0))
    assert 0.92 <= coverage <= 0.98
    assert np.all(low <= median) and np.all(median <= high)


def test_bootstrap_is_seeded_and_handles_infinite_values():
    values = np.array([1.0, 2.0, 3.0, np.inf, 5.0])
    assert [float(v) for v in bootstrap_ci(values, seed=3)] == [
        float(v) for v in bootstrap_ci(values, seed=3)
    ]
    median, low, high = bootstrap_ci(values, np.median)
    assert median == 3.0 and np.isfinite(low) and low <= 3.0 <= high
    mean, low, high = bootstrap_ci([0.0, 1.0, 1.0, 1.0], np.mean)
    assert mean == 0.75 and 0.0 <= low <= 0.75 <= high <= 1.0


def test_holm_against_hand_computed_cases():
    # Sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Capped at 1; monotone step-down: 0.5*2 = 1.0 then max(1.0, 0.6).
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    # NaN (a test that could not run) is not part of the family: m = 2 here.
    adjusted = holm([0.02, np.nan, 0.04])
    assert adjusted[0] == pytest.approx(0.04) and adjusted[2] == pytest.approx(0.04)
    assert np.isnan(adjusted[1])
    assert holm([0.2]) == pytest.approx([0.2])


def test_paired_wilcoxon_direction_effect_and_exact_p():
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = a + np.array([0.5, 0.1, 0.3, 0.2, 0.6, 0.4])
    test = paired_wilcoxon(a, b)  # a - b < 0 on every pair: the usual sign, -1
    assert test.effect == -1.0 and test.n == 6
    assert test.pvalue == pytest.approx(2 / 2**6)  # exact: only the all-negative sign pattern
    assert paired_wilcoxon(b, a).effect == 1.0
    # A diverged run (inf) on b's side is one more pair that a wins.
    assert paired_wilcoxon(a, np.append(b[:-1], np.inf)).effect == -1.0
    same = paired_wilcoxon(a, a)
    assert same.pvalue == 1.0 and same.effect == 0.0 and same.n == 0
    mixed = paired_wilcoxon([1.0, 2, 3, 4], [2.0, 1, 4, 3.5])
    # ranks of |d| = [1, 1, 1, 0.5] -> [3, 3, 3, 1]: a lower on pairs 1, 3 and b on 2, 4.
    assert mixed.effect == pytest.approx(-(3 + 3 - 3 - 1) / 10)
    with pytest.raises(ValueError, match="paired"):
        paired_wilcoxon([1.0, 2.0], [1.0])


def trace_frame(runs: dict[tuple[str, int], list[float]]) -> pd.DataFrame:
    """A traces table for problem 'P' from {(label, repetition): excess losses at cost 0,10,...}."""
    rows = []
    for (label, rep), values in runs.items():
        for i, value in enumerate(values):
            rows.append(
                {
                    "trial_id": f"{label}-{rep}",
                    "problem_label": "P",
                    "label": label,
                    "repetition": rep,
                    "status": "done",
                    "iteration": i,
                    "cost": 10.0 * i,
                    "excess_loss": value,
                    "loss": value + 2.0,
                }
            )
    return pd.DataFrame(rows)


HAND_TRACES = trace_frame(
    {
        ("A", 0): [1.0, 0.1, 0.01, 0.01],
        ("B", 0): [1.0, 0.5, 0.05, 0.2],  # not monotone: best-so-far keeps 0.05
        ("A", 1): [1.0, 0.8, 0.3, 0.3],
        ("B", 1): [1.0, 0.2, 0.1, 0.1],
    }
)


def test_targets_and_hitting_times_use_best_so_far():
    goals = targets(HAND_TRACES, "excess_loss", decades=2, per_decade=1)
    assert goals["target"].tolist() == pytest.approx([0.1, 0.01])
    # Without f*, gaps are measured from the best loss any trial logged (2.01 here).
    best = best_logged(HAND_TRACES, "loss")
    assert best == {"P": pytest.approx(2.01)}
    loss_goals = targets(HAND_TRACES, "loss", references=best, decades=1, per_decade=1)
    assert loss_goals["target"].tolist() == pytest.approx([0.099])
    hits = hitting_times(HAND_TRACES, goals, "cost", "excess_loss").set_index(
        ["trial_id", "relative"]
    )["hit"]
    assert hits[("A-0", 0.1)] == 10 and hits[("A-0", 0.01)] == 20
    assert hits[("B-0", 0.1)] == 20 and hits[("B-0", 0.01)] == np.inf
    assert hits[("A-1", 0.1)] == np.inf and hits[("B-1", 0.1)] == 20


def test_runtime_ecdf_against_hand_count():
    goals = targets(HAND_TRACES, "excess_loss", decades=2, per_decade=1)
    hits = hitting_times(HAND_TRACES, goals, "cost", "excess_loss")
    ecdf = runtime_ecdf(hits, np.array([0.0, 10.0, 20.0, 30.0]))
    by_label = {label: g["fraction"].tolist() for label, g in ecdf.groupby("label")}
    # 4 (trial, target) runs each. A: rep 0 hits at 10 and 20, rep 1 never. B: 20 and 20.
    assert by_label["A"] == pytest.approx([0, 0.25, 0.5, 0.5])
    assert by_label["B"] == pytest.approx([0, 0, 0.5, 0.5])


def test_performance_profile_against_hand_computed_ratios():
    # tau = 0.5. rep 0: f_L = 0.01, level 0.505: A and B both at 10 -> ratios 1, 1.
    #            rep 1: f_L = 0.1,  level 0.55:  A at 20, B at 10 -> ratios 2, 1.
    costs = solve_costs(HAND_TRACES, "cost", "excess_loss", tau=0.5)
    profile = performance_profile(costs, np.array([1.0, 1.5, 2.0, 3.0]))
    by_label = {label: g["fraction"].tolist() for label, g in profile.groupby("label")}
    assert by_label["A"] == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert by_label["B"] == pytest.approx([1.0, 1.0, 1.0, 1.0])
    # tau = 0.01: rep 0 level 0.0199 only A (at 20); rep 1 level 0.109 only B (at 20).
    costs = solve_costs(HAND_TRACES, "cost", "excess_loss", tau=0.01)
    profile = performance_profile(costs, np.array([1.0, 100.0]))
    assert profile["fraction"].tolist() == pytest.approx([0.5, 0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="tau"):
        solve_costs(HAND_TRACES, "cost", "excess_loss", tau=1.5)


def finals_frame(values: dict[str, list[float]]) -> pd.DataFrame:
    rows = [
        {"problem_label": "P", "label": label, "repetition": r, "final": v}
        for label, column in values.items()
        for r, v in enumerate(column)
    ]
    return pd.DataFrame(rows)


def test_final_table_ranks_tests_and_marks_significant_wins():
    finals = finals_frame(
        {
            "GES": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
            "worse": [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, np.inf],  # higher on every pair
            "mixed": [0.5, 2.5, 2.0, 4.5, 4.0, 6.5, 6.0],
        }
    )
    table = final_table(finals, reference="GES").set_index("label")
    assert table.loc["worse", "mean_rank"] == 3.0
    assert table.loc["GES", "mean_rank"] == pytest.approx((2 + 1 + 2 + 1 + 2 + 1 + 2) / 7)
    assert (table["scale"] == "log ratio").all()  # every value >= 0: compared as ratios
    assert table["ratio"].loc["worse"] > 1 and table.loc["worse", "p_lower"] == 0.0
    p_worse = 2 / 2**7  # exact two-sided p for 7 pairs all one way
    log_ratios = np.log(np.array([0.5, 2.5, 2, 4.5, 4, 6.5, 6]) / np.arange(1, 8))
    p_mixed = scipy_stats.wilcoxon(log_ratios).pvalue
    assert table.loc["worse", "wilcoxon_p"] == pytest.approx(p_worse)
    assert table.loc["worse", "holm_p"] == pytest.approx(2 * p_worse)
    assert table.loc["mixed", "holm_p"] == pytest.approx(min(1.0, max(p_mixed, 2 * p_worse)))
    assert table.loc["worse", "significant"] and table.loc["worse", "winner"] == "GES"
    assert not table.loc["mixed", "significant"] and table.loc["mixed", "winner"] == ""
    assert np.isnan(table["wilcoxon_p"].loc["GES"])
    assert table.loc["worse", "median"] == 5.0 and table.loc["worse", "n"] == 7
    # 7 values: [x(2), x(6)] covers only 87.5%, so the interval is [min, max] (98.44%).
    assert table.loc["worse", "ci"] == "[min, max] of 7, 98.44%"
    assert (table.loc["worse", "low"], table.loc["worse", "high"]) == (2.0, np.inf)


def test_win_rate_counts_ties_as_half():
    finals = finals_frame({"A": [1.0, 1.0, 3.0, 1.0], "B": [2.0, 1.0, 2.0, 2.0]})
    rates = win_rate(finals).set_index(["label", "opponent"])
    assert rates.loc[("A", "B"), "rate"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert rates.loc[("B", "A"), "rate"] == pytest.approx((0 + 0.5 + 1 + 0) / 4)
    low, high = rates.loc[("A", "B"), ["low", "high"]].to_numpy()
    assert 0 <= low <= 0.625 <= high <= 1 and rates.loc[("A", "B"), "n"] == 4
    assert rates.loc[("A", "B"), "interval"] == "Clopper-Pearson"  # one problem: exact


def test_final_values_counts_diverged_as_infinite_and_leaves_out_failed():
    trials = pd.DataFrame(
        {
            "id": ["t1", "t2", "t3"],
            "problem_label": "P",
            "label": ["A", "A", "B"],
            "optimizer": "opt",
            "repetition": [0, 1, 0],
            "status": ["done", "diverged", "failed"],
        }
    )
    traces = pd.DataFrame(
        {"trial_id": ["t1", "t1", "t2"], "iteration": [1, 0, 0], "loss": [0.5, 9.0, 1.0]}
    )
    finals = final_values(trials, traces, "loss").set_index("trial_id")["final"]
    assert finals.to_dict() == {"t1": 0.5, "t2": np.inf}


def test_sweep_grid_finds_the_varying_parameters():
    def spec(alpha, beta):
        return json.dumps({"optimizer_params": {"alpha": alpha, "beta": beta, "k": 1}})

    trials = pd.DataFrame(
        {
            "label": ["g1", "g2", "g3", "other"],
            "optimizer": ["ges", "ges", "ges", "sgd"],
            "spec": [spec(0.5, 2), spec(0.5, 1), spec(1.0, 2), spec(0, 0)],
        }
    )
    finals = finals_frame({"g1": [1.0, 3.0], "g2": [2.0, np.inf], "g3": [5.0], "other": [0.0]})
    grid = sweep_grid(trials, finals).set_index("label")
    assert list(grid.index) == ["g1", "g2", "g3"]
    assert list(grid.loc["g2", ["alpha", "beta"]]) == [0.5, 1]
    assert "k" not in grid.columns
    assert grid.loc["g1", "median"] == 2.0 and grid.loc["g2", "diverged"] == 1
