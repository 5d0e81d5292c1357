"""Faults: workers killed mid-trial, the driver killed or interrupted, hung and diverging
trials, broken plugins and two runs on one folder. Each fault happens for real (signals to real
processes, real entry points of a real distribution on ``sys.path``)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from gesbench import load_results, parse_experiment, register_optimizer, register_problem
from gesbench.cli import main
from gesbench.core.errors import StoreError
from gesbench.core.problem import Problem, frozen
from gesbench.core.registry import optimizers, problems
from gesbench.ges.guided_es import GuidedES
from gesbench.run.experiment import run_experiment
from gesbench.spec.experiment import Experiment
from gesbench.store.database import run_lock, store_path

from spec_factory import small_spec

FRAGILE_SOURCE = '''
"""GES that misbehaves on purpose at one iteration, as its control file says; and a problem
whose final metrics are of the type its parameter says."""
import os
import signal
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gesbench import Problem
from gesbench.core.problem import frozen
from gesbench.ges.guided_es import GES_DEFAULTS, GuidedES


class FragileES(GuidedES):
    defaults = {**GES_DEFAULTS, "control": "", "at": 5}

    def step(self, oracle):
        control = Path(self.params["control"])
        if oracle.iterations == self.params["at"] and control.is_file():
            mode = control.read_text().strip()
            if mode == "die":
                os.kill(os.getpid(), signal.SIGKILL)
            elif mode == "sleep":
                time.sleep(600)
            elif mode == "native":  # like a C call that never returns: no signal gets in
                signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])
                time.sleep(600)
            elif mode == "exit":
                raise SystemExit(4)
            elif mode == "spin":
                while True:
                    time.sleep(0.01)
            elif mode == "hang-once":
                try:  # only the first trial to get here hangs, until the test kills it
                    fd = os.open(f"{control}.hung", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                except FileExistsError:
                    pass
                else:
                    os.write(fd, str(os.getpid()).encode())
                    os.close(fd)
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        time.sleep(0.01)
                    raise RuntimeError("the test never killed this worker")
        super().step(oracle)


class MetricsQuadratic(Problem):
    """||x - 1||^2 / 2 whose final metric 'score' is a float, np.int64, np.float32 or str."""

    defaults = {"n": 5, "kind": "float"}

    def _build(self, rng):
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))
        self.f_star = 0.0

    def loss(self, X):
        return 0.5 * np.sum((X - 1.0) ** 2, axis=1)

    def true_grad(self, x):
        return x - 1.0

    def surrogate_grad(self, x, rng):
        return x - 1.0 + 0.1 * rng.standard_normal(self.dim)

    def final_metrics(self, x):
        convert = {"float": float, "int64": np.int64, "float32": np.float32, "str": str}
        return {"score": convert[self.params["kind"]](3)}
'''


def install_distribution(root: Path, name: str, source: str, entry_points: str) -> Path:
    """Write an importable module and an installed distribution's metadata (dist-info with
    ``entry_points.txt``) into ``root``, as pip would; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(source)
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return root


@pytest.fixture(scope="module")
def fragile_plugin(tmp_path_factory) -> Iterator[str]:
    """The ``fragile_es`` optimizer plugin, importable here and in every worker process
    (spawned workers inherit ``sys.path``; Dask's and subprocesses also get PYTHONPATH).
    Installed for one test module at a time, so other tests never see it."""
    root = install_distribution(
        tmp_path_factory.mktemp("plugins") / "site",
        "gesbench_fragile_plugin",
        FRAGILE_SOURCE,
        "[gesbench.optimizers]\nfragile_es = gesbench_fragile_plugin:FragileES\n"
        "[gesbench.problems]\nfragile_metrics = gesbench_fragile_plugin:MetricsQuadratic\n",
    )
    old_path = os.environ.get("PYTHONPATH")
    sys.path.insert(0, str(root))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), old_path]))
    yield "fragile_es"
    sys.path.remove(str(root))
    if old_path is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old_path


