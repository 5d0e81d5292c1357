"""Report generation on a small real run folder: every file, readable, honest and repeatable."""

from __future__ import annotations

import base64
import io
import re
import sqlite3
import xml.etree.ElementTree as ET
from contextlib import closing
from html import unescape

import matplotlib.image as mpimg
import pandas as pd
import pytest
from report_fixtures import DOCUMENTS, FIGURES, TABLES, tiny_report

from gesbench import load_results, parse_experiment
from gesbench.analysis import final_table
from gesbench.cli import main
from gesbench.core.errors import GesbenchError
from gesbench.report.build import build_report, load_run
from gesbench.report.sections import SECTIONS
from gesbench.run.experiment import run_experiment


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return tiny_report(tmp_path_factory)


def test_report_writes_every_file(report):
    run_dir, written = report
    expected = {f"{name}.{ext}" for name in FIGURES for ext in ("png", "svg", "csv")}
    expected |= set(TABLES) | set(DOCUMENTS)
    assert expected <= {p.name for p in written}
    for path in written:
        assert path.is_file() and path.stat().st_size > 0, path
        assert path.parent == run_dir
    for name in FIGURES:
        image = mpimg.imread(run_dir / f"{name}.png")
        assert image.ndim == 3 and min(image.shape[:2]) > 200, name
        assert image.std() > 0.01, f"{name}.png is blank"
        assert ET.parse(run_dir / f"{name}.svg").getroot().tag.endswith("svg")
        assert len(pd.read_csv(run_dir / f"{name}.csv")) > 0, name


def test_html_is_self_contained_with_every_figure_embedded(report):
    run_dir, written = report
    html = (run_dir / "report.html").read_text()
    text_only = unescape(html)
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', html)
    pngs = [p for p in written if p.suffix == ".png"]  # FIGURES and any figure added since
    assert len(images) == len(pngs)
    embedded = {base64.b64decode(data) for data in images}
    assert embedded == {p.read_bytes() for p in pngs}
    # Nothing is fetched: no external scripts, stylesheets or images.
    assert not re.search(r'<(script|link)\b|src="(?!data:)', html)
    # Header: spec, provenance, counts by status, and the diverged trials with their error.
    for text in ('"name": "tiny"', "git_commit", "version: numpy", "Exploding descent"):
        assert text in text_only, text
    assert html.count('class="status-diverged"') == 6  # 2 problems x 3 repetitions
    assert html.count('class="status-failed"') == 3  # k > n on the n = 20 problem
    assert "non-finite" in html and "k must be &lt;= n = 20" in html


def test_every_registered_section_is_drawn_in_order_without_a_notice(report):
    run_dir, _ = report
    summary = (run_dir / "summary.md").read_text()
    html = (run_dir / "report.html").read_text()
    drawn = [s for s in SECTIONS if f"\n## {s.title}\n" in summary]
    positions = [summary.index(f"\n## {section.title}\n") for section in drawn]
    assert positions == sorted(positions)
    expected = {"verdict", "convergence", "alignment", "final_results", "ranks", "runtimes",
                "across_problems", "sweep", "theory", "trials", "provenance"}  # fmt: skip
    assert expected <= {s.name for s in drawn}
    assert SECTIONS[0].title == "Verdict"  # the headline first
    assert [s.title for s in SECTIONS if s.appendix] == ["Trials", "Provenance"]  # last
    assert "\n> " not in summary and 'class="notice"' not in html


def test_counts_failures_and_final_table(report):
    run_dir, _ = report
    summary = (run_dir / "summary.md").read_text()
    assert "| problem | method | done | diverged | failed |" in summary
    assert "| Quadratic n=20 | Exploding descent | 0 | 3 | 0 |" in summary
    assert "| Quadratic n=20 | Too-large subspace | 0 | 0 | 3 |" in summary
    assert "| Quadratic n=30 | Too-large subspace | 3 | 0 | 0 |" in summary
    assert summary.count("**Exploding descent**") == 6
    assert summary.count("**Too-large subspace**") == 3
    table = pd.read_csv(run_dir / "final_results.csv")
    # Every (problem, method) with a result, diverged ones included; failed ones have none.
    assert len(table) == 2 * 7 + 1
    # The reference is Guided ES at the package defaults (alpha 0.5, beta 2).
    assert set(table["reference"]) == {"Guided ES alpha=0.5, beta=2.0"}
    exploding = table[table["label"] == "Exploding descent"]
    assert (exploding["median"] == float("inf")).all()
    assert exploding["mean_rank"].tolist() == [7.0, 8.0]  # last of 7 and of 8 methods
    assert ((table["low"] <= table["median"]) & (table["median"] <= table["high"])).all()
    sweep = pd.read_csv(run_dir / "sweep_guided_es.csv")
    settings = set(zip(sweep["alpha"], sweep["beta"], sweep["k"], strict=True))
    assert settings == {(a, b, 1) for a in (0.5, 0.75) for b in (1.0, 2.0)} | {(0.5, 2.0, 25)}
    assert len(sweep) == 4 * 2 + 1  # the k = 25 setting only has results on n = 30


