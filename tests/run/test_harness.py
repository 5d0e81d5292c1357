"""Running experiments: determinism at any worker count, resume, failures kept, store contents."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from gesbench import GuidedES, load_results, parse_experiment
from gesbench.core.registry import optimizers
from gesbench.run.experiment import run_experiment
from gesbench.run.trial import run_trial
from gesbench.store.database import ResultStore, store_path
from gesbench.store.record import TRACE_COLUMNS

from spec_factory import small_spec


class ExplodingES(GuidedES):
    """Raises on its fourth step (a bug in a plugin)."""

    def step(self, oracle):
        if oracle.iterations == 3:
            raise RuntimeError("boom at step 3")
        super().step(oracle)


class InterruptingES(GuidedES):
    """Simulates Ctrl-C in the middle of a trial."""

    def step(self, oracle):
        if oracle.iterations == 3:
            raise KeyboardInterrupt
        super().step(oracle)


@pytest.fixture(autouse=True)
def broken_plugins():
    """Registered for this module's tests only, so no other suite sees them."""
    with (
        optimizers.registered("test_exploding_es", ExplodingES),
        optimizers.registered("test_interrupting_es", InterruptingES),
    ):
        yield


def traces(run_dir) -> pd.DataFrame:
    t = load_results(run_dir).traces
    return t.sort_values(["trial_id", "iteration"]).reset_index(drop=True)


def test_same_spec_same_traces_sequentially_and_with_two_workers(tmp_path, small_experiment):
    run_experiment(small_experiment, tmp_path / "a", progress=False)
    run_experiment(small_experiment, tmp_path / "b", progress=False)
    run_experiment(small_experiment, tmp_path / "c", workers=2, progress=False)
    a, b, c = (traces(tmp_path / d).drop(columns="wall_time") for d in "abc")
    assert len(a) > 0
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(a, c, check_exact=True)


def test_trace_logs_dense_then_log_spaced_and_always_the_final_point(small_experiment):
    result = run_trial(small_experiment.trials()[2])
    its = result.trace["iteration"]
    assert result.status == "done"
    assert list(its[:11]) == list(range(11))
    assert its[-1] == 150 and np.all(np.diff(its) > 0)
    assert len(its) < 40  # log-spaced after the dense phase
    assert set(result.trace) == set(TRACE_COLUMNS)
    np.testing.assert_allclose(
        result.trace["excess_loss"],
        result.trace["loss"] - (result.trace["loss"][0] - result.trace["excess_loss"][0]),
    )
    assert np.all((result.trace["alignment"] > -1) & (result.trace["alignment"] <= 1))


def test_counters_match_each_method(small_experiment):
    results = {t.label: run_trial(t) for t in small_experiment.trials()[:3]}
    assert (results["GD"].evaluations, results["GD"].gradient_calls) == (0, 150)
    assert (results["ES"].evaluations, results["ES"].gradient_calls) == (300, 0)
    assert (results["GES"].evaluations, results["GES"].gradient_calls) == (300, 150)


def test_a_failing_trial_is_stored_with_its_error_and_the_others_complete(tmp_path):
    spec = small_spec()
    spec["optimizers"].append({"name": "test_exploding_es", "label": "Exploding"})
    counts = run_experiment(parse_experiment(spec), tmp_path, progress=False)
    assert counts == {"done": 6, "failed": 2}
    trials = load_results(tmp_path).trials
    failed = trials[trials["status"] == "failed"]
    assert set(failed["label"]) == {"Exploding"}
    assert failed["error"].str.contains("RuntimeError: boom at step 3").all()
    assert (failed["iterations"] == 3).all()


def test_interrupted_run_resumes_with_every_trial_done_exactly_once(tmp_path, small_experiment):
    spec = small_spec()
    spec["optimizers"].append({"name": "test_interrupting_es", "label": "Interrupt"})
    interrupted = parse_experiment(spec)
    with pytest.raises(KeyboardInterrupt):
        run_experiment(interrupted, tmp_path, progress=False)
    stored = load_results(tmp_path).trials
    assert len(stored) == 3 and (stored["status"] == "done").all()  # repetition 0 before the stop
    # Resume with the interrupting method removed: the first three are not run again.
    before = dict(zip(stored["id"], stored["started"], strict=True))
    counts = run_experiment(small_experiment, tmp_path, progress=False)
    assert counts == {"done": 6}
    after = load_results(tmp_path).trials
    assert after["id"].is_unique and len(after) == 6
    for trial_id, started in before.items():
        assert after.loc[after["id"] == trial_id, "started"].item() == started


def test_failed_trials_are_retried_on_rerun_and_replaced(tmp_path, small_experiment):
    experiment = small_experiment.with_overrides(repetitions=1)
    trial = experiment.trials()[0]
    with ResultStore(tmp_path, create=True) as store:
        from gesbench.run.executors.timed import failed_result

        store.write(failed_result(trial, "worker process died"))
        assert store.finished_ids() == set()
    run_experiment(experiment, tmp_path, progress=False)
    with sqlite3.connect(store_path(tmp_path)) as db:
        rows = db.execute("SELECT status FROM trials WHERE id = ?", (trial.id,)).fetchall()
    assert rows == [("done",)]


def test_load_results_is_tidy_and_joins_identifying_columns(tmp_path, small_experiment):
    run_experiment(small_experiment, tmp_path, progress=False)
    results = load_results(tmp_path)
    assert len(results.trials) == 6 and results.trials["id"].is_unique
    for column in ("label", "problem_label", "repetition", "status", *TRACE_COLUMNS):
        assert column in results.traces.columns
    per_trial = results.traces.groupby("trial_id")["iteration"].max()
    assert (per_trial == 150).all()
