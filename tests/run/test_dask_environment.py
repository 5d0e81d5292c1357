"""A local Dask cluster leaves the driver's environment as it found it."""

from __future__ import annotations

import os

import pytest

from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import Experiment

pytest.importorskip("distributed", reason="the dask extra is not installed")

NANNY_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "PYTHONHASHSEED")


def test_a_local_cluster_leaves_the_environment_as_it_was(
    tmp_path, small_experiment: Experiment, monkeypatch
):
    # Dask's nannies set these in the driver's environment for their workers and left them:
    # a library loaded or a subprocess started after the run ran BLAS on one thread.
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    before = {name: os.environ.get(name) for name in NANNY_VARIABLES}
    counts = run_experiment(
        small_experiment, tmp_path / "run", workers=2, executor="dask", progress=False
    )
    assert counts == {"done": small_experiment.trial_count}, counts
    assert {name: os.environ.get(name) for name in NANNY_VARIABLES} == before