def test_convergence_has_every_axis_and_skips_counters_a_method_never_spends(report):
    run_dir, _ = report
    curves = pd.read_csv(run_dir / "convergence.csv")
    assert set(curves["x_name"]) == {"iteration", "evaluations", "gradient_calls", "wall_time"}
    evaluations = curves[curves["x_name"] == "evaluations"]
    assert "Gradient descent" not in set(evaluations["label"])  # it evaluates no loss
    assert "Vanilla ES" not in set(curves[curves["x_name"] == "gradient_calls"]["label"])
    assert (curves["low"] <= curves["median"] + 1e-12).all()


def test_report_tables_are_a_seeded_function_of_the_store(report):
    run_dir, _ = report
    with closing(sqlite3.connect(run_dir / "results.sqlite")) as db:
        trials = db.execute("SELECT id, started FROM trials ORDER BY id").fetchall()
    run = load_run(run_dir)
    again = final_table(run.finals, run.reference, seed=0)
    written = pd.read_csv(run_dir / "final_results.csv")
    assert written["label"].tolist()[:3] == ["Gradient descent", "Exploding descent", "Vanilla ES"]

    def by_key(frame):  # the report lists methods in spec order
        return frame.sort_values(["problem_label", "label"], ignore_index=True)

    pd.testing.assert_frame_equal(
        by_key(written), by_key(pd.read_csv(io.StringIO(again.to_csv(index=False))))
    )
    with closing(sqlite3.connect(run_dir / "results.sqlite")) as db:  # nothing was re-run
        assert db.execute("SELECT id, started FROM trials ORDER BY id").fetchall() == trials


def test_unknown_reference_is_a_clear_error(report):
    run_dir, _ = report
    with pytest.raises(GesbenchError, match="Vanila ES"):
        build_report(run_dir, reference="Vanila ES")
    assert main(["report", str(run_dir), "--reference", "Vanila ES"]) == 2


def test_a_problem_without_optimum_or_true_gradient_is_reported_by_its_loss(tmp_path):
    """No f* and no true gradient: excess loss and alignment are NULL throughout the store."""
    spec = {
        "name": "no_reference",
        "repetitions": 2,
        "budget": {"kind": "iterations", "limit": 100},
        "problems": [
            {
                "name": "binary_network",
                "label": "Teacher",
                "params": {"dataset": "teacher", "n_samples": 200, "hidden": 8},
            }
        ],
        "optimizers": [
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 1.0}},
            {"name": "guided_es", "label": "GES", "params": {"sigma": 0.5, "lr": 1.0}},
        ],
    }
    run_experiment(parse_experiment(spec), tmp_path, progress=False)
    traces = load_results(tmp_path).traces
    assert traces["excess_loss"].isna().all() and traces["alignment"].isna().all()
    assert traces[["excess_loss", "alignment"]].dtypes.eq("float64").all()
    names = {p.name for p in build_report(tmp_path)}
    assert {"ecdf.csv", "final_results.csv"} <= names and "alignment.csv" not in names
    summary = (tmp_path / "summary.md").read_text()
    assert "## Alignment\n\n> Not drawn: no problem of this run has a true gradient" in summary
    assert "> Not drawn: the Guided ES method GES logged no alignment (its problems" in summary
    finals = pd.read_csv(tmp_path / "final_results.csv").set_index("label")["median"]
    last = traces.sort_values("iteration").groupby("trial_id").tail(1)
    assert finals.to_dict() == pytest.approx(last.groupby("label")["loss"].median().to_dict())
    # Targets are relative to the best loss any method logged, so the best trial reaches all.
    hits = pd.read_csv(tmp_path / "ecdf_hits.csv")
    assert (
        hits.groupby("trial_id")["hit"]
        .apply(lambda h: h.notna().all() and h.lt(float("inf")).all())
        .any()
    )
