"""Selection statistics on hand-made tuning results: scores, criteria, scopes, ties, edges."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata

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
    assert out["final"].loc["a"] == out["final"].loc["b"] == 0.01
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


# worst_final: the lowest worst (largest) final value over the tuning seeds.


def worst_of(data: pd.DataFrame) -> dict[int, float]:
    """Each configuration's largest final value, straight from the rows."""
    out: dict[int, float] = {}
    for row in data.to_dict("records"):
        out[int(row["config"])] = max(out.get(int(row["config"]), -INF), float(row["final"]))
    return out


def test_worst_final_sees_the_seed_a_median_hides():
    # Config 0 is the best on two seeds of three and throws the third off (the large step of
    # truncated_unroll at K = 5); config 1 is uniformly decent.
    data = scored(
        {
            (0, 0, 0): 0.0030, (0, 0, 1): 0.0037, (0, 0, 2): 1.9,
            (0, 1, 0): 0.0039, (0, 1, 1): 0.0040, (0, 1, 2): 0.0041,
        }
    )  # fmt: skip
    by_median = rank_configurations(data, "median_final", "per_problem")
    by_worst = rank_configurations(data, "worst_final", "per_problem")
    assert chosen(by_median) == {0: 0}
    assert chosen(by_worst) == {0: 1}
    assert by_worst.set_index("config")["score"].to_dict() == worst_of(data)
    # Only the score and order differ: the columns describing a configuration are the same.
    shared = ["problem", "entry", "config", "median_final", "median_auc", "survival", "n"]
    pd.testing.assert_frame_equal(by_worst[shared], by_median[shared])
    assert list(by_worst.columns) == list(by_median.columns)


def test_worst_final_counts_a_diverged_or_failed_seed_as_worst():
    # Config 0 is excellent twice and diverges once; config 2 fails once (never ran); config 1
    # is poor but always finishes: the only one with a finite worst.
    data = scored(
        {
            (0, 0, 0): 1e-6, (0, 0, 1): 1e-6, (0, 0, 2): INF,
            (0, 1, 0): 50.0, (0, 1, 1): 60.0, (0, 1, 2): 70.0,
            (0, 2, 0): 1e-6, (0, 2, 1): 1e-6, (0, 2, 2): INF,
        }
    )  # fmt: skip
    data.loc[data["id"] == "0-2-2", "status"] = "failed"
    table = rank_configurations(data, "worst_final", "per_problem").set_index("config")
    assert table.loc[1, "order"] == 0
    assert table["score"].loc[0] == table["score"].loc[2] == INF
    assert (table.loc[0, "diverged"], table.loc[2, "failed"]) == (1, 1)
    assert chosen(rank_configurations(data, "median_final", "per_problem")) == {0: 0}


def test_worst_final_ties_go_to_the_longest_lived_worst_seed():
    # Every configuration diverged on some seed, so all score +inf. Config 1 diverged once, at
    # a tenth of the budget: the best median survival (1.0), the worst worst case. The worst
    # case decides (config 2's shortest-lived seed lasted half the budget), then the median.
    data = scored(
        {
            (0, 0, 0): INF, (0, 0, 1): INF, (0, 0, 2): 1.0,
            (0, 1, 0): INF, (0, 1, 1): 2.0, (0, 1, 2): 2.0,
            (0, 2, 0): INF, (0, 2, 1): INF, (0, 2, 2): 3.0,
            (0, 3, 0): INF, (0, 3, 1): 4.0, (0, 3, 2): 4.0,
        },
        survival={
            (0, 0, 0): 0.2, (0, 0, 1): 0.3, (0, 1, 0): 0.1, (0, 2, 0): 0.5, (0, 2, 1): 0.6,
            (0, 3, 0): 0.5,
        },
    )  # fmt: skip
    table = rank_configurations(data, "worst_final", "per_problem")
    assert set(table["score"]) == {INF}
    by_config = table.set_index("config")
    assert by_config["survival"].to_dict() == {0: 0.3, 1: 1.0, 2: 0.6, 3: 1.0}
    assert by_config["worst_survival"].to_dict() == {0: 0.2, 1: 0.1, 2: 0.5, 3: 0.5}
    assert chosen(table) == {0: 3}  # 2 and 3 share the worst case; 3 lasted longer in median
    assert ties(table) == {(0, 0): [3, 2, 0, 1]}
    # the median cannot see config 1's early divergence: it picks it
    assert chosen(rank_configurations(data, "median_final", "per_problem")) == {0: 1}


