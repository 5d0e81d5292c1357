"""Progress and warnings on a stream that is not a terminal: plain lines with counts and an ETA
(no carriage-return redraws), and libraries' warnings kept off it unless -v."""

from __future__ import annotations

import io
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from gesbench.cli import main
from gesbench.core.problem import Problem, frozen
from gesbench.core.registry import problems
from gesbench.run.experiment import run_experiment
from gesbench.run.progress import LineProgress, duration, progress_bar
from gesbench.run.quiet import issued_by_gesbench, library_warnings_hidden
from gesbench.spec.experiment import parse_experiment
from gesbench.spec.tuning import UnequalTuningBudget

from spec_factory import small_spec


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_five_percent_with_counts_and_eta():
    out, clock = io.StringIO(), FakeClock()
    with LineProgress(40, 0, "demo evaluation", file=out, clock=clock, heartbeat=False) as bar:
        for _ in range(40):
            clock.now += 3.0
            bar.update()
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0] == "demo evaluation: 40 trials to run"
    assert lines[1] == "demo evaluation: 2/40 trials (5%), 6s, ETA 1m54s"
    assert len(lines) == 1 + 19 + 1  # header, 5%..95%, the end
    assert lines[-1] == "demo evaluation: 40/40 trials (100%), 2m00s"


def test_a_line_at_least_every_minute_when_trials_are_slow():
    out, clock = io.StringIO(), FakeClock()
    bar = LineProgress(1000, 200, "slow", file=out, clock=clock, heartbeat=False)
    for _ in range(3):  # 3 of 1000: below 5%, but each after more than a minute
        clock.now += 61.0
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "slow: 1000 trials, 200 done before, 800 to run"
    assert lines[1].startswith("slow: 201/1000 trials (20%), 1m01s, ETA ")
    assert len(lines) == 1 + 3  # closing repeats no line already printed
    assert lines[-1].startswith("slow: 203/1000 trials")


def test_the_heartbeat_prints_while_no_trial_finishes():
    out = io.StringIO()
    bar = LineProgress(10, 0, "stuck", file=out, interval=0.05, heartbeat=True)
    try:
        for _ in range(200):
            if len(out.getvalue().splitlines()) >= 2:
                break
            time.sleep(0.01)
    finally:
        bar.close()
    assert out.getvalue().splitlines()[1].startswith("stuck: 0/10 trials (0%)")


def test_a_terminal_gets_tqdm_and_anything_else_lines():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Terminal()
    with progress_bar(total=3, desc="t", file=tty) as bar:
        bar.update()
    assert "\r" in tty.getvalue()
    assert isinstance(progress_bar(total=3, file=io.StringIO()), LineProgress)
    silent = io.StringIO()
    with progress_bar(total=3, disable=True, file=silent) as bar:
        bar.update()
    assert silent.getvalue() == ""


def test_durations_read_naturally():
    assert [duration(s) for s in (0, 42.4, 187, 7500)] == ["0s", "42s", "3m07s", "2h05m"]


def test_a_run_logs_lines_not_redraws_when_stderr_is_not_a_terminal(tmp_path, capsys):
    experiment = parse_experiment(small_spec(repetitions=2))
    run_experiment(experiment, tmp_path / "run", progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [x for x in err.splitlines() if x.startswith("small trials")]
    assert lines[0] == "small trials: 6 trials to run"
    assert lines[-1].startswith("small trials: 6/6 trials (100%)")
    assert all("ETA" in x for x in lines[1:-1]) and len(lines) >= 3


class WarningSphere(Problem):
    """A sphere whose loss warns, the way a library does."""

    def _build(self, rng):
        self.dim = 3
        self.x0 = frozen(np.ones(3))
        self.f_star = 0.0

    def loss(self, X):
        warnings.warn("noisy library internals", FutureWarning, stacklevel=1)
        return np.sum(X**2, axis=1)

    def surrogate_grad(self, x, rng):
        return 2 * x


@pytest.fixture
def warning_spec(tmp_path: Path) -> Path:
    path = tmp_path / "warns.toml"
    path.write_text(
        'name = "warns"\nrepetitions = 1\n[budget]\nkind = "iterations"\nlimit = 5\n'
        '[[problems]]\nname = "test_warning_sphere"\n[[optimizers]]\nname = "guided_es"\n'
    )
    return path


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_library_warnings_reach_the_terminal_only_with_verbose(
    warning_spec, tmp_path, capsys, verbose
):
    with problems.registered("test_warning_sphere", WarningSphere), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _to_stderr
        args = ["run", str(warning_spec), "--out", str(tmp_path / "w"), "--no-report"]
        assert main([*verbose, *args]) == 0
    err = capsys.readouterr().err
    if verbose:
        assert "noisy library internals" in err
    else:
        assert "noisy library internals" not in err
        assert "warning(s) from libraries hidden (" in err and "FutureWarning" in err


def test_gesbench_own_warnings_still_show(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _to_stderr
        with library_warnings_hidden() as hidden:
            _warn_both()
    err = capsys.readouterr().err
    assert "a gesbench warning" in err and "a library warning" not in err
    assert hidden == {"UserWarning": 1}
    assert issued_by_gesbench(UserWarning, str(Path(__file__).parents[2] / "gesbench/cli.py"))
    assert not issued_by_gesbench(RuntimeWarning, "/lib/numpy/core.py")
    with pytest.warns(UserWarning, match="a gesbench"), library_warnings_hidden():
        _warn_both()  # pytest's recorder still gets gesbench's own warnings


def _to_stderr(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def _warn_both():
    warnings.warn("a gesbench warning", UnequalTuningBudget, stacklevel=1)
    warnings.warn_explicit("a library warning", UserWarning, "/lib/matplotlib/x.py", 1)