def fragile_experiment(control: Path, repetitions: int = 2, **fragile: object) -> Experiment:
    """Guided ES and the fragile plugin on a small quadratic."""
    spec = small_spec(repetitions=repetitions)
    spec["optimizers"] = [
        {"name": "guided_es", "label": "GES"},
        {"name": "fragile_es", "label": "Fragile", "params": {"control": str(control), **fragile}},
    ]
    return parse_experiment(spec)


def stored_traces(run_dir: Path, like: Path | None = None) -> pd.DataFrame:
    """A run's traces in a fixed order (only the trials stored in ``like``, if given)."""
    t = load_results(run_dir).traces.drop(columns="wall_time")
    if like is not None:
        t = t[t["trial_id"].isin(load_results(like).trials["id"])]
    return t.sort_values(["trial_id", "iteration"]).reset_index(drop=True)


def rows_per_trial(run_dir: Path) -> dict[str, int]:
    with sqlite3.connect(store_path(run_dir)) as db:
        return dict(db.execute("SELECT id, COUNT(*) FROM trials GROUP BY id").fetchall())


def integrity(run_dir: Path) -> str:
    with sqlite3.connect(store_path(run_dir)) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def kill_when_hung(control: Path) -> threading.Thread:
    """SIGKILL the worker process that announces it is hanging (in ``control.hung``)."""

    def watch() -> None:
        marker = Path(f"{control}.hung")
        for _ in range(6000):
            if marker.is_file() and marker.read_text():
                os.kill(int(marker.read_text()), signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture
def reference(tmp_path, fragile_plugin) -> Iterator[tuple[Path, Path]]:
    """A control file and a sequential, fault-free run of :func:`fragile_experiment`."""
    control = tmp_path / "control"
    control.write_text("off")
    run_experiment(fragile_experiment(control), tmp_path / "reference", progress=False)
    yield control, tmp_path / "reference"


# --- worker processes killed mid-trial -------------------------------------------------------


def test_worker_killed_mid_trial_is_retried_and_results_are_unchanged(tmp_path, reference):
    control, reference_dir = reference
    control.write_text("hang-once")
    watcher = kill_when_hung(control)
    run_dir = tmp_path / "run"
    counts = run_experiment(fragile_experiment(control), run_dir, workers=2, progress=False)
    watcher.join()
    assert Path(f"{control}.hung").is_file()  # the fault really happened
    assert counts == {"done": 4}
    assert set(rows_per_trial(run_dir).values()) == {1}
    pd.testing.assert_frame_equal(stored_traces(run_dir), stored_traces(reference_dir))


def test_trial_that_always_kills_its_worker_is_failed_then_completed_on_rerun(tmp_path, reference):
    control, reference_dir = reference
    control.write_text("die")
    run_dir = tmp_path / "run"
    experiment = fragile_experiment(control, repetitions=1)
    counts = run_experiment(experiment, run_dir, workers=2, retries=1, progress=False)
    assert counts == {"done": 1, "failed": 1}
    trials = load_results(run_dir).trials
    failed = trials[trials["status"] == "failed"]
    assert set(failed["label"]) == {"Fragile"}  # the innocent trials were not dragged along
    assert failed["error"].str.contains("WorkerDied: .* died 2 time", regex=True).all()
    started = dict(zip(trials["id"], trials["started"], strict=True))

    control.write_text("off")
    assert run_experiment(experiment, run_dir, workers=2, progress=False) == {"done": 2}
    assert rows_per_trial(run_dir) == dict.fromkeys(started, 1)
    after = load_results(run_dir).trials.set_index("id")["started"]
    for trial_id in trials.loc[trials["status"] == "done", "id"]:
        assert after[trial_id] == started[trial_id]  # finished trials were not run again
    expected = stored_traces(reference_dir, like=run_dir)
    pd.testing.assert_frame_equal(stored_traces(run_dir), expected)


# --- per-trial time limit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "workers"),
    [("sleep", 1), ("spin", 1), ("sleep", 2)],
    ids=["sequential-blocked-in-sleep", "sequential-busy", "processes-blocked-in-sleep"],
)
def test_hung_trial_is_stopped_by_the_time_limit_and_retried_on_rerun(
    tmp_path, fragile_plugin, mode, workers
):
    control = tmp_path / "control"
    control.write_text(mode)
    experiment = fragile_experiment(control, repetitions=1)
    run_dir = tmp_path / "run"
    counts = run_experiment(experiment, run_dir, workers=workers, trial_timeout=1.5, progress=False)
    assert counts == {"done": 1, "failed": 1}
    trials = load_results(run_dir).trials.set_index("label")
    error = trials.loc["Fragile", "error"]
    assert isinstance(error, str) and error.startswith("TrialTimeout: time limit reached after")
    assert error.endswith("at iteration 5")
    assert trials.loc["Fragile", "iterations"] == 5
    # The partial trace up to the hang is kept.
    traces = load_results(run_dir).traces
    assert traces.loc[traces["label"] == "Fragile", "iteration"].max() == 5

    control.write_text("off")
    assert run_experiment(experiment, run_dir, progress=False) == {"done": 2}
    assert set(rows_per_trial(run_dir).values()) == {1}


