"""Tuning in specs: `[tuning]` and `tune` entries are checked at load (errors name the field),
search spaces expand deterministically (grids as listed, ranges through scipy's QMC), and each
method's tuning cost is stated, with a warning when the costs differ."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from gesbench.core.budget import Budget
from gesbench.core.errors import SpecError
from gesbench.run.selection import rank_configurations
from gesbench.spec.experiment import builtin_experiments, load_experiment, parse_experiment
from gesbench.spec.tuning import (
    SELECTS,
    Tuning,
    cost_lines,
    rung_budget,
    tuning_costs,
    tuning_summary,
    tuning_trial_count,
)

from spec_factory import small_spec


def tuned(*optimizers: dict, tuning: dict | None = None, **overrides: object) -> dict:
    spec = small_spec(optimizers=list(optimizers), **overrides)
    if tuning is not None:
        spec["tuning"] = tuning
    return spec


GES = {"name": "guided_es", "label": "GES", "tune": {"lr": [0.1, 0.2, 0.5]}}
ES = {"name": "vanilla_es", "label": "ES", "tune": {"lr": [0.1, 0.2, 0.5]}}


def test_a_grid_expands_in_listed_order_with_defaults_for_the_tuning_table():
    experiment = parse_experiment(tuned(GES, ES))
    assert experiment.tuning == Tuning()  # tune without [tuning]: the defaults
    ges = experiment.optimizers[0]
    assert ges.tune is not None
    assert ges.tune.configurations == ({"lr": 0.1}, {"lr": 0.2}, {"lr": 0.5})
    assert ges.params["lr"] == 0.2  # the base params keep the declared default
    two = dict(GES, tune={"lr": [0.5, 0.1], "sigma": [0.1, 1]})
    space = parse_experiment(tuned(two)).optimizers[0].tune
    assert space is not None
    assert space.configurations == (
        {"lr": 0.5, "sigma": 0.1},
        {"lr": 0.5, "sigma": 1.0},  # an int for a float parameter is stored as a float
        {"lr": 0.1, "sigma": 0.1},
        {"lr": 0.1, "sigma": 1.0},
    )


def test_a_spec_without_tune_has_no_tuning_stage():
    assert parse_experiment(small_spec()).tuning is None


def test_tuning_table_is_parsed():
    experiment = parse_experiment(
        tuned(
            GES,
            tuning={
                "repetitions": 2,
                "select": "auc",
                "scope": "shared",
                "strategy": "halving",
                "eta": 2,
                "rungs": 2,
            },
        )
    )
    assert experiment.tuning == Tuning(2, "auc", "shared", "halving", 2, 2)


@pytest.mark.parametrize("select", SELECTS)
@pytest.mark.parametrize("scope", ["per_problem", "shared"])
def test_every_criterion_a_spec_accepts_can_select(select, scope):
    experiment = parse_experiment(
        tuned(GES, tuning={"select": select, "scope": scope, "strategy": "halving", "eta": 2})
    )
    assert experiment.tuning is not None and experiment.tuning.select == select
    cells = pd.DataFrame(
        {
            "id": [f"{p}-{c}" for p in range(2) for c in range(3)],
            "problem": [p for p in range(2) for _ in range(3)],
            "entry": 0,
            "config": [0, 1, 2] * 2,
            "repetition": 0,
            "status": "done",
            "final": [3.0, 1.0, 2.0] * 2,
            "auc": [3.0, 1.0, 2.0] * 2,
            "survival": 1.0,
        }
    )
    table = rank_configurations(cells, select, scope)
    assert set(table.loc[table["order"] == 0, "config"]) == {1}  # best on every count


def test_log_range_is_sampled_by_qmc_deterministically_and_within_bounds():
    entry = dict(ES, tune={"lr": {"log_range": [0.01, 4.0], "points": 9}})
    first = parse_experiment(tuned(entry)).optimizers[0].tune
    again = parse_experiment(tuned(entry)).optimizers[0].tune
    assert first is not None and again is not None
    assert first.configurations == again.configurations  # bit for bit
    values = [c["lr"] for c in first.configurations]
    assert len(values) == 9 and values == sorted(values)
    assert values[0] > 0.01 and values[-1] < 4.0
    # Centred strata of a log scale: equal ratios between neighbours (up to the rounding).
    ratios = [b / a for a, b in itertools.pairwise(values)]
    assert max(ratios) / min(ratios) < 1.01
    assert all(float(f"{v:.4g}") == v for v in values)  # rounded to 4 significant digits


def test_joint_ranges_are_a_latin_hypercube_and_integer_parameters_are_rounded():
    entry = {
        "name": "cma_es",
        "label": "CMA",
        "tune": {
            "sigma0": {"log_range": [0.01, 1.0], "points": 4},
            "popsize": {"range": [4, 20], "points": 4},
        },
    }
    space = parse_experiment(tuned(entry)).optimizers[0].tune
    assert space is not None
    sigmas = sorted(c["sigma0"] for c in space.configurations)
    sizes = sorted(c["popsize"] for c in space.configurations)
    assert sizes == [6, 10, 14, 18]  # one per stratum of [4, 20]
    assert all(isinstance(s, int) for s in sizes)
    assert sigmas == [0.01778, 0.05623, 0.1778, 0.5623]  # 4 significant digits


@pytest.mark.parametrize(
    ("entry", "tuning", "message"),
    [
        (dict(GES, tune={"lrr": [0.1]}), None, r"optimizers\[0\]\.tune\.lrr: not a parameter .*lr"),
        (
            dict(GES, params={"lr": 0.2}),
            None,
            r"optimizers\[0\]\.tune\.lr: lr is also set in params or sweep",
        ),
        (
            dict(GES, sweep={"lr": [0.1, 0.2]}),
            None,
            r"optimizers\[0\]\.tune\.lr: lr is also set in params or sweep",
        ),
        (
            {"name": "vanilla_es", "tune": {"alpha": [0.5]}},
            None,
            r"optimizers\[0\]\.tune\.alpha: alpha is fixed to 1\.0 by this preset",
        ),
        (dict(GES, tune={"lr": [0.1, -1.0]}), None, r"optimizers\[0\]\.tune\.lr: must be > 0"),
        (dict(GES, tune={"lr": []}), None, r"optimizers\[0\]\.tune\.lr: expected a non-empty"),
        (
            dict(GES, tune={"lr": [0.1, 0.1]}),
            None,
            r"optimizers\[0\]\.tune: lr=0\.1 is listed twice",
        ),
        (dict(GES, tune={"lr": 0.1}), None, r"optimizers\[0\]\.tune\.lr: expected an array"),
        (dict(GES, tune={}), None, r"optimizers\[0\]\.tune: expected a table"),
        (
            dict(GES, tune={"lr": {"log_range": [0.0, 1.0], "points": 3}}),
            None,
            r"optimizers\[0\]\.tune\.lr\.log_range: bounds must be > 0",
        ),
        (
            dict(GES, tune={"lr": {"range": [1.0, 0.5], "points": 3}}),
            None,
            r"optimizers\[0\]\.tune\.lr\.range: low must be below high",
        ),
        (
            dict(GES, tune={"lr": {"range": [0.1, 0.5]}}),
            None,
            r"optimizers\[0\]\.tune\.lr\.points: missing",
        ),
        (
            dict(GES, tune={"lr": {"range": [0.1, 0.5], "points": 0}}),
            None,
            r"optimizers\[0\]\.tune\.lr\.points: expected an integer >= 1",
        ),
        (
            dict(GES, tune={"lr": {"range": [0.1, 0.5], "step": 1, "points": 2}}),
            None,
            r"optimizers\[0\]\.tune\.lr: unknown field\(s\) step",
        ),
        (
            dict(GES, tune={"update": {"range": [0.1, 0.5], "points": 2}}),
            None,
            r"optimizers\[0\]\.tune\.update: a range needs a numeric parameter",
        ),
        (
            dict(
                GES,
                tune={
                    "lr": {"range": [0.1, 0.5], "points": 2},
                    "sigma": {"range": [0.1, 0.5], "points": 3},
                },
            ),
            None,
            r"optimizers\[0\]\.tune\.sigma\.points: ranges of one entry are sampled jointly",
        ),
        (GES, {"select": "best"}, r"tuning\.select: expected one of 'median_final'"),
        (
            GES,
            {"select": "worst"},
            r"tuning\.select: expected one of .*'worst_final', got 'worst'\. "
            r"Did you mean 'worst_final'\?",
        ),
        (GES, {"scope": "shraed"}, r"tuning\.scope: .*got 'shraed'\. Did you mean 'shared'\?"),
        (GES, {"scope": "global"}, r"tuning\.scope: expected one of"),
        (GES, {"strategy": "random"}, r"tuning\.strategy: expected one of"),
        (GES, {"repetitions": 0}, r"tuning\.repetitions: expected an integer >= 1"),
        (GES, {"eta": 3}, r"tuning\.eta: only used with strategy = 'halving'"),
        (GES, {"strategy": "halving", "eta": 1}, r"tuning\.eta: expected an integer >= 2"),
        (GES, {"seeds": 3}, r"tuning: unknown field\(s\) seeds"),
    ],
)
def test_bad_tuning_fails_at_load_naming_the_field(entry, tuning, message):
    with pytest.raises(SpecError, match=message):
        parse_experiment(tuned(entry, tuning=tuning))


def test_a_bad_configuration_is_blamed_on_the_tuned_field():
    # A configuration outside the declared range is named under tune, not params.
    entry = {"name": "guided_es", "label": "GES", "tune": {"k": [1, 0]}}
    with pytest.raises(SpecError, match=r"optimizers\[0\]\.tune\.k: must be >= 1"):
        parse_experiment(tuned(entry))


def test_tuning_without_any_tune_entry_is_refused():
    spec = small_spec(tuning={"repetitions": 3})
    with pytest.raises(SpecError, match=r"tuning: no optimizer entry has a `tune` table"):
        parse_experiment(spec)


def test_problems_cannot_be_tuned():
    spec = small_spec()
    spec["problems"][0]["tune"] = {"n": [10, 20]}
    with pytest.raises(SpecError, match=r"problems\[0\]\.tune: only optimizer entries"):
        parse_experiment(spec)


def test_a_tuned_and_an_untuned_entry_of_the_same_optimizer_may_share_base_params():
    default = {"name": "guided_es", "label": "GES (defaults)"}
    experiment = parse_experiment(tuned(GES, default))
    assert [o.label for o in experiment.optimizers] == ["GES", "GES (defaults)"]
    with pytest.raises(SpecError, match="same guided_es with the same parameters"):
        parse_experiment(tuned(GES, dict(GES, label="GES again")))


def test_halving_schedule_is_the_same_for_every_method():
    t = Tuning(strategy="halving", eta=3)
    assert t.rung_count(5) == 3 and t.schedule(5) == (1 / 9, 1 / 3, 1.0)
    assert t.rung_count(9) == 3 and t.rung_count(10) == 4 and t.rung_count(1) == 1
    assert [t.kept(5, r) for r in range(3)] == [5, 2, 1]
    assert Tuning().schedule(50) == (1.0,)  # a grid: one rung at the full budget
    assert rung_budget(Budget("iterations", 3000), 1 / 9).limit == 333
    assert rung_budget(Budget("cost", 1000.0), 0.5).limit == 500.0


def test_costs_are_stated_and_unequal_budgets_warned():
    equal = parse_experiment(tuned(GES, ES, tuning={"repetitions": 2}))
    lines, warning = cost_lines(equal)
    assert warning is None
    assert "GES: 3 configurations, 6 tuning trials = 900 iterations per problem" in lines[1]
    assert tuning_trial_count(equal) == 12
    bigger = dict(ES, tune={"lr": [0.1, 0.2, 0.5, 1.0]})
    gd = {"name": "surrogate_descent", "label": "GD"}
    unequal = parse_experiment(tuned(GES, bigger, gd, tuning={"repetitions": 2}))
    summary = tuning_summary(unequal)
    assert summary[0].startswith("tuning: 14 tuning trials first; 2 tuning seeds")
    assert "  GD: not tuned (run at its stated settings)" in summary
    assert summary[-1] == (
        "warning: methods get unequal tuning budgets (iterations per problem: GES 900, "
        "ES 1,200, GD 0)"
    )
    halving = parse_experiment(tuned(GES, bigger, tuning={"strategy": "halving", "eta": 2}))
    costs = {c.label: c for c in tuning_costs(halving)}
    # 4 configurations, eta 2: rungs at 1/4, 1/2, 1 of 150 iterations keep 4, 2, 1 (GES 3, 2, 1)
    assert costs["ES"].per_problem == 3 * (4 * 38 + 2 * 75 + 1 * 150)
    assert costs["GES"].per_problem == 3 * (3 * 38 + 2 * 75 + 1 * 150)


def test_the_tuning_stage_counts_toward_the_trial_limit():
    spec = tuned(dict(GES, tune={"lr": [0.1, 0.2, 0.3, 0.4]}), tuning={"repetitions": 10})
    with pytest.raises(SpecError, match="the tuning stage expands to 40 trials"):
        parse_experiment(spec, max_trials=30)


FAMILIES = ("biased_quadratic", "logistic_regression", "truncated_unroll", "binary_network")


@pytest.mark.parametrize("name", FAMILIES)
def test_family_specs_tune_every_method_with_equal_budgets(name):
    experiment = load_experiment(name)
    assert experiment.tuning is not None
    assert all(o.tune is not None for o in experiment.optimizers)
    assert cost_lines(experiment)[1] is None


def test_fig1_keeps_the_papers_fixed_settings_and_fig1_tuned_tunes():
    assert load_experiment("fig1").tuning is None
    assert "fig1_tuned" in builtin_experiments()
    tuned_fig1 = load_experiment("fig1_tuned")
    assert tuned_fig1.tuning is not None
    assert all(o.tune is not None for o in tuned_fig1.optimizers)
