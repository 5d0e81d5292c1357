"""The final table's comparisons, Friedman ranks, win rates, COCO runtimes and summary curves
on small hand-made inputs with known answers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import cast

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from gesbench.analysis import (
    ecdf_area,
    expected_running_time,
    final_table,
    friedman,
    hitting_times,
    runtime_ecdf,
    summarize,
    targets,
    win_rate,
)
from gesbench.analysis.curves import GRID_LINEAR, GRID_LOG, x_grid
from gesbench.analysis.final_table import pairs_to_reach, smallest_holm_p
from gesbench.analysis.stats import holm


def finals(values: Mapping[tuple[str, str], Iterable[float]]) -> pd.DataFrame:
    """{(problem, label): finals by repetition} as final_values output."""
    return pd.DataFrame(
        [
            {"problem_label": p, "label": label, "repetition": r, "final": v}
            for (p, label), column in values.items()
            for r, v in enumerate(column)
        ]
    )


# --- final table ------------------------------------------------------------------------------


def test_ratio_is_method_over_reference_with_the_usual_sign():
    ref = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    half = [v / 2 for v in ref]
    table = final_table(finals({("P", "ref"): ref, ("P", "half"): half}), "ref")
    row = table.set_index("label").loc["half"]
    assert row["ratio"] == pytest.approx(0.5) and row["shift"] == pytest.approx(math.log(0.5))
    assert row["ratio_low"] == pytest.approx(0.5) and row["ratio_high"] == pytest.approx(0.5)
    assert row["p_lower"] == 1.0 and row["p_lower_low"] == pytest.approx(0.025 ** (1 / 6))
    assert row["winner"] == "half" and row["significant"]  # 2/64 = 0.031 <= 5%, one test


def test_holm_runs_over_every_comparison_of_the_run_not_within_a_problem():
    rng = np.random.default_rng(3)
    values = {}
    for p in ("P1", "P2", "P3"):
        base = rng.lognormal(size=8)
        values[(p, "ref")] = base
        values[(p, "a")] = base * rng.lognormal(0.3, 0.5, size=8)
        values[(p, "b")] = base * rng.lognormal(-0.2, 0.5, size=8)
    table = final_table(finals(values), "ref")
    tested = table[table["pairs"] > 0]
    assert len(tested) == 6
    assert tested["holm_p"].to_numpy() == pytest.approx(holm(tested["wilcoxon_p"].to_numpy()))


def test_negative_values_switch_a_problem_to_differences():
    table = final_table(
        finals({("P", "ref"): [-1.0, 0.5, 2.0, 3.0], ("P", "x"): [-2.0, 0.0, 1.5, 2.0]}), "ref"
    )
    row = table.set_index("label").loc["x"]
    assert row["scale"] == "difference" and np.isnan(row["ratio"])
    assert row["shift"] == pytest.approx(-0.75)  # median of the Walsh averages of -1, -.5, -.5, -1


def test_power_says_how_many_repetitions_the_observed_effect_needs():
    table = final_table(
        finals({("P", "ref"): [1.0, 2, 3, 4, 5], ("P", "x"): [0.9, 1.9, 3.2, 3.8, 4.7]}), "ref"
    )
    row = table.set_index("label").loc["x"]
    assert not row["significant"] and row["pairs_needed"] > 5
    assert smallest_holm_p(5, 1) == pytest.approx(2 / 32) and pairs_to_reach(1) == 6
    assert pairs_to_reach(3) == 7 and smallest_holm_p(7, 3) <= 0.05


def test_diverged_runs_rank_last_and_give_infinite_ratios():
    table = final_table(
        finals({("P", "ref"): [1.0, 2.0, 3.0], ("P", "boom"): [np.inf, np.inf, np.inf]}), "ref"
    ).set_index("label")
    assert table.loc["boom", "median"] == np.inf and table.loc["boom", "mean_rank"] == 2.0
    assert table.loc["boom", "ratio"] == np.inf and table.loc["boom", "p_lower"] == 0.0


# --- Friedman and the critical-difference groups -----------------------------------------------


def test_friedman_statistic_matches_scipy_and_permutations_match_enumeration():
    values = {
        ("P1", "A"): [1.0], ("P1", "B"): [2.0], ("P1", "C"): [3.0],
        ("P2", "A"): [1.0], ("P2", "B"): [3.0], ("P2", "C"): [2.0],
        ("P3", "A"): [2.0], ("P3", "B"): [1.0], ("P3", "C"): [3.0],
        ("P4", "A"): [1.0], ("P4", "B"): [2.0], ("P4", "C"): [3.0],
    }  # fmt: skip
    result = friedman(finals(values), permutations=20_000, seed=1)
    assert result is not None
    test = result.test.iloc[0]
    wide = np.array([[1, 2, 3], [1, 3, 2], [2, 1, 3], [1, 2, 3]], dtype=float)
    assert test["chi2"] == pytest.approx(scipy_stats.friedmanchisquare(*wide.T).statistic)
    assert test["block_kind"] == "problem" and test["blocks"] == 4
    # Exact permutation p-value by enumerating all 6^4 within-block permutations.
    observed = np.sum((wide.mean(axis=0) - 2) ** 2)
    perms = list(itertools.permutations(range(3)))
    exceed = sum(
        np.sum((np.mean([row[list(p)] for row, p in zip(wide, ps, strict=True)], axis=0) - 2) ** 2)
        >= observed - 1e-12
        for ps in itertools.product(perms, repeat=4)
    )
    assert test["permutation_p"] == pytest.approx(exceed / 6**4, abs=0.01)
    assert result.ranks["label"].tolist() == ["A", "B", "C"]


def test_critical_difference_groups_join_methods_without_significant_differences():
    rng = np.random.default_rng(0)
    values = {}
    for p in range(12):  # A << B ~ C on every problem
        values[(f"P{p}", "A")] = [0.01 * rng.random()]
        b = 1 + rng.random()
        values[(f"P{p}", "B")] = [b]
        values[(f"P{p}", "C")] = [b + rng.normal(0, 0.5)]
    result = friedman(finals(values), seed=0)
    assert result is not None
    pairs = result.pairs.set_index(["label", "opponent"])
    assert pairs.loc[("A", "B"), "significant"] and pairs.loc[("A", "C"), "significant"]
    assert sorted(map(sorted, result.groups)) == [["B", "C"]]
    assert result.test.iloc[0]["permutation_p"] < 0.01


def test_friedman_on_one_problem_ranks_repetitions_and_needs_two_blocks():
    one = finals({("P", "A"): [1.0, 2.0, 3.0], ("P", "B"): [2.0, 3.0, 4.0]})
    result = friedman(one)
    assert result is not None and result.test.iloc[0]["block_kind"] == "repetition"
    assert friedman(finals({("P", "A"): [1.0], ("P", "B"): [2.0]})) is None


# --- win rates -------------------------------------------------------------------------------


def test_win_rate_of_five_wins_of_five_is_not_certain():
    rates = win_rate(finals({("P", "A"): [1.0] * 5, ("P", "B"): [2.0] * 5}))
    row = cast(pd.Series, rates.set_index(["label", "opponent"]).loc[("A", "B")])
    assert row["rate"] == 1.0 and row["low"] == pytest.approx(0.478, abs=1e-3)
    assert row["interval"] == "Clopper-Pearson"


def test_win_rate_across_problems_resamples_problems():
    # A wins every instance of P1 and P2 and loses every one of P3: the pooled rate is 2/3 and
    # the interval must reflect that problems disagree, far wider than over 30 instances.
    values = {}
    for p, a_wins in (("P1", True), ("P2", True), ("P3", False)):
        values[(p, "A")] = [1.0 if a_wins else 3.0] * 10
        values[(p, "B")] = [2.0] * 10
    rates = win_rate(finals(values), seed=0).set_index(["label", "opponent"])
    row = cast(pd.Series, rates.loc[("A", "B")])
    assert row["rate"] == pytest.approx(2 / 3) and row["interval"] == "bootstrap over problems"
    assert row["low"] <= 0.34 and row["high"] == 1.0  # all-P1/P2 resamples give 1
    assert row["problems"] == 3 and row["n"] == 30


# --- COCO runtimes -------------------------------------------------------------------------------


def trace_rows(trial_id, label, status, costs, gaps, problem="P"):
    return [
        {"trial_id": trial_id, "problem_label": problem, "label": label, "status": status,
         "repetition": 0, "iteration": i, "cost": c, "value": g}
        for i, (c, g) in enumerate(zip(costs, gaps, strict=True))
    ]  # fmt: skip


def test_ert_counts_unsuccessful_diverged_and_failed_runs_in_the_denominator():
    rows = (
        trace_rows("t1", "A", "done", [0, 10, 20, 30], [1.0, 0.5, 0.05, 0.01])
        + trace_rows("t2", "A", "diverged", [0, 10, 20], [1.0, 0.05, np.inf])
        + trace_rows("t3", "A", "failed", [0, 5], [1.0, 0.9])
    )
    traces = pd.DataFrame(rows)
    goals = pd.DataFrame(
        {"problem_label": "P", "reference": 0.0, "relative": [0.1, 0.01], "target": [0.1, 0.01]}
    )
    trials = pd.DataFrame({"id": ["t1", "t2", "t3", "t4"], "problem_label": "P", "label": "A",
                           "status": ["done", "diverged", "failed", "failed"],
                           "iterations": [30, 20, 5, 7]})  # fmt: skip
    hits = hitting_times(traces, goals, "cost", "value", trials=trials)
    assert len(hits) == 8  # every trial, the one that logged nothing (t4) too
    by = hits.set_index(["trial_id", "relative"])
    assert by.loc[("t1", 0.1), "hit"] == 20 and by.loc[("t1", 0.01), "hit"] == 30
    assert by.loc[("t3", 0.1), "hit"] == np.inf and by.loc[("t3", 0.1), "spent"] == 5
    assert (hits.loc[hits["trial_id"] == "t2", "hit"] == np.inf).all()  # diverged: unsuccessful
    reach = hitting_times(traces, goals, "cost", "value", trials=trials, diverged_reach=True)
    assert reach.set_index(["trial_id", "relative"]).loc[("t2", 0.1), "hit"] == 10
    ert = expected_running_time(hits, seed=0).set_index("relative")
    # Target 0.1: one success (20) + the others' budgets (20 + 5 + 0) over 1 success.
    assert ert["ert"].loc[0.1] == pytest.approx(20 + 20 + 5 + 0)
    assert ert["success_rate"].loc[0.1] == 0.25 and ert["runs"].loc[0.1] == 4
    assert 0 < ert["success_low"].loc[0.1] < 0.25 < ert["success_high"].loc[0.1]
    assert ert["ert_low"].loc[0.1] <= ert["ert"].loc[0.1] <= ert["ert_high"].loc[0.1]
    assert ert["ert"].loc[0.01] == pytest.approx(30 + 20 + 5 + 0)


def test_ecdf_per_problem_and_its_area():
    rows = trace_rows("a", "A", "done", [1, 10, 100], [1.0, 0.05, 0.05]) + trace_rows(
        "b", "B", "done", [1, 10, 100], [1.0, 0.5, 0.05]
    )
    traces = pd.DataFrame(rows)
    goals = targets(traces, "value", decades=1, per_decade=1)  # one target: 0.1
    hits = hitting_times(traces, goals, "cost", "value")
    grid = np.geomspace(1, 100, 201)
    ecdf = runtime_ecdf(hits, grid, per_problem=True)
    area = ecdf_area(ecdf).set_index("label")["area"]
    # A reaches the target at 10 (half of the log range), B at 100 (the end).
    assert area["A"] == pytest.approx(0.5, abs=0.01) and area["B"] == pytest.approx(0, abs=0.01)
    assert set(ecdf["problem_label"]) == {"P"}
    pooled = runtime_ecdf(hits, grid)
    assert set(pooled["problem_label"]) == {"all problems"}


# --- curves -------------------------------------------------------------------------------------


def curve_traces(points: int) -> pd.DataFrame:
    rows = []
    for rep in range(3):
        x = np.unique(np.round(np.geomspace(1, 1000, points)))
        x = np.concatenate([[0], x])
        for label, status in (("ok", "done"), ("boom", "diverged")):
            values = np.exp(-x / 300) * (rep + 1)
            if status == "diverged":
                x_used, values = x[: len(x) // 2], values[: len(x) // 2] * 10.0 ** (rep + 1)
            else:
                x_used = x
            rows += [
                {"trial_id": f"{label}{rep}", "problem_label": "P", "label": label,
                 "repetition": rep, "status": status, "iteration": float(i),
                 "evaluations": 2.0 * i, "gradient_calls": 0.0, "value": v}
                for i, v in zip(x_used, values, strict=True)
            ]  # fmt: skip
    return pd.DataFrame(rows)


def test_curves_use_a_fixed_grid_whatever_the_number_of_logged_points():
    small = summarize(curve_traces(50), "iteration", "value").summary
    large = summarize(curve_traces(900), "iteration", "value").summary
    for curves in (small, large):
        ok = curves[curves["label"] == "ok"]
        assert len(ok) <= GRID_LOG + GRID_LINEAR + 2
        assert (ok["n"] == 3).all() and (ok["coverage"] == 0.75).all()  # [min, max] of 3
    assert len(x_grid(np.array([0.0, 1.0, 1000.0]))) == len(x_grid(np.linspace(0, 1000, 5000)))


def test_diverged_repetitions_are_infinite_after_they_stop_and_counters_that_never_move_skip():
    curves = summarize(curve_traces(100), "iteration", "value")
    boom = curves.summary[curves.summary["label"] == "boom"]
    late = boom[boom["x"] > 600]
    assert np.isinf(late["median"]).all() and (late["diverged"] == 3).all()
    assert (curves.summary.loc[curves.summary["label"] == "ok", "diverged"] == 0).all()
    assert summarize(curve_traces(100), "gradient_calls", "value").summary.empty
    seeds = curves.seeds
    assert set(seeds["repetition"]) == {0, 1, 2} and set(seeds["label"]) == {"ok", "boom"}
    assert summarize(curve_traces(100), "iteration", "value", seed_curves=2).seeds.empty


def test_empty_curves_keep_numeric_dtypes():
    empty = summarize(curve_traces(20), "gradient_calls", "value").summary
    assert empty.empty and empty["median"].dtype == float and empty["x"].dtype == float
