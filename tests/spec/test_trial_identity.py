"""A trial's identity is its science: presentation never re-runs a trial or moves a number."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from gesbench import load_results, parse_experiment
from gesbench.core.errors import SpecError
from gesbench.core.registry import problems
from gesbench.run.experiment import run_experiment

from spec_factory import small_spec


def presentation_changed(spec: dict) -> dict:
    """The same science under other labels, another experiment name and a denser trace."""
    other = copy.deepcopy(spec)
    other["name"] = "renamed"
    other["description"] = "another description"
    other["trace"] = {"dense": 40, "per_decade": 30}
    for entry in other["optimizers"] + other["problems"]:
        entry["label"] = "renamed " + entry.get("label", entry["name"])
    return other


def identities(spec: dict) -> list[tuple[str, list[np.ndarray]]]:
    return [
        (t.id, [g.standard_normal(3) for g in t.streams()]) for t in parse_experiment(spec).trials()
    ]


def test_ids_and_every_seed_stream_ignore_labels_names_and_trace() -> None:
    spec = small_spec()
    before, after = identities(spec), identities(presentation_changed(spec))
    assert [i for i, _ in before] == [i for i, _ in after]
    for (_, a), (_, b) in zip(before, after, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_ids_change_with_the_science() -> None:
    spec = small_spec()
    ids = {i for i, _ in identities(spec)}
    for change in (
        lambda s: s["budget"].update(limit=151),
        lambda s: s["problems"][0]["params"].update(n=31),
        lambda s: s["optimizers"][2].setdefault("params", {}).update(sigma=0.2),
    ):
        other = copy.deepcopy(spec)
        change(other)
        assert ids != {i for i, _ in identities(other)}


def test_renaming_and_denser_logging_reuse_every_finished_trial(tmp_path) -> None:
    spec = small_spec()
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    first = load_results(tmp_path).trials.set_index("id")
    renamed = presentation_changed(spec)
    run_experiment(parse_experiment(renamed), tmp_path, progress=False)
    second = load_results(tmp_path).trials.set_index("id")
    assert set(second.index) == set(first.index)
    # Not re-run: each trial keeps its start time and its numbers ...
    assert second["started"].equals(first.loc[second.index, "started"])
    assert second["final_loss"].equals(first.loc[second.index, "final_loss"])
    # ... and is shown as the current spec names it.
    assert set(second["label"]) == {"renamed GD", "renamed ES", "renamed GES"}
    assert set(second["experiment"]) == {"renamed"}


def test_a_denser_trace_reproduces_every_common_logged_value_bit_for_bit(tmp_path) -> None:
    spec = small_spec()
    dense = presentation_changed(spec)
    run_experiment(parse_experiment(spec), tmp_path / "sparse", progress=False)
    run_experiment(parse_experiment(dense), tmp_path / "dense", progress=False)
    columns = ["trial_id", "iteration", "evaluations", "loss", "excess_loss", "alignment"]
    sparse = load_results(tmp_path / "sparse").traces[columns]
    dense_traces = load_results(tmp_path / "dense").traces[columns]
    assert len(dense_traces) > len(sparse)
    common = sparse.merge(dense_traces, on=["trial_id", "iteration"], suffixes=("", "_dense"))
    assert len(common) >= 0.8 * len(sparse)  # iterations 0-10 and most log-spaced points
    for column in ("evaluations", "loss", "excess_loss", "alignment"):
        np.testing.assert_array_equal(common[column], common[f"{column}_dense"])


def test_two_specs_differing_only_in_labels_share_their_trials_in_one_folder(tmp_path) -> None:
    spec = small_spec()
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    stored = load_results(tmp_path, all_trials=True).trials
    run_experiment(parse_experiment(presentation_changed(spec)), tmp_path, progress=False)
    assert len(load_results(tmp_path, all_trials=True).trials) == len(stored)


def test_entries_with_the_same_science_under_two_labels_are_refused() -> None:
    spec = small_spec()
    spec["optimizers"].append({"name": "guided_es", "label": "GES again"})
    with pytest.raises(SpecError, match="'GES again' and 'GES' are the same guided_es"):
        parse_experiment(spec)


def test_float32_and_float64_trials_share_their_problem_instance() -> None:
    spec = small_spec()
    single = copy.deepcopy(spec)
    single["problems"][0]["params"]["dtype"] = "float32"
    (wide, narrow) = (parse_experiment(s).trials()[0] for s in (spec, single))
    assert wide.problem == narrow.problem == spec["problems"][0]["name"]
    assert wide.id != narrow.id  # another trial ...
    assert wide.seed_material()["instance"] == narrow.seed_material()["instance"]  # ... paired
    built = [
        problems.create(t.problem, t.problem_params, rng=t.streams().problem)
        for t in (wide, narrow)
    ]
    # The same instance in two precisions: equal losses to float32 rounding (another instance
    # of the same family would differ at the first digits).
    points = np.random.default_rng(0).standard_normal((4, wide.problem_params["n"]))
    wide_loss, narrow_loss = (p.loss(points.astype(p.dtype)) for p in built)
    assert narrow_loss.dtype == np.float32
    np.testing.assert_allclose(narrow_loss, wide_loss, rtol=1e-5)
