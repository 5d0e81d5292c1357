"""Trial ids and seed streams: content-addressed, paired, independent."""

from __future__ import annotations

import json

import numpy as np

from gesbench.spec.experiment import parse_experiment
from gesbench.spec.trial import TrialSpec

from spec_factory import small_spec


def trials_by(experiment):
    return {(t.label, t.repetition): t for t in experiment.trials()}


def test_ids_are_stable_and_depend_on_content():
    a = trials_by(parse_experiment(small_spec()))
    b = trials_by(parse_experiment(small_spec()))
    assert {k: t.id for k, t in a.items()} == {k: t.id for k, t in b.items()}
    assert len({t.id for t in a.values()}) == len(a)
    changed = small_spec()
    changed["optimizers"][2]["params"] = {"sigma": 0.2}
    c = trials_by(parse_experiment(changed))
    assert c[("GES", 0)].id != a[("GES", 0)].id
    assert c[("ES", 0)].id == a[("ES", 0)].id


def test_int_and_float_spellings_are_the_same_trial():
    one = small_spec()
    one["optimizers"][2]["params"] = {"beta": 2}
    two = small_spec()
    two["optimizers"][2]["params"] = {"beta": 2.0}
    assert trials_by(parse_experiment(one))[("GES", 1)].id == (
        trials_by(parse_experiment(two))[("GES", 1)].id
    )


def test_problem_instances_are_paired_across_optimizers_not_repetitions():
    trials = trials_by(parse_experiment(small_spec()))
    draw = lambda t: t.streams().problem.standard_normal(4)  # noqa: E731
    np.testing.assert_array_equal(draw(trials[("GES", 0)]), draw(trials[("ES", 0)]))
    assert not np.array_equal(draw(trials[("GES", 0)]), draw(trials[("GES", 1)]))


def test_streams_within_a_trial_are_distinct_and_reproducible():
    t = trials_by(parse_experiment(small_spec()))[("GES", 0)]
    first = [g.standard_normal(3) for g in t.streams()]
    again = [g.standard_normal(3) for g in t.streams()]
    for x, y in zip(first, again, strict=True):
        np.testing.assert_array_equal(x, y)
    assert len({tuple(x) for x in first}) == len(first)


def test_spec_round_trips_through_json():
    t = parse_experiment(small_spec()).trials()[0]
    again = TrialSpec.from_dict(json.loads(t.to_json()))
    assert again == t and again.id == t.id
