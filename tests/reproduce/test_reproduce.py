"""Reproduction checks: matching methods by label, ordering verdicts, and `gesbench reproduce`."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from report_fixtures import tiny_report

from gesbench.cli import main
from gesbench.core.errors import UnknownNameError
from gesbench.report.build import load_run
from gesbench.reproduce.check import REPRODUCTIONS, Published, Reproduction, check, format_check
from gesbench.reproduce.published import recorded
from gesbench.spec.experiment import load_experiment


def reproduction(gd: float, es: float) -> Reproduction:
    return Reproduction(
        name="tiny",
        spec="unused",
        source="hand-made values",
        at="60 iterations",
        published=(
            Published("Gradient descent", "surrogate_descent", gd, 0.1),
            Published("ES", "vanilla_es", es),  # matched by optimizer name: the label differs
            Published("Absent method", "no_such_optimizer", 0.5),
        ),
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tiny_report(tmp_path_factory)[0]


def test_check_matches_methods_and_reports_absent_and_extra_ones(run_dir):
    result = check(run_dir, reproduction(0.01, 0.02))
    table = result.table.set_index("method")
    assert table.loc["ES", "run label"] == "Vanilla ES"
    assert table.loc["Absent method", "run label"] == "(not run)"
    assert pd.isna(table["median final"].loc["Absent method"])
    assert "Guided ES alpha=0.5, beta=2.0" in table.index  # run, but not published
    assert pd.isna(table["published final"].loc["Guided ES alpha=0.5, beta=2.0"])
    finals = pd.read_csv(run_dir / "final_results.csv")
    trial_finals = load_run(run_dir).finals
    for method, label in [("Gradient descent", "Gradient descent"), ("ES", "Vanilla ES")]:
        # The n=20 and n=30 problems pool here: 6 repetitions per method.
        assert table.loc[method, "n"] == 6
        row = table.loc[method]
        # With 6 values the narrowest order-statistic interval reaching 95% is [min, max]
        # (coverage 1 - 2 / 2^6), whatever the distribution.
        values = trial_finals.loc[trial_finals["label"] == label, "final"]
        assert (row["CI low"], row["CI high"]) == (values.min(), values.max())
        assert row["CI coverage"] == 1 - 2 / 2**6
        assert row["CI low"] <= row["median final"] <= row["CI high"]
        assert row["published within CI"] == (
            row["CI low"] <= row["published final"] <= row["CI high"]
        )
        assert label in set(finals["label"])
    assert 0 <= table["final alignment"].loc["Gradient descent"] <= 1


def test_ordering_verdict_follows_the_run_medians(run_dir):
    one = check(run_dir, reproduction(0.01, 0.02))
    other = check(run_dir, reproduction(0.02, 0.01))
    medians = one.table.set_index("method")["median final"]
    gd_lower = medians["Gradient descent"] < medians["ES"]
    assert one.ordering_holds == gd_lower and other.ordering_holds == (not gd_lower)
    assert one.ordering == "Gradient descent < ES"
    failing = other if gd_lower else one
    assert len(failing.violations) == 1 and "is not above" in failing.violations[0]
    assert (one if gd_lower else other).violations == ()
    text = format_check(one, reproduction(0.01, 0.02))
    assert ("HOLDS" if gd_lower else "FAILS") in text and "(not run)" in text


def test_a_method_outside_the_ordering_is_reported_but_cannot_fail_it(run_dir):
    base = reproduction(0.01, 0.02)
    medians = check(run_dir, base).table.set_index("method")["median final"]
    gd_lower = medians["Gradient descent"] < medians["ES"]
    # Publish the pair in the order the run contradicts, then exempt ES from the ordering.
    gd, es = (0.02, 0.01) if gd_lower else (0.01, 0.02)
    exempt = Reproduction(
        name="tiny",
        spec="unused",
        source="hand-made values",
        at="60 iterations",
        published=(
            Published("Gradient descent", "surrogate_descent", gd),
            Published("ES", "vanilla_es", es, ordered=False),
        ),
    )
    result = check(run_dir, exempt)
    # One ordered method left: nothing is ordered, nothing violated, and nothing confirmed.
    assert result.orderings == () and result.violations == () and not result.ordering_holds
    assert "ES" in set(result.table["method"])


def test_cli_reproduce_quick_look_writes_report_and_exits_by_the_verdict(tmp_path, capsys):
    out = tmp_path / "fig1"
    args = ["reproduce", "fig1", "--out", str(out), "--repetitions", "1", "--budget", "20"]
    code = main([*args, "--no-progress"])
    printed = capsys.readouterr().out
    assert code == (0 if ": HOLDS" in printed else 1)
    for name in ("report.html", "summary.md", "reproduction_check.csv", "convergence.png"):
        assert (out / name).is_file(), name
    assert "Reproduction check: fig1" in (out / "summary.md").read_text()
    for method in ("Guided ES", "Vanilla ES", "Gradient descent", "CMA-ES"):
        assert method in printed
    assert main(["reproduce", "fig2", "--out", str(out)]) == 2
    assert "Did you mean 'fig1'" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_fig1_passes_its_own_check(tmp_path):
    from gesbench.reproduce.check import reproduce

    result, paths = reproduce("fig1", tmp_path, workers=2, progress=False)
    assert result.ordering_holds, format_check(result, REPRODUCTIONS["fig1"])
    table = result.table.set_index("method")
    assert table["median final"].loc["Guided ES"] < 0.01
    assert table["final alignment"].loc["Guided ES"] < 0.1
    assert table["final alignment"].loc["Vanilla ES"] > 0.4
    assert tmp_path / "report.html" in paths


def test_unknown_reproduction_names_close_matches():
    from gesbench.reproduce.check import reproduce

    with pytest.raises(UnknownNameError, match="fig1"):
        reproduce("fig_1")


def test_recorded_values_order_only_clear_margins():
    methods = {"A": "a", "B": "b", "C": "c", "D": "d"}
    entries = recorded(methods, {"p": (0.01, 0.012, 0.1, math.inf), "q": (1e-30, 1e-25, 0.5, 2.0)})
    ordered = {(e.problem, e.label): e.ordered for e in entries}
    # p: B is within 1.5x of A (a near-tie, not ordered); C and the diverged D are.
    assert ordered == {
        ("p", "A"): True, ("p", "B"): False, ("p", "C"): True, ("p", "D"): True,
        # q: A and B are both round-off (a tie); C and D are 4x apart.
        ("q", "A"): True, ("q", "B"): False, ("q", "C"): True, ("q", "D"): True,
    }  # fmt: skip
    assert {e.optimizer for e in entries if e.label == "C"} == {"c"}


def per_problem(gd_on_20: float, es_on_20: float) -> Reproduction:
    published = []
    for problem, gd, es in [("Quadratic n=20", gd_on_20, es_on_20), ("Quadratic n=30", 0.01, 0.02)]:
        published += [
            Published("Gradient descent", "surrogate_descent", gd, problem=problem),
            Published("Vanilla ES", "vanilla_es", es, problem=problem),
        ]
    return Reproduction("tiny", "unused", "hand-made values", "60 iterations", tuple(published))


def test_a_spec_with_several_problems_is_checked_problem_by_problem(run_dir):
    finals = pd.read_csv(run_dir / "final_results.csv").set_index(["problem_label", "label"])
    medians = finals["median"]
    gd_lower = {
        p: medians[p, "Gradient descent"] < medians[p, "Vanilla ES"]
        for p in ("Quadratic n=20", "Quadratic n=30")
    }
    # Publish the n=20 pair in the order the run contradicts; n=30 as published above.
    contradicted = (0.02, 0.01) if gd_lower["Quadratic n=20"] else (0.01, 0.02)
    result = check(run_dir, per_problem(*contradicted))
    table = result.table.set_index(["problem", "method"])
    assert (table["n"] == 3).all()  # repetitions of one problem, not pooled over both
    assert table.loc[("Quadratic n=20", "Gradient descent"), "median final"] == pytest.approx(
        medians["Quadratic n=20", "Gradient descent"]
    )
    assert len(result.orderings) == 2 and result.orderings[0].startswith("Quadratic n=20: ")
    assert not result.ordering_holds
    assert [v.split(":")[0] for v in result.violations] == ["Quadratic n=20"] + (
        [] if gd_lower["Quadratic n=30"] else ["Quadratic n=30"]
    )
    text = format_check(result, per_problem(*contradicted))
    assert text.splitlines()[0].startswith("problem ") and "FAILS" in text


def test_every_reproduction_names_problems_and_methods_its_spec_runs():
    for reproduction in REPRODUCTIONS.values():
        trials = load_experiment(reproduction.spec).trials()
        run = {(t.problem_label, t.label) for t in trials}
        for pub in reproduction.published:
            labels = {label for problem, label in run if pub.problem in (None, problem)}
            assert pub.label in labels, (reproduction.name, pub)
        ordered = [p for p in reproduction.published if p.ordered]
        assert len(ordered) >= 2, reproduction.name


@pytest.mark.slow
# gesbench's own recorded runs (fig1 and sges_blackbox are checked against other sources in
# their own tests: values from other implementations need not fall within gesbench's CIs)
@pytest.mark.parametrize("name", [n for n in REPRODUCTIONS if n not in ("fig1", "sges_blackbox")])
def test_each_family_reproduces_its_recorded_results(tmp_path, name):
    from gesbench.reproduce.check import reproduce

    result, _ = reproduce(name, tmp_path, workers=2, progress=False)
    assert result.ordering_holds, format_check(result, REPRODUCTIONS[name])
    recorded_values = result.table.dropna(subset=["published final"])
    assert recorded_values["published within CI"].all(), format_check(result, REPRODUCTIONS[name])
