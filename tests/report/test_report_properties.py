"""A report never fails on data: random stores, written through the real store, always give a
report in which no section failed, every listed file exists and the HTML is well-formed."""

from __future__ import annotations

import tempfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from report_fixtures import trial_result, trial_spec, write_store

from gesbench.report.build import build_report

VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}

METHODS = {
    # label: (optimizer, spends loss evaluations, calls the surrogate, Guided ES proper)
    "Guided ES": ("guided_es", True, True, True),
    "Vanilla ES": ("vanilla_es", True, False, False),
    "Gradient descent": ("surrogate_descent", False, True, False),
    "Plugin gone": ("plugin_not_installed", True, True, False),
    "Idle": ("idle_plugin", False, False, False),  # spends nothing at all
}
ODD_VALUES = [np.nan, np.inf, -np.inf, 0.0, -1.0, 1e300, 1e-300]


class WellFormed(HTMLParser):
    """Checks that every non-void element is closed, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def assert_well_formed(html: str) -> None:
    parser = WellFormed()
    parser.feed(html)
    parser.close()
    assert not parser.errors and not parser.stack, (parser.errors, parser.stack)
    assert html.startswith("<!DOCTYPE html>")


@st.composite
def traces(draw, status: str, evaluates: bool, surrogate: bool, f_star: bool, grad: bool):
    """A trace as the runner could log it, with odd values mixed in."""
    length = draw(st.integers(0 if status == "failed" else 1, 6))
    if status == "diverged":
        length = max(length, 1)
    steps = np.cumsum(draw(st.lists(st.integers(1, 50), min_size=length, max_size=length)))
    iteration = np.concatenate([[0.0], steps[:-1]]).astype(float) if length else np.zeros(0)
    values = draw(
        st.lists(
            st.one_of(st.floats(1e-6, 10.0), st.sampled_from(ODD_VALUES)),
            min_size=length,
            max_size=length,
        )
    )
    loss = np.array(values, dtype=float)
    if status == "diverged":
        loss[-1] = draw(st.sampled_from([np.inf, np.nan, 1e308]))
    wall = np.cumsum(np.full(length, draw(st.floats(1e-6, 1.0))))
    return {
        "iteration": iteration,
        "evaluations": 2 * iteration if evaluates else np.zeros(length),
        "gradient_calls": iteration if surrogate else np.zeros(length),
        "cost": iteration,
        "wall_time": wall,
        "loss": loss + 1.0,
        "excess_loss": loss if f_star else np.full(length, np.nan),
        "alignment": np.clip(loss / 10, -1, 1) if grad else np.full(length, np.nan),
    }


@st.composite
def stores(draw):
    """Trial records and meta of a random run: any mix of statuses, methods that never spend
    a counter, one repetition, one method, several problems, missing f*, lost plugins."""
    n_problems = draw(st.integers(1, 3))
    labels = draw(st.lists(st.sampled_from(list(METHODS)), min_size=1, max_size=4, unique=True))
    repetitions = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["iterations", "evaluations", "gradient_calls", "cost"]))
    problems = [
        (f"Problem {p}", draw(st.booleans()), draw(st.booleans())) for p in range(n_problems)
    ]  # (label, f* known, true gradient)
    results = []
    for problem, f_star, grad in problems:
        dim = draw(st.one_of(st.none(), st.integers(1, 50)))
        for label in labels:
            optimizer, evaluates, surrogate, _ = METHODS[label]
            for rep in range(repetitions):
                status = draw(st.sampled_from(["done", "done", "diverged", "failed"]))
                trace = draw(traces(status, evaluates, surrogate, f_star, grad))
                spec = trial_spec(problem, label, optimizer, rep, kind=kind)
                results.append(trial_result(spec, status, trace, dim=dim))
    experiment = {
        "name": "random",
        "budget": {"kind": kind, "limit": 200},
        "optimizers": [{"name": METHODS[x][0], "label": x} for x in labels],
    }
    components = None
    if draw(st.booleans()):  # else a store from before components were kept
        components = {
            "optimizers": {
                METHODS[x][0]: {
                    "defaults": {"alpha": 0.5, "beta": 2.0, "k": 1, "pairs": 1},
                    "guided_es": METHODS[x][3] or x == "Vanilla ES",
                }
                for x in labels
            }
        }
    return results, experiment, components


def check_report(results, experiment, components) -> None:
    with tempfile.TemporaryDirectory() as folder:
        run_dir = write_store(Path(folder), results, experiment=experiment, components=components)
        written = build_report(run_dir)
        html = (run_dir / "report.html").read_text()
        summary = (run_dir / "summary.md").read_text()
        assert "section failed" not in html and "section failed" not in summary
        assert "Traceback" not in html
        for path in written:
            assert path.is_file() and path.stat().st_size > 0, path
        assert_well_formed(html)
        assert summary.startswith("# random\n")
        assert html.index("<h2>Verdict</h2>") < html.index("<h2>Trials</h2>")


PROPERTY = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@PROPERTY
@given(stores())
def test_random_stores_always_give_a_whole_report(store):
    check_report(*store)


@pytest.mark.slow
@settings(PROPERTY, max_examples=60)
@given(stores())
def test_many_random_stores_always_give_a_whole_report(store):
    check_report(*store)
