"""Runs that used to break the report: a Guided ES whose every trial diverges, a comparison of
zeroth-order methods only; and the verdict a run with a clear winner gets."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest
from report_fixtures import synthetic_run

from gesbench import parse_experiment
from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment


def run(tmp_path, optimizers, *, repetitions=3, limit=60):
    spec = {
        "name": "regression",
        "repetitions": repetitions,
        "budget": {"kind": "iterations", "limit": limit},
        "trace": {"dense": 10, "per_decade": 20},
        "problems": [{"name": "perturbed_quadratic", "params": {"n": 10, "m": 20}}],
        "optimizers": optimizers,
    }
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    written = build_report(tmp_path)
    return written, (tmp_path / "summary.md").read_text()


def assert_no_section_failed(summary: str) -> None:
    assert "section failed" not in summary, re.findall(r"> The .* section failed.*", summary)


def test_a_guided_es_whose_every_trial_diverges(tmp_path):
    written, summary = run(
        tmp_path,
        [
            {"name": "guided_es", "label": "Guided ES", "params": {"lr": 1e300}},
            {"name": "guided_es", "label": "Steady GES", "params": {"lr": 0.2, "alpha": 0.6}},
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.05}},
        ],
    )
    assert_no_section_failed(summary)
    assert {"convergence.png", "verdict.csv", "verdict.tex"} <= {p.name for p in written}
    curves = pd.read_csv(tmp_path / "convergence.csv")
    exploded = curves[(curves["label"] == "Guided ES") & (curves["x_name"] == "iteration")]
    assert np.isinf(exploded["median"].iloc[-1]) and exploded["diverged"].iloc[-1] == 3
    verdict = pd.read_csv(tmp_path / "verdict.csv").set_index("problem")
    assert verdict["Guided ES"].iloc[0] == "diverged"
    # Theory is drawn for the Guided ES that logged an alignment track, per problem.
    assert "## Theory" in summary and "Steady GES" in summary.split("## Theory")[1]


def test_every_trial_of_the_only_guided_es_diverging(tmp_path):
    _, summary = run(
        tmp_path,
        [
            {"name": "guided_es", "label": "Guided ES", "params": {"lr": 1e300}},
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.05}},
        ],
    )
    assert_no_section_failed(summary)
    theory = summary.split("## Theory")[1].split("\n## ")[0]
    assert "Not drawn for: perturbed_quadratic (no alignment logged)" in theory


def test_zeroth_order_methods_only(tmp_path):
    written, summary = run(
        tmp_path,
        [
            {"name": "vanilla_es", "label": "Vanilla ES"},
            {"name": "ng_one_plus_one", "label": "(1+1)-ES"},
        ],
    )
    assert_no_section_failed(summary)
    curves = pd.read_csv(tmp_path / "convergence.csv")
    assert "gradient_calls" not in set(curves["x_name"])  # neither ever calls the surrogate
    assert curves["median"].dtype == float
    assert "## Theory" not in summary  # no Guided ES: no theory section at all
    assert "convergence.png" in {p.name for p in written}


def test_a_clear_winner_is_marked_in_the_verdict(tmp_path):
    synthetic_run(tmp_path, repetitions=8, problems=2)
    build_report(tmp_path)
    verdict = pd.read_csv(tmp_path / "verdict.csv").set_index("problem")
    # Gradient descent converges fastest, vanilla ES slowest, on every repetition.
    assert verdict["Gradient descent"].str.endswith("↓").all()
    assert verdict["Vanilla ES"].str.endswith("↑").all()
    html = unescape((tmp_path / "report.html").read_text())
    verdict_html = html.split("<h2>Verdict</h2>")[1].split("<h2>")[0]
    assert verdict_html.count("<td><b>") == 2  # the best of each problem in bold
    assert re.search(r"<td><b>[0-9.e-]+ \[[^]]+\] ↓</b></td>", verdict_html)
    assert "[x(2), x(7)] of 8, 92.97%" not in verdict_html  # 8 values: [min, max], 99.2%
    assert "[min, max] of 8, 99.22% coverage" in verdict_html
    tex = (tmp_path / "verdict.tex").read_text()
    assert tex.count(r"\textbf{") == 2 and r"$\downarrow$" in tex and r"\end{tabular}" in tex
    summary = (tmp_path / "summary.md").read_text()
    assert summary.index("## Verdict") < summary.index("## Convergence")
    assert summary.index("## Trials") > summary.index("## Final results")
    final = pd.read_csv(tmp_path / "final_results.csv")
    gd = final[final["label"] == "Gradient descent"]
    assert (gd["ratio"] < 1).all() and (gd["ratio_high"] < 1).all() and gd["significant"].all()


@pytest.mark.parametrize("kind", ["cost", "evaluations"])
def test_the_budget_kind_is_always_an_x_axis(tmp_path, kind):
    spec = {
        "name": "budget_axis",
        "repetitions": 2,
        "budget": {"kind": kind, "limit": 80},
        "problems": [{"name": "perturbed_quadratic", "params": {"n": 8, "m": 16}}],
        "optimizers": [{"name": "guided_es", "label": "GES"}, {"name": "vanilla_es"}],
    }
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    build_report(tmp_path)
    curves = pd.read_csv(tmp_path / "convergence.csv")
    axis = {"cost": "cost", "evaluations": "evaluations"}[kind]
    assert axis in set(curves["x_name"])
    assert curves["x_name"].iloc[0] == axis  # the budget's axis comes first
