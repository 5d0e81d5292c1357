"""load_results gives what a reader groups on: parameters as columns, the final excess loss,
and each trial's seed material."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gesbench import load_results, parse_experiment
from gesbench.run.experiment import run_experiment
from gesbench.spec.trial import TrialSpec

from spec_factory import small_spec


@pytest.fixture(scope="module")
def trials(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("columns")
    run_experiment(parse_experiment(small_spec()), run_dir, progress=False)
    return load_results(run_dir)


def test_parameters_are_columns_a_reader_can_group_on(trials) -> None:
    frame = trials.trials
    assert (frame["problem.n"] == 30).all() and (frame["problem.m"] == 60).all()
    gd = frame[frame["label"] == "GD"]
    assert (gd["optimizer.lr"] == 0.02).all()
    assert frame.groupby("optimizer.lr").size().sum() == len(frame)
    for row in frame.itertuples():
        params = json.loads(row.spec)["optimizer_params"]
        assert all(frame.loc[row.Index, f"optimizer.{k}"] == v for k, v in params.items())


def test_final_excess_loss_is_the_last_logged_one(trials) -> None:
    last = trials.traces.groupby("trial_id")["excess_loss"].last()
    frame = trials.trials.set_index("id")
    np.testing.assert_array_equal(frame["final_excess_loss"], last.loc[frame.index])


def test_seed_material_reproduces_the_streams_and_shows_the_pairing(trials) -> None:
    frame = trials.trials
    for row in frame.itertuples():
        spec = TrialSpec.from_dict(json.loads(row.spec))
        instance = np.random.default_rng(np.random.SeedSequence(int(row.seed_instance, 16)))
        np.testing.assert_array_equal(
            instance.standard_normal(5), spec.streams().problem.standard_normal(5)
        )
    per_repetition = frame.groupby("repetition")["seed_instance"].nunique()
    assert (per_repetition == 1).all()  # every method meets the same instance
    assert frame["seed_instance"].nunique() == frame["repetition"].nunique()
    assert frame["seed_trial"].is_unique