def test_worst_final_shared_scope_ranks_each_problems_worst_and_averages_the_ranks():
    # Two problems at scales 1e-6 and 1. On problem 0 config 0 has the best median but the
    # worst seed; on problem 1 config 0 is best on every seed by far. Worst-final ranks of
    # configs 0, 1, 2: problem 0 (3, 1, 2), problem 1 (1, 2, 3); means 2, 1.5, 2.5. By median
    # config 0 ranks first on both problems.
    data = scored(
        {
            (0, 0, 0): 1e-7, (0, 0, 1): 1e-7, (0, 0, 2): 9e-6,
            (0, 1, 0): 2e-6, (0, 1, 1): 2e-6, (0, 1, 2): 2e-6,
            (0, 2, 0): 3e-6, (0, 2, 1): 3e-6, (0, 2, 2): 3e-6,
            (1, 0, 0): 0.1, (1, 0, 1): 0.1, (1, 0, 2): 0.1,
            (1, 1, 0): 5.0, (1, 1, 1): 5.0, (1, 1, 2): 6.0,
            (1, 2, 0): 6.0, (1, 2, 1): 7.0, (1, 2, 2): 8.0,
        }
    )  # fmt: skip
    table = rank_configurations(data, "worst_final", "shared")
    assert set(table["problem"]) == {-1}
    expected: dict[int, float] = {}
    for problem in (0, 1):
        worst = worst_of(data[data["problem"] == problem])
        for config, rank in zip(worst, rankdata(list(worst.values())), strict=True):
            expected[config] = expected.get(config, 0.0) + rank / 2
    assert table.set_index("config")["score"].to_dict() == pytest.approx(expected)
    assert chosen(table) == {-1: 1}
    assert chosen(rank_configurations(data, "median_final", "shared")) == {-1: 0}


def test_halving_keeps_the_configurations_with_the_lowest_worst_seed_at_a_rung():
    # A rung of 4 configurations, 3 seeds; eta 2 keeps 2. By median the two flaky ones
    # (0 and 3) would go on; by worst seed the two steady ones (1 and 2).
    data = scored(
        {
            (0, 0, 0): 0.1, (0, 0, 1): 0.1, (0, 0, 2): 8.0,
            (0, 1, 0): 1.0, (0, 1, 1): 1.2, (0, 1, 2): 1.1,
            (0, 2, 0): 1.1, (0, 2, 1): 1.3, (0, 2, 2): 1.2,
            (0, 3, 0): 0.2, (0, 3, 1): 0.2, (0, 3, 2): INF,
        }
    )  # fmt: skip
    by_worst = rank_configurations(data, "worst_final", "per_problem")
    by_median = rank_configurations(data, "median_final", "per_problem")
    assert survivors(by_worst, 2) == {(0, 0): [1, 2]}
    assert survivors(by_median, 2) == {(0, 0): [0, 3]}


def test_an_unknown_criterion_is_refused_with_a_suggestion():
    data = scored({(0, 0, 0): 1.0})
    with pytest.raises(ValueError, match=r"got 'worst'\. Did you mean 'worst_final'\?"):
        rank_configurations(data, "worst", "per_problem")


configs = st.integers(min_value=2, max_value=5)
seeds = st.integers(min_value=1, max_value=4)
finals = st.one_of(
    st.just(INF), st.floats(min_value=1e-9, max_value=1e3, allow_nan=False, allow_subnormal=False)
)


@st.composite
def tuning_results(draw, problems: int = 1) -> pd.DataFrame:
    n_configs, n_seeds = draw(configs), draw(seeds)
    cells = [(p, c, r) for p in range(problems) for c in range(n_configs) for r in range(n_seeds)]
    values = draw(st.lists(finals, min_size=len(cells), max_size=len(cells)))
    lasted = draw(
        st.lists(st.sampled_from([0.1, 0.5, 1.0]), min_size=len(cells), max_size=len(cells))
    )
    return scored(
        dict(zip(cells, values, strict=True)), survival=dict(zip(cells, lasted, strict=True))
    )


@settings(max_examples=100, deadline=None)
@given(tuning_results())
def test_worst_final_pick_is_never_beaten_on_its_worst_seed(data):
    table = rank_configurations(data, "worst_final", "per_problem")
    (pick,) = chosen(table).values()
    worst = worst_of(data)
    assert all(worst[pick] <= w for w in worst.values())
    # Among the configurations that share its worst, none lasted longer on its shortest-lived
    # seed, nor (among those that lasted as long) in median.
    tied = table[table["score"] == worst[pick]].set_index("config")
    assert tied.loc[pick, "worst_survival"] == tied["worst_survival"].max()
    level = tied[tied["worst_survival"] == tied.loc[pick, "worst_survival"]]
    assert tied.loc[pick, "survival"] == level["survival"].max()


@settings(max_examples=50, deadline=None)
@given(tuning_results(problems=3))
def test_worst_final_shared_pick_wins_when_it_is_best_on_every_problem(data):
    # A configuration whose worst seed is strictly best on every problem is the shared pick.
    per_problem = [worst_of(data[data["problem"] == p]) for p in range(3)]
    dominant = [
        c
        for c in per_problem[0]
        if all(all(w[c] < v for k, v in w.items() if k != c) for w in per_problem)
    ]
    table = rank_configurations(data, "worst_final", "shared")
    assert table["score"].between(1, table["config"].nunique()).all()  # mean ranks
    if dominant:
        assert chosen(table) == {-1: dominant[0]}