# --- non-finite values --------------------------------------------------------------------


@register_problem("test_cliff")
class Cliff(Problem):
    """``||x - 1||^2 / 2``, which returns NaN once ``x`` wanders past ``edge`` from 0."""

    defaults: ClassVar[dict[str, Any]] = {"n": 5, "edge": 0.5}

    def _build(self, rng: np.random.Generator) -> None:
        self.dim = self.params["n"]
        self.x0 = frozen(np.zeros(self.dim))
        self.f_star = 0.0

    def loss(self, X: np.ndarray) -> np.ndarray:
        values = 0.5 * np.sum((X - 1.0) ** 2, axis=1)
        return np.where(np.linalg.norm(X, axis=1) > self.params["edge"], np.nan, values)

    def surrogate_grad(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return x - 1.0


@register_optimizer("test_overflowing_es")
class OverflowingES(GuidedES):
    """Its iterate becomes infinite at its seventh step."""

    def step(self, oracle):
        super().step(oracle)
        if oracle.iterations == 6:
            self.x = self.x * np.inf


def test_non_finite_losses_and_iterates_end_the_trial_as_diverged_with_the_step(tmp_path):
    spec = small_spec(repetitions=1)
    spec["problems"] = [{"name": "test_cliff"}]
    spec["optimizers"] = [
        {"name": "guided_es", "label": "GES"},
        {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.05}},
        {"name": "test_overflowing_es", "label": "Overflowing", "params": {"lr": 1e-3}},
    ]
    experiment = parse_experiment(spec)
    assert run_experiment(experiment, tmp_path, progress=False) == {"diverged": 3}
    trials = load_results(tmp_path).trials.set_index("label")
    traces = load_results(tmp_path).traces
    # GES evaluates the loss at every step: the oracle names the exact step and evaluation,
    # unless the step itself jumped past the edge, which the trace then logs at that step.
    ges = trials.loc["GES"]
    assert 0 < ges["iterations"] < 150
    assert ges["error"] in (
        f"non-finite loss at iteration {ges['iterations']} (evaluation {ges['evaluations']})",
        f"non-finite loss nan at iteration {ges['iterations']}",
    )
    # GD never evaluates the loss: the first logged point past the edge reports it.
    gd = trials.loc["GD"]
    assert gd["error"] == f"non-finite loss nan at iteration {gd['iterations']}"
    gd_losses = traces.loc[traces["label"] == "GD", "loss"].to_numpy()
    assert np.isnan(gd_losses[-1]) and np.isfinite(gd_losses[:-1]).all()
    assert trials.loc["Overflowing", "error"] == "non-finite iterate at iteration 7"
    assert trials.loc["Overflowing", "iterations"] == 7
    # Divergence is a deterministic outcome: a re-run does not repeat it.
    assert run_experiment(experiment, tmp_path, progress=False) == {"diverged": 3}
    assert set(rows_per_trial(tmp_path).values()) == {1}


