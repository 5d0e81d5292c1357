"""A tuned spec on a real local Dask cluster (2 single-threaded worker processes): the same
selection and the same numbers as a sequential run, for both stages."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from test_tuning_run import numbers, selection, tuned_spec

from gesbench import load_results
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import parse_experiment

distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster.scheduler_address


def test_tuning_on_dask_selects_and_computes_what_a_sequential_run_does(tmp_path, scheduler):
    spec = tuned_spec(tuning={"repetitions": 2, "strategy": "halving", "eta": 2})
    experiment = parse_experiment(spec)
    run_experiment(experiment, tmp_path / "seq", progress=False)
    counts = run_experiment(experiment, tmp_path / "dask", scheduler=scheduler, progress=False)
    assert counts == {"done": len(load_results(tmp_path / "seq").trials)}
    assert selection(tmp_path / "dask") == selection(tmp_path / "seq")
    pd.testing.assert_frame_equal(
        numbers(tmp_path / "dask"), numbers(tmp_path / "seq"), check_exact=True
    )
    roles = load_results(tmp_path / "dask").trials["role"].value_counts().to_dict()
    assert roles == {"tuning": 2 * 3 * (3 + 2 + 1), "evaluation": 2 * 3}
