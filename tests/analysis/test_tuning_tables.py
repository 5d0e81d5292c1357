"""Tuning tables from a stored tuning record: evaluation-only results, the selected settings
with the default's score, budgets, and the default-vs-tuned pairs of a spec."""

from __future__ import annotations

import math

import pandas as pd

from gesbench.analysis import tuning
from gesbench.store.reader import Results


def record() -> dict:
    """A two-rung record of one method tuned on one problem (as gesbench.run.tuning stores)."""
    table = [
        {"rung": 0, "problem_label": "P", "label": "GES", "optimizer": "guided_es", "config": c,
         "params": {"lr": lr}, "score": s, "median_final": s, "median_auc": None, "order": o}
        for c, lr, s, o in [(0, 0.1, 3.0, 2), (1, 0.2, 2.0, 1), (2, 0.5, 1.0, 0)]
    ] + [
        {"rung": 1, "problem_label": "P", "label": "GES", "optimizer": "guided_es", "config": c,
         "params": {"lr": lr}, "score": s, "median_final": s, "median_auc": None, "order": o}
        for c, lr, s, o in [(1, 0.2, 0.5, 1), (2, 0.5, None, 0)]
    ]  # fmt: skip
    return {
        "settings": {"select": "median_final"},
        "spaces": {"GES": {"params": ["lr"], "given": {"lr": [0.1, 0.2, 0.5]}}},
        "table": table,
        "selected": [
            {
                "problem_label": "P",
                "label": "GES",
                "optimizer": "guided_es",
                "scope": "per_problem",
                "criterion": "median_final",
                "config": 2,
                "params": {"lr": 0.5},
                "score": None,
                "median_final": None,
                "notes": ["lr = 0.5 is the largest value tried"],
            }
        ],
        "costs": [
            {
                "label": "GES",
                "optimizer": "guided_es",
                "configurations": 3,
                "trials_per_problem": 5,
                "per_problem": 350.0,
                "problems": 1,
                "total": 350.0,
            }
        ],
        "trials": [
            {
                "id": "t1",
                "rung": 0,
                "problem_label": "P",
                "label": "GES",
                "config": 0,
                "params": {"lr": 0.1},
                "repetition": 0,
                "status": "diverged",
                "final": None,
                "auc": None,
            }
        ],
    }


def test_selected_table_gives_the_selection_and_the_defaults_score_at_its_longest_rung():
    table = tuning.selected_table(record(), {"guided_es": {"lr": 0.2, "sigma": 0.1}})
    row = table.iloc[0]
    assert row["setting"] == "lr=0.5" and row["param_lr"] == 0.5
    assert row["score"] == math.inf  # stored as null: diverged everywhere
    assert row["default"] == "lr=0.2"
    assert row["default_score"] == 0.5 and row["default_rung"] == 1
    assert row["notes"] == "lr = 0.5 is the largest value tried"
    untried = tuning.selected_table(record(), {"guided_es": {"lr": 0.3}}).iloc[0]
    assert untried["default_rung"] == -1 and math.isnan(untried["default_score"])


def test_points_and_budgets_read_the_record():
    points = tuning.tuning_points(record())
    assert points.loc[0, "final"] == math.inf and points.loc[0, "param_lr"] == 0.1
    assert tuning.budget_table(record()).loc[0, "trials per problem"] == 5
    assert tuning.tuned_params(record(), "GES") == ["lr"]
    assert tuning.tuning_record({}) == {} and tuning.tuning_points({}).empty


def test_evaluation_only_drops_tuning_trials_and_their_traces():
    trials = pd.DataFrame({"id": ["a", "b"], "role": ["tuning", "evaluation"]})
    traces = pd.DataFrame({"trial_id": ["a", "a", "b"], "role": ["tuning", "tuning", "evaluation"]})
    out = tuning.evaluation_only(Results(trials, traces, pd.DataFrame()))
    assert list(out.trials["id"]) == ["b"] and list(out.traces["trial_id"]) == ["b"]
    # Without tuning trials the results are handed back as they are, traces not copied.
    evaluation = Results(trials.iloc[1:], traces.iloc[2:], pd.DataFrame())
    assert tuning.evaluation_only(evaluation).traces is evaluation.traces


def test_default_pairs_match_untuned_entries_of_the_same_optimizer():
    meta = {
        "experiment": {
            "optimizers": [
                {
                    "name": "guided_es",
                    "label": "GES",
                    "params": {"lr": 0.2, "sigma": 0.1},
                    "tune": None,
                },
                {
                    "name": "guided_es",
                    "label": "GES tuned",
                    "params": {"lr": 0.2, "sigma": 0.1},
                    "tune": {"params": ["lr"]},
                },
                {
                    "name": "guided_es",
                    "label": "GES wide",
                    "params": {"lr": 0.2, "sigma": 1.0},
                    "tune": None,
                },
                {
                    "name": "vanilla_es",
                    "label": "ES",
                    "params": {"lr": 0.2, "sigma": 0.1},
                    "tune": None,
                },
            ]
        }
    }
    assert tuning.default_pairs(meta) == [("GES tuned", "GES")]