# --- plugins that fail to import ------------------------------------------------------------


def test_a_plugin_that_fails_to_import_is_named_and_the_rest_still_work(
    tmp_path, monkeypatch, capsys
):
    root = install_distribution(
        tmp_path / "site",
        "gesbench_broken_plugin",
        'raise ImportError("this plugin needs libfoo, which is not installed")\n',
        "[gesbench.problems]\nbroken_problem = gesbench_broken_plugin:Thing\n"
        "[gesbench.optimizers]\nbroken_optimizer = gesbench_broken_plugin:Other\n",
    )
    monkeypatch.syspath_prepend(str(root))
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "perturbed_quadratic" in out and "guided_es" in out
    for name in ("broken_problem", "broken_optimizer"):
        line = next(line for line in out.splitlines() if line.strip().startswith(name))
        assert "BROKEN PLUGIN" in line and "needs libfoo" in line
    assert set(problems.load_all()[1]) == {"broken_problem"}
    assert set(optimizers.load_all()[1]) == {"broken_optimizer"}

    spec = tmp_path / "uses_broken.toml"
    spec.write_text(
        '[budget]\nlimit = 10\n[[problems]]\nname = "broken_problem"\n'
        '[[optimizers]]\nname = "guided_es"\n'
    )
    assert main(["run", str(spec), "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "problems[0].name" in err and "broken_problem" in err and "needs libfoo" in err


# --- the driver process: killed, interrupted, or run twice --------------------------------


DRIVER_SPEC = """
name = "driver"
repetitions = 4
[budget]
limit = 300
[[problems]]
name = "perturbed_quadratic"
params = { n = 200, m = 400 }
[[optimizers]]
name = "guided_es"
[[optimizers]]
name = "vanilla_es"
"""


def start_run(tmp_path: Path, *options: str) -> tuple[subprocess.Popen[str], Path, Path]:
    spec = tmp_path / "driver.toml"
    spec.write_text(DRIVER_SPEC)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "gesbench.cli", "run", str(spec), "--out", str(run_dir)]
    process = subprocess.Popen(
        [*command, "--no-progress", "--no-report", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
        # with Ctrl-C at its default, as a shell sets it for a job in the foreground: a test
        # runner started in the background of a non-interactive shell ignores SIGINT, and
        # Python keeps an ignored SIGINT ignored, so the driver would never see Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    return process, spec, run_dir


def wait_for_stored_trials(process: subprocess.Popen[str], run_dir: Path, count: int) -> int:
    """Block until the running driver has stored at least ``count`` trials."""
    for _ in range(12000):
        assert process.poll() is None, process.communicate()
        if store_path(run_dir).is_file():
            try:
                with sqlite3.connect(f"file:{store_path(run_dir)}?mode=ro", uri=True) as db:
                    stored = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            except sqlite3.OperationalError:  # schema not created yet
                stored = 0
            if stored >= count:
                return stored
        time.sleep(0.01)
    raise AssertionError("the run stored nothing")


def children(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def wait_gone(pids: list[int]) -> list[int]:
    import psutil

    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], 30)
    return [p.pid for p in alive]


@pytest.mark.parametrize("workers", [pytest.param("1", marks=pytest.mark.slow), "2"])
def test_driver_killed_mid_run_leaves_an_intact_store_and_resumes(tmp_path, workers):
    # Ten times the spec's budget, so that the run is still going when it is killed.
    process, spec, run_dir = start_run(tmp_path, "--workers", workers, "--budget", "3000")
    wait_for_stored_trials(process, run_dir, 2)
    workers_pids = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert wait_gone(workers_pids) == []  # worker processes do not outlive the driver
    assert integrity(run_dir) == "ok"
    before = load_results(run_dir).trials
    assert 2 <= len(before) < 8 and (before["status"] == "done").all()

    resume = ["run", str(spec), "--out", str(run_dir), "--budget", "3000"]
    assert main([*resume, "--no-progress", "--no-report"]) == 0
    after = load_results(run_dir).trials.set_index("id")
    assert len(after) == 8 and (after["status"] == "done").all()
    for trial_id, started in zip(before["id"], before["started"], strict=True):
        assert after.loc[trial_id, "started"] == started
    assert set(rows_per_trial(run_dir).values()) == {1}


@pytest.mark.parametrize("workers", [pytest.param("1", marks=pytest.mark.slow), "2"])
def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path, workers):
    # Ten times the spec's budget, so that the run is still going when Ctrl-C arrives.
    process, spec, run_dir = start_run(tmp_path, "--workers", workers, "--budget", "3000")
    wait_for_stored_trials(process, run_dir, 1)
    workers_pids = children(process.pid)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    resume = f"gesbench run {spec} --out {run_dir} --budget 3000"
    assert f"Resume with the same command, e.g.: {resume}" in err
    assert wait_gone(workers_pids) == []
    assert integrity(run_dir) == "ok"
    assert main([*resume.split()[1:], "--no-progress", "--no-report"]) == 0
    assert len(load_results(run_dir).trials) == 8
    assert set(rows_per_trial(run_dir).values()) == {1}


def test_a_second_run_on_the_same_folder_refuses_while_the_first_runs(tmp_path, capsys):
    process, spec, run_dir = start_run(tmp_path)
    try:
        wait_for_stored_trials(process, run_dir, 1)
        args = ["run", str(spec), "--out", str(run_dir), "--no-progress", "--no-report"]
        assert main(args) == 2
        assert "another gesbench run is using" in capsys.readouterr().err
    finally:
        _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert integrity(run_dir) == "ok"
    assert len(load_results(run_dir).trials) == 8
    # Once the first run has finished, the folder is free again.
    with run_lock(run_dir), pytest.raises(StoreError, match="another gesbench run"):
        run_experiment(parse_experiment(small_spec()), run_dir, progress=False)


# --- plugin code that ends the process, hangs in native code, or returns odd metrics --------


def fragile_toml(tmp_path: Path, control: Path, repetitions: int = 1) -> Path:
    """A spec file of Guided ES and the fragile plugin on a small quadratic."""
    spec = tmp_path / "fragile.toml"
    spec.write_text(
        f'name = "fragile"\nrepetitions = {repetitions}\n[budget]\nlimit = 150\n'
        '[[problems]]\nname = "perturbed_quadratic"\nlabel = "Quadratic"\n'
        "params = { n = 30, m = 60 }\n"
        '[[optimizers]]\nname = "guided_es"\nlabel = "GES"\n'
        f'[[optimizers]]\nname = "fragile_es"\nlabel = "Fragile"\n'
        f'params = {{ control = "{control}" }}\n'
    )
    return spec


@pytest.mark.parametrize("workers", ["1", "2"])
def test_trial_code_raising_system_exit_fails_that_trial_and_the_run_goes_on(
    tmp_path, fragile_plugin, capsys, workers
):
    control = tmp_path / "control"
    control.write_text("exit")
    spec = fragile_toml(tmp_path, control, repetitions=2)
    run_dir = tmp_path / "run"
    args = ["run", str(spec), "--out", str(run_dir), "--no-progress", "--no-report"]
    assert main([*args, "--workers", workers]) == 1  # some trials failed
    out = capsys.readouterr().out
    assert "trials: 2 done, 2 failed" in out
    # each failure group, with its size and the first line of its error
    assert "failed trials (re-running the command retries them):" in out
    assert "  Quadratic x Fragile: 2 failed: SystemExit: 4" in out
    trials = load_results(run_dir).trials.set_index(["label", "repetition"])
    assert (trials["status"].loc["GES"] == "done").all()
    assert trials["error"].loc["Fragile"].str.startswith("SystemExit: 4").all()
    assert trials["iterations"].loc["Fragile"].tolist() == [5, 5]
    control.write_text("off")
    assert main(args) == 0
    assert "trials: 4 done" in capsys.readouterr().out


def run_cli_process(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``gesbench ARGS`` in a fresh interpreter; fails the test if it does not end in time."""
    return subprocess.run(
        [sys.executable, "-m", "gesbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_trial_stuck_in_native_code_has_its_worker_killed_and_replaced(tmp_path, fragile_plugin):
    control = tmp_path / "control"
    control.write_text("native")
    spec = fragile_toml(tmp_path, control, repetitions=2)
    run_dir = tmp_path / "run"
    done = run_cli_process(
        "run", str(spec), "--out", str(run_dir), "--no-progress", "--no-report",
        "--workers", "2", "--trial-timeout", "1.5",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Quadratic x Fragile: 2 failed: TrialTimeout: time limit of 1.5 s reached" in done.stdout
    trials = load_results(run_dir).trials
    assert (trials.loc[trials["label"] == "GES", "status"] == "done").all()
    fragile = trials[trials["label"] == "Fragile"]
    assert len(fragile) == 2 and (fragile["status"] == "failed").all()
    assert fragile["error"].str.contains("did not stop within 2 s more").all()
    assert fragile["error"].str.contains("worker process was killed and replaced").all()
    assert set(rows_per_trial(run_dir).values()) == {1}


METRICS_SPEC = """
name = "metrics"
repetitions = 1
[budget]
limit = 20
[[optimizers]]
name = "guided_es"
"""


def metrics_toml(tmp_path: Path, kinds: tuple[str, ...]) -> Path:
    """A spec with one fragile_metrics problem per kind of final metric."""
    spec = tmp_path / "metrics.toml"
    spec.write_text(
        METRICS_SPEC
        + "".join(
            f'[[problems]]\nname = "fragile_metrics"\nlabel = "{kind}"\n'
            f'params = {{ kind = "{kind}" }}\n'
            for kind in kinds
        )
    )
    return spec


@pytest.mark.parametrize("workers", ["1", "2"])
def test_final_metrics_of_any_type_are_numbers_or_fail_their_trial_only(
    tmp_path, fragile_plugin, capsys, workers
):
    spec = metrics_toml(tmp_path, ("int64", "float32", "str"))
    run_dir = tmp_path / "run"
    args = ["run", str(spec), "--out", str(run_dir), "--no-progress", "--no-report"]
    assert main([*args, "--workers", workers]) == 1
    out = capsys.readouterr().out
    assert "trials: 2 done, 1 failed" in out
    assert "str x guided_es: 1 failed: TypeError: fragile_metrics: final_metrics() returned " in out
    trials = load_results(run_dir).trials.set_index("problem_label")
    assert trials.loc["int64", "final_score"] == 3.0 and trials.loc["float32", "final_score"] == 3.0
    assert trials.loc["str", "status"] == "failed" and np.isnan(trials["final_score"].loc["str"])
    assert "str '3' for metric 'score'; final metrics must be numbers" in trials["error"].loc["str"]
    # Re-running does not crash either; the export reads the whole store.
    assert main(args) == 1
    assert main(["export", str(run_dir)]) == 0
    exported = pd.read_csv(run_dir / "trials.csv").set_index("problem_label")
    assert exported.loc["int64", "final_score"] == 3.0
    assert set(rows_per_trial(run_dir).values()) == {1}
