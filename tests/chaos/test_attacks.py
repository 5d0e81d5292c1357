"""Attacks on the real command line, each in a fresh interpreter: bad specs, plugins that end
the process, hang in native code or return odd metrics, corrupt stores, bad benchmark files
and Ctrl-C. Each must end with a clear message and the right exit code, never a traceback,
and never write outside the run folder."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from chaos_cli import gesbench

from gesbench import load_results

pytestmark = pytest.mark.slow

HEADER = '[budget]\nlimit = {limit}\n[[problems]]\nname = "perturbed_quadratic"\n'
TINY = (
    'name = "{name}"\nrepetitions = {repetitions}\n'
    + HEADER
    + 'label = "Quadratic"\nparams = {{ n = 20, m = 40 }}\n'
    + '[[optimizers]]\nname = "guided_es"\nlabel = "GES"\n'
)


def spec_file(folder: Path, name: str = "tiny", repetitions: int = 1, limit: int = 100, extra=""):
    path = folder / f"{abs(hash(name))}.toml"
    path.write_text(TINY.format(name=name, repetitions=repetitions, limit=limit) + extra)
    return path


def fragile(control: Path) -> str:
    return (
        '[[optimizers]]\nname = "fragile_es"\nlabel = "Fragile"\n'
        f'params = {{ control = "{control}" }}\n'
    )


def clean(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout, done.stderr


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/gesbench-escaped", "a/../../b"])
def test_a_spec_name_cannot_move_the_run_folder_out_of_reports(tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    spec = spec_file(work, name=name)
    before = files_under(tmp_path)
    done = gesbench("run", spec, "--no-progress", cwd=work)
    assert done.returncode == 2
    assert f"name: {name!r} contains a path separator" in done.stderr
    clean(done)
    assert files_under(tmp_path) == before
    assert not Path("/tmp/gesbench-escaped").exists()


def test_a_billion_repetitions_are_refused_at_once_with_the_count(tmp_path):
    spec = spec_file(tmp_path, repetitions=10**9)
    done = gesbench("run", spec, "--out", tmp_path / "run", timeout=60)
    assert done.returncode == 2
    assert "the spec expands to 1,000,000,000 trials" in done.stderr
    clean(done)
    assert not (tmp_path / "run").exists()


def test_a_problem_too_big_for_the_machine_is_refused(tmp_path):
    spec = tmp_path / "big.toml"
    spec.write_text(
        spec_file(tmp_path).read_text().replace("n = 20, m = 40", "n = 200000, m = 2000")
    )
    done = gesbench("run", spec, "--out", tmp_path / "run", "--workers", "2", timeout=60)
    assert done.returncode == 2
    assert "problems[0] (Quadratic): one trial needs about 650 GB of memory" in done.stderr
    clean(done)


def test_a_gradient_only_method_under_an_evaluation_budget_is_refused(tmp_path):
    spec = spec_file(tmp_path, extra='[[optimizers]]\nname = "surrogate_descent"\nlabel = "GD"\n')
    spec.write_text(spec.read_text().replace("[budget]", '[budget]\nkind = "evaluations"'))
    done = gesbench("run", spec, "--out", tmp_path / "run")
    assert done.returncode == 2
    assert "budget.kind: 'GD' (surrogate_descent) never evaluates the loss" in done.stderr
    clean(done)


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("mode", "options", "error"),
    [
        ("exit", [], "SystemExit: 4"),
        ("native", ["--trial-timeout", "1.5"], "TrialTimeout: time limit of 1.5 s reached"),
    ],
)
def test_plugin_code_that_exits_or_hangs_fails_its_trial_and_the_run_goes_on(
    tmp_path, plugin, workers, mode, options, error
):
    if mode == "native" and workers == "1":
        options = [*options, "--executor", "processes"]  # the driver cannot kill itself
    control = tmp_path / "control"
    control.write_text(mode)
    spec = spec_file(tmp_path, repetitions=2, extra=fragile(control))
    run_dir = tmp_path / "run"
    args = ["run", spec, "--out", run_dir, "--no-progress", "--no-report", "--workers", workers]
    done = gesbench(*args, *options)
    assert done.returncode == 1, done.stderr
    assert "trials: 2 done, 2 failed" in done.stdout
    assert f"  Quadratic x Fragile: 2 failed: {error}" in done.stdout
    clean(done)
    control.write_text("off")
    again = gesbench(*args)
    assert again.returncode == 0 and "trials: 4 done" in again.stdout


def test_final_metrics_that_are_numpy_scalars_or_text(tmp_path, plugin):
    spec = tmp_path / "metrics.toml"
    spec.write_text(
        'name = "metrics"\nrepetitions = 1\n[budget]\nlimit = 20\n'
        '[[optimizers]]\nname = "guided_es"\n'
        + "".join(
            f'[[problems]]\nname = "fragile_metrics"\nlabel = "{k}"\nparams = {{ kind = "{k}" }}\n'
            for k in ("int64", "float32", "str")
        )
    )
    run_dir = tmp_path / "run"
    done = gesbench("run", spec, "--out", run_dir, "--no-progress", "--workers", "2")
    assert done.returncode == 1
    assert (
        "str x guided_es: 1 failed: TypeError: fragile_metrics: final_metrics() returned str"
        in (done.stdout)
    )
    clean(done)
    for command in (["report", run_dir], ["export", run_dir]):
        result = gesbench(*command)
        assert result.returncode == 0, result.stderr
        clean(result)
    assert sorted(load_results(run_dir).trials["final_score"].dropna()) == [3.0, 3.0]


@pytest.mark.parametrize("content", ["garbage", "foreign"])
def test_a_corrupt_or_foreign_store_is_refused_by_every_command_and_left_alone(tmp_path, content):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store = run_dir / "results.sqlite"
    if content == "garbage":
        store.write_bytes(os.urandom(8192))
    else:
        with closing(sqlite3.connect(store)) as db:
            db.execute("CREATE TABLE accounts (owner TEXT, balance REAL)")
            db.commit()
    before = store.read_bytes()
    spec = spec_file(tmp_path)
    for command in (
        ["run", spec, "--out", run_dir, "--no-progress"],
        ["report", run_dir],
        ["export", run_dir],
    ):
        done = gesbench(*command)
        assert done.returncode == 2, command
        assert done.stderr.startswith(f"gesbench: error: {store} ")
        assert "move it away" in done.stderr.lower()
        clean(done)
    assert store.read_bytes() == before


def test_bench_compare_with_nan_and_missing_fields(tmp_path):
    def bench(value: object, **stats: object) -> Path:
        data = {
            "machine_info": {},
            "benchmarks": [{"fullname": "t::b", "stats": {"min": value, **stats}}],
        }
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(data).replace('"NaN"', "NaN"))
        return path

    base = bench(1.0)
    nan = gesbench("bench-compare", bench("NaN"), base)
    assert nan.returncode == 1 and "cannot compare: new not a number" in nan.stdout
    zero = gesbench("bench-compare", base, bench(0.0))
    assert zero.returncode == 1 and "cannot compare: baseline 0, not a positive time" in zero.stdout
    missing = gesbench("bench-compare", base, _no_min(tmp_path))
    assert missing.returncode == 2 and "has no stats.'min'" in missing.stderr
    for done in (nan, zero, missing):
        clean(done)


def _no_min(tmp_path: Path) -> Path:
    path = tmp_path / "no_min.json"
    path.write_text(json.dumps({"benchmarks": [{"fullname": "t::b", "stats": {"max": 1.0}}]}))
    return path


def test_an_infinite_trial_timeout_is_no_limit(tmp_path):
    done = gesbench(
        "run", spec_file(tmp_path), "--out", tmp_path / "run", "--no-report",
        "--trial-timeout", "inf",
    )  # fmt: skip
    assert done.returncode == 0 and "1 done" in done.stdout
    clean(done)


def start(*args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gesbench.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a job in a terminal
    )


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_ctrl_c_stops_quietly_with_an_exact_resume_hint(tmp_path, executor):
    spec = spec_file(tmp_path, repetitions=4, limit=1000)
    run_dir = tmp_path / "run"
    args = ["run", spec, "--out", run_dir, "--no-progress", "--no-report", "--budget", "1234567"]
    process = start(*args, "--executor", executor, "--workers", "2")
    time.sleep(8)  # the workers are running long trials by now
    assert process.poll() is None
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err.strip().splitlines() == [
        "interrupted; finished trials are stored and will not run again. Resume with the same "
        f"command, e.g.: gesbench run {spec} --out {run_dir} --budget 1234567"
    ]
