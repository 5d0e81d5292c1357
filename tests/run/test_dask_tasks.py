"""How trials become Dask tasks, on real local clusters (2 single-threaded worker processes),
and which trial a worker's death is charged to."""

from __future__ import annotations

import pytest
from test_faults import fragile_experiment, fragile_plugin  # noqa: F401 - a fixture used below

from gesbench.run.executors import open_executor
from gesbench.run.executors.dask_cluster import Session
from gesbench.run.executors.timed import died
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.trial import TrialSpec

from spec_factory import small_spec

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")

THREADS = 2


def quick_trials(count: int) -> list[TrialSpec]:
    """``count`` Guided ES trials of a few milliseconds each."""
    spec = small_spec(repetitions=count, optimizers=[{"name": "guided_es", "label": "GES"}])
    return parse_experiment(spec).trials()


def fragile_among_quick_trials(control, count: int = 40, at: int = 20) -> list[TrialSpec]:
    """``count`` quick trials with the fragile one (doing what ``control`` says) at ``at``."""
    fragile = next(t for t in fragile_experiment(control, 1).trials() if t.label == "Fragile")
    specs = quick_trials(count)
    specs.insert(at, fragile)
    return specs


def test_worker_death_is_counted_against_its_running_trial_only(
    tmp_path,
    fragile_plugin,  # noqa: F811 - the imported fixture
):
    """On the executor's own cluster, a worker holds only the task it runs: the killer dies
    twice (``retries`` = 1 move) and is recorded as failed, and no other task was on a worker
    that died, so none was moved or charged."""
    control = tmp_path / "control"
    control.write_text("die")
    specs = fragile_among_quick_trials(control)
    killer = specs[20]
    with open_executor("dask", workers=THREADS, retries=1) as pool:
        assert isinstance(pool, Session)
        results = [result for batch in pool.batches(specs) for result in batch]
        events = pool.client.get_events("all")
    assert sorted(r.trial_id for r in results) == sorted(spec.id for spec in specs)
    failed = [(r.trial_id, r.error) for r in results if r.status != "done"]
    assert failed == [(killer.id, died(2))]
    deaths = [
        message["processing-tasks"]
        for _, message in events
        if isinstance(message, dict) and message.get("action") == "remove-worker"
    ]
    assert deaths == [{f"gesbench-trial-{killer.id}"}] * 2
