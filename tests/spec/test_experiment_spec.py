"""Experiment specs: the shipped fig1 spec, sweeps, overrides, and clear errors."""

from __future__ import annotations

import pytest

from gesbench import SpecError, UnknownNameError, load_experiment, parse_experiment

from spec_factory import small_spec


def test_fig1_spec_matches_the_paper_setting():
    fig1 = load_experiment("fig1")
    assert fig1.budget.kind == "iterations" and fig1.budget.limit == 10_000
    assert fig1.repetitions == 5
    (problem,) = fig1.problems
    assert problem.params == {"n": 1000, "m": 2000, "bias": 1.0, "noise": 1.5}
    ges = next(o for o in fig1.optimizers if o.name == "guided_es")
    assert {k: ges.params[k] for k in ("sigma", "alpha", "beta", "k", "pairs", "lr")} == {
        "sigma": 0.1, "alpha": 0.5, "beta": 2.0, "k": 1, "pairs": 1, "lr": 0.2,
    }  # fmt: skip


def test_sweeps_expand_to_labelled_entries():
    spec = small_spec()
    spec["optimizers"] = [
        {"name": "guided_es", "label": "GES", "sweep": {"alpha": [0.25, 0.75], "k": [1, 2]}}
    ]
    experiment = parse_experiment(spec)
    labels = [o.label for o in experiment.optimizers]
    assert labels == ["GES alpha=0.25, k=1", "GES alpha=0.25, k=2",
                      "GES alpha=0.75, k=1", "GES alpha=0.75, k=2"]  # fmt: skip
    assert len(experiment.trials()) == 4 * 2


def test_overrides_replace_budget_and_repetitions_only():
    base = parse_experiment(small_spec())
    quick = base.with_overrides(repetitions=1, budget_limit=20)
    assert (quick.repetitions, quick.budget.limit, quick.budget.kind) == (1, 20, "iterations")
    assert quick.optimizers == base.optimizers
    # Repetitions 0..R-1 keep their ids, so a larger R resumes a smaller run.
    assert quick.with_overrides(budget_limit=150).trials()[0].id == base.trials()[0].id


def mutate(path: str, value):
    spec = small_spec()
    target = spec
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    target[keys[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (mutate("optimizers.2.name", "guided_ess"), r"optimizers\[2\]\.name.*'guided_es'"),
        (mutate("problems.0.name", "quadratic"), r"problems\[0\]\.name.*unknown problem"),
        (mutate("optimizers.2.params", {"alpah": 0.3}), r"optimizers\[2\].*Did you mean 'alpha'"),
        (
            mutate("optimizers.2.params", {"alpha": "high"}),
            r"optimizers\[2\]\.params\.alpha: expects float",
        ),
        (
            mutate("optimizers.2.params", {"alpha": 2.0}),
            r"optimizers\[2\]\.params\.alpha: must be in",
        ),
        (mutate("problems.0.params", {"n": "big"}), r"problems\[0\]\.params\.n: expects int"),
        (mutate("repetitions", 0), r"repetitions"),
        (mutate("budget.limit", -5), r"budget\.limit"),
        (mutate("budget.kind", "seconds"), r"budget\.kind"),
        (mutate("trace.dense", 0), r"trace\.dense"),
        (mutate("optimizers", []), r"optimizers"),
        (mutate("optimizers.1.colour", "red"), r"optimizers\[1\].*colour"),
        (mutate("optimizers.2.label", "ES"), r"duplicate label"),
        (mutate("repeats", 3), r"repeats"),
        (mutate("optimizers.2.sweep", {"alpha": 0.5}), r"sweep\.alpha"),
    ],
)
def test_malformed_specs_name_the_field(spec, message):
    with pytest.raises(SpecError, match=message):
        parse_experiment(spec)


def test_malformed_toml_and_missing_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[budget\nkind = 1")
    with pytest.raises(SpecError, match="malformed TOML"):
        load_experiment(bad)
    with pytest.raises(SpecError, match="does not exist"):
        load_experiment(tmp_path / "missing.toml")
    with pytest.raises(UnknownNameError, match="Did you mean 'fig1'"):
        load_experiment("fig2")
