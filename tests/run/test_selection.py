"""Selection statistics on hand-made tuning results: scores, criteria, scopes, ties, edges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gesbench.core.budget import Budget
from gesbench.run.selection import edges, rank_configurations, score_trials, survivors, ties

INF = math.inf


def scored(finals: dict[tuple[int, int, int], float], **extra: dict) -> pd.DataFrame:
    """Rows of (problem, config, repetition) -> final for one method (entry 0)."""
    rows = []
    for (problem, config, repetition), final in finals.items():
        rows.append(
            {
                "id": f"{problem}-{config}-{repetition}",
                "problem": problem,
                "entry": 0,
                "config": config,
                "repetition": repetition,
                "status": "diverged" if final == INF else "done",
                "final": final,
                "auc": np.log10(final) if final < INF else INF,
                "survival": extra.get("survival", {}).get((problem, config, repetition), 1.0),
            }
        )
    return pd.DataFrame(rows)


def chosen(table: pd.DataFrame) -> dict[int, int]:
    return {
        int(r["problem"]): int(r["config"]) for r in table[table["order"] == 0].to_dict("records")
    }


def test_median_final_picks_the_lowest_median_over_seeds():
    # config 0: 1, 1, 9 (median 1); config 1: 0.5, 5, 5 (median 5, but the best single run)
    data = scored(
        {(0, 0, 0): 1, (0, 0, 1): 1, (0, 0, 2): 9, (0, 1, 0): 0.5, (0, 1, 1): 5, (0, 1, 2): 5}
    )
    table = rank_configurations(data, "median_final", "per_problem")
    assert chosen(table) == {0: 0}
    assert table.set_index("config")["score"].to_dict() == {0: 1.0, 1: 5.0}


def test_mean_rank_ranks_configurations_on_each_seed():
    # config 1 wins two seeds of three by a little and loses one by a lot: the better mean
    # rank, whatever the size of the loss.
    data = scored(
        {(0, 0, 0): 2, (0, 0, 1): 2, (0, 0, 2): 2, (0, 1, 0): 1, (0, 1, 1): 1, (0, 1, 2): 100}
    )
    table = rank_configurations(data, "mean_rank", "per_problem").set_index("config")
    assert table["score"].to_dict() == pytest.approx({0: 5 / 3, 1: 4 / 3})
    assert table.loc[1, "order"] == 0


def test_diverged_runs_count_as_worst_and_ties_go_to_the_longer_survivor_then_list_order():
    data = scored(
        {(0, 0, 0): INF, (0, 1, 0): INF, (0, 2, 0): INF},
        survival={(0, 0, 0): 0.1, (0, 1, 0): 0.6, (0, 2, 0): 0.6},
    )
    table = rank_configurations(data, "median_final", "per_problem")
    assert chosen(table) == {0: 1}  # survived longest; config 2 ties with it and is listed later
    assert ties(table) == {(0, 0): [1, 2, 0]}
    finite = rank_configurations(
        scored({(0, 0, 0): 3.0, (0, 1, 0): 3.0, (0, 2, 0): 4.0}), "median_final", "per_problem"
    )
    assert chosen(finite) == {0: 0} and ties(finite) == {(0, 0): [0, 1]}
    assert survivors(finite, 2) == {(0, 0): [0, 1]}


def test_shared_scope_averages_ranks_over_problems_whatever_their_scales():
    # Problem 0 (scale 1e-6) prefers config 0 slightly; problem 1 (scale 1) prefers config 1
    # by far; problem 2 prefers config 1. Mean ranks: config 0 (1+2+2)/3, config 1 (2+1+1)/3.
    data = scored(
        {
            (0, 0, 0): 1e-6, (0, 1, 0): 2e-6,
            (1, 0, 0): 10.0, (1, 1, 0): 1.0,
            (2, 0, 0): 3.0, (2, 1, 0): 2.0,
        }
    )  # fmt: skip
    table = rank_configurations(data, "median_final", "shared")
    assert set(table["problem"]) == {-1}
    assert table.set_index("config")["score"].to_dict() == pytest.approx({0: 5 / 3, 1: 4 / 3})
    assert chosen(table) == {-1: 1}


def test_auc_criterion_prefers_the_faster_of_two_equal_finishers():
    data = scored({(0, 0, 0): 0.01, (0, 1, 0): 0.01})
    data["auc"] = [-1.0, -1.5]  # config 1 got there sooner
    table = rank_configurations(data, "auc", "per_problem")
    assert chosen(table) == {0: 1}


def traces_for(trial_id: str, x: list[float], y: list[float], problem: str = "P") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trial_id": trial_id,
            "problem_label": problem,
            "iteration": x,
            "evaluations": [2 * v for v in x],
            "gradient_calls": x,
            "cost": x,
            "loss": [v + 1 for v in y],
            "excess_loss": y,
        }
    )


def test_scores_of_stored_trials_final_auc_and_survival():
    budget = Budget("iterations", 100)
    trials = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "status": ["done", "done", "diverged"],
            "iterations": [100, 100, 30],
            "evaluations": [200, 200, 60],
            "gradient_calls": [100, 100, 30],
        }
    )
    traces = pd.concat(
        [
            traces_for("a", [0, 100], [0.01, 0.01]),  # log10 = -2 throughout
            traces_for("b", [0, 50, 100], [1.0, 0.01, 0.01]),  # 0 for half, -2 for half
            traces_for("c", [0, 30], [1.0, np.nan]),
        ]
    )
    cells = pd.DataFrame(
        {
            "id": ["a", "b", "c", "missing"],
            "problem": 0,
            "entry": 0,
            "config": [0, 1, 2, 3],
            "repetition": 0,
            "problem_label": "P",
        }
    )
    out = score_trials(cells, trials, traces, budget).set_index("id")
    assert out.loc["a", "auc"] == pytest.approx(-2.0)
    assert out.loc["b", "auc"] == pytest.approx(-1.0)
    assert out.loc["a", "final"] == out.loc["b", "final"] == 0.01
    assert out.loc["c", "final"] == INF and out.loc["c", "auc"] == INF
    assert out.loc["c", "survival"] == pytest.approx(0.3)
    assert out.loc["missing", "status"] == "failed" and out.loc["missing", "final"] == INF
    # Under an evaluation budget the x axis is evaluations.
    by_evals = score_trials(cells, trials, traces, Budget("evaluations", 200)).set_index("id")
    assert by_evals.loc["b", "auc"] == pytest.approx(-1.0)


def test_edges_of_a_numeric_search_space():
    assert edges([0.1, 0.2, 0.5], 0.5) == "largest"
    assert edges([0.1, 0.2, 0.5], 0.1) == "smallest"
    assert edges([0.1, 0.2, 0.5], 0.2) is None
    assert edges([0.1], 0.1) is None
    assert edges(["sgd", "adam"], "sgd") is None
