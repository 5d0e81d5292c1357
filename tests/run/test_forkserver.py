"""Process-pool workers forked from the fork server (which stays up between runs) see the
driver as it is when they start, as spawned workers would: its environment, and packages
installed after the server started; and they start no BLAS threads."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from test_faults import install_distribution

from gesbench import load_results, parse_experiment
from gesbench.run.executors import forkserver
from gesbench.run.experiment import run_experiment

from fork_server import stop_fork_server
from spec_factory import small_spec

SOURCE = '''
import os
import threading

import numpy as np
import scipy.linalg

from gesbench import Problem
from gesbench.core.problem import frozen


class WorkerQuadratic(Problem):
    """||x - 1||^2 / 2 whose final metrics tell of the worker: its GESBENCH_TEST_MARK (-1:
    unset), and its threads that Python did not start, after matrix products and QR
    factorisations through NumPy's BLAS and SciPy's (-1: no /proc)."""

    defaults = {"n": 3}

    def _build(self, rng):
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))
        self.f_star = 0.0

    def loss(self, X):
        return 0.5 * np.sum((X - 1.0) ** 2, axis=1)

    def true_grad(self, x):
        return x - 1.0

    def surrogate_grad(self, x, rng):
        return x - 1.0

    def final_metrics(self, x):
        a = np.random.default_rng(0).standard_normal((300, 300))
        np.linalg.qr(a @ a)
        scipy.linalg.qr(a @ a)
        tasks = "/proc/self/task"
        native = len(os.listdir(tasks)) - threading.active_count() if os.path.isdir(tasks) else -1
        return {
            "mark": float(os.environ.get("GESBENCH_TEST_MARK", "-1")),
            "native_threads": float(native),
        }
'''


def run_on_the_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> pd.DataFrame:
    """Install the plugin now, run it on 2 workers, and return the trials."""
    root = install_distribution(
        tmp_path / "site",
        "gesbench_worker_plugin",
        SOURCE,
        "[gesbench.problems]\nworker_quadratic = gesbench_worker_plugin:WorkerQuadratic\n",
    )
    monkeypatch.syspath_prepend(str(root))
    spec = small_spec(repetitions=2)
    spec["problems"] = [{"name": "worker_quadratic"}]
    counts = run_experiment(parse_experiment(spec), tmp_path / name, workers=2, progress=False)
    assert counts == {"done": 2 * len(spec["optimizers"])}, counts
    return load_results(tmp_path / name).trials


@pytest.mark.skipif(not forkserver.AVAILABLE, reason="no fork server on this platform")
def test_forked_workers_see_the_drivers_environment_and_plugins_of_now(
    tmp_path, small_experiment, monkeypatch
):
    # The fork server runs (and has imported gesbench) before the plugin is installed and the
    # variable set; without taking the driver's environment a forked worker kept the server's.
    run_experiment(small_experiment, tmp_path / "first", workers=2, progress=False)
    monkeypatch.setenv("GESBENCH_TEST_MARK", "7")
    trials = run_on_the_plugin(tmp_path, monkeypatch, "second")
    assert (trials["final_mark"] == 7.0).all(), trials["final_mark"]


@pytest.mark.skipif(
    not (forkserver.AVAILABLE and os.path.isdir("/proc/self/task")),
    reason="needs a fork server and /proc",
)
def test_forked_workers_start_no_blas_threads(tmp_path, monkeypatch):
    # Workers run BLAS on one thread; a fork server whose OpenBLAS had loaded with more made
    # each worker start (and spin) its pool's other threads again at its first BLAS call. The
    # server starts here, from a driver that asks BLAS for two threads.
    stop_fork_server()
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    threads = run_on_the_plugin(tmp_path, monkeypatch, "run")["final_native_threads"]
    assert (threads == 0).all(), threads.tolist()
