"""gesbench compare RUN_A RUN_B: two runs of one spec paired by trial id, the change in final
value with its CI and a Holm-corrected paired test, the change in wall time, and exit 1 when a
method got significantly worse in B."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from gesbench import load_results
from gesbench.analysis.compare_runs import compare_runs
from gesbench.analysis.stats import hodges_lehmann, holm, signed_rank_test
from gesbench.cli import main
from gesbench.core.optimizer import Optimizer
from gesbench.core.registry import optimizers
from gesbench.store.database import store_path

SPEC = """
name = "cmp"
repetitions = 8
[budget]
kind = "iterations"
limit = 40
[trace]
dense = 5
per_decade = 5
[[problems]]
name = "perturbed_quadratic"
label = "Quad"
params = { n = 8, m = 16 }
[[optimizers]]
name = "test_descent"
label = "Descent"
[[optimizers]]
name = "vanilla_es"
label = "ES"
"""


class Descent(Optimizer):
    """Follows the surrogate: the version before the change."""

    defaults: ClassVar[dict[str, float]] = {"lr": 0.05}
    shrink = 1.0

    def step(self, oracle):
        self.x = self.x - self.shrink * self.params["lr"] * oracle.surrogate_grad(self.x)


class SlowerDescent(Descent):
    """The same after a change that makes its steps ten times shorter (a regression)."""

    shrink = 0.1


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    """The same spec run before (A) and after (B) the optimizer changed."""
    folder = tmp_path_factory.mktemp("compare")
    spec = folder / "cmp.toml"
    spec.write_text(SPEC)
    for name, cls in (("a", Descent), ("b", SlowerDescent)):
        with optimizers.registered("test_descent", cls):
            args = ["run", str(spec), "--out", str(folder / name), "--no-report", "--no-progress"]
            assert main(args) == 0
    return folder / "a", folder / "b"


def test_a_method_that_got_worse_fails_the_comparison(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b)]) == 1
    out = capsys.readouterr().out
    assert "significantly worse in B: Quad x Descent" in out
    lines = {line.split()[1]: line for line in out.splitlines() if line.split()[:1] == ["Quad"]}
    assert " worse " in lines["Descent"] and "no significant change" in lines["ES"]
    # The other way round it got better, and nothing got worse.
    assert main(["compare", str(b), str(a)]) == 0
    out = capsys.readouterr().out
    assert "no method got significantly worse in B" in out and " better " in out


def test_the_statistics_are_the_papers_paired_ones_on_the_same_trials(runs):
    a, b = runs
    result = compare_runs(a, b)
    row = result.table.set_index("label").loc["Descent"]
    assert row["pairs"] == 8 and row["paired_by"] == "trial id"
    ta, tb = (load_results(r).trials.set_index("id") for r in runs)
    assert set(ta.index) == set(tb.index)  # the same spec: the same ids
    descent = ta.index[ta["label"] == "Descent"]
    d = np.log(tb.loc[descent, "final_excess_loss"]) - np.log(ta.loc[descent, "final_excess_loss"])
    shift = hodges_lehmann(d.to_numpy(), 0.95)
    assert row["change"] == pytest.approx(np.exp(shift.estimate))
    assert row["change_low"] == pytest.approx(np.exp(shift.low))
    assert row["change_high"] == pytest.approx(np.exp(shift.high))
    assert row["change_low"] > 1  # the whole interval says B ends higher
    p = [
        signed_rank_test(d.to_numpy()).pvalue,
        result.table.set_index("label")["wilcoxon_p"].loc["ES"],
    ]
    assert row["holm_p"] == pytest.approx(holm(p)[0])
    assert row["p_lower"] == np.mean(d < 0) < 0.5
    es = result.table.set_index("label").loc["ES"]
    assert es["change"] == 1.0 and es["wilcoxon_p"] == 1.0  # untouched: identical numbers


def test_the_wall_time_change_is_the_median_ratio(runs, tmp_path):
    a, _ = runs
    slow = tmp_path / "slow"
    slow.mkdir()
    with sqlite3.connect(store_path(a)) as source, sqlite3.connect(store_path(slow)) as copy:
        source.backup(copy)
        copy.execute("UPDATE trials SET wall_time = 3 * wall_time")
    copy.close()
    source.close()
    table = compare_runs(a, slow).table.set_index("label")
    assert table.loc["ES", "time_ratio"] == pytest.approx(3.0)
    assert table.loc["ES", "time_low"] == pytest.approx(3.0)
    assert (table["verdict"] == "no significant change").all()


def test_json_for_machines(runs, capsys):
    a, b = runs
    assert main(["compare", str(a), str(b), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["worse"] == ["Quad x Descent"]
    rows = {r["label"]: r for r in data["comparisons"]}
    assert rows["Descent"]["verdict"] == "worse" and rows["Descent"]["pairs"] == 8
    assert {"change", "change_low", "change_high", "holm_p", "time_ratio"} <= set(rows["ES"])


def test_folders_that_share_no_trial_are_an_error_that_says_why(runs, tmp_path, capsys):
    a, _ = runs
    other = tmp_path / "other"
    spec = tmp_path / "cmp.toml"
    spec.write_text(SPEC.replace('name = "test_descent"\nlabel = "Descent"', 'name = "guided_es"'))
    assert main(["run", str(spec), "--out", str(other), "--no-report", "--no-progress",
                 "--budget", "30", "--repetitions", "2"]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["compare", str(a), str(other)]) == 2
    err = capsys.readouterr().err
    assert "share no trial to pair" in err and "same overrides (--budget, --repetitions)" in err
    assert "iterations 40, 8 repetition(s)" in err and "iterations 30, 2 repetition(s)" in err
    assert main(["compare", str(a), str(tmp_path / "missing")]) == 2
    assert "no gesbench result store" in capsys.readouterr().err


def test_a_method_whose_settings_differ_is_paired_by_problem_instance(tmp_path, capsys):
    """As when tuning selected another setting in B: no shared id, the same instances."""
    for name, lr in (("a", 0.1), ("b", 0.3)):
        spec = tmp_path / f"{name}.toml"
        spec.write_text(
            SPEC.replace('name = "test_descent"\nlabel = "Descent"', "name = \"guided_es\"\n"
                         f'label = "GES"\nparams = {{ lr = {lr} }}')
        )  # fmt: skip
        args = ["run", str(spec), "--out", str(tmp_path / name), "--no-report", "--no-progress"]
        assert main(args) == 0
    result = compare_runs(tmp_path / "a", tmp_path / "b")
    table = result.table.set_index("label")
    assert table.loc["GES", "paired_by"] == "problem instance" and table.loc["GES", "pairs"] == 8
    assert table.loc["ES", "paired_by"] == "trial id"
    assert any("GES: no trial id in common" in note for note in result.notes)
    ta = load_results(tmp_path / "a").trials.set_index("label")
    tb = load_results(tmp_path / "b").trials.set_index("label")
    assert set(ta["seed_instance"].loc["GES"]) == set(tb["seed_instance"].loc["GES"])
    assert not set(ta["id"].loc["GES"]) & set(tb["id"].loc["GES"])
