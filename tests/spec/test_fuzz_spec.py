"""Property tests: whatever a spec contains, loading it either gives a runnable experiment or
raises gesbench's own error (never a raw exception from deep inside)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gesbench.core.errors import GesbenchError
from gesbench.spec.experiment import Experiment, load_experiment, parse_experiment

from spec_factory import small_spec

FIELDS = [
    ("name",),
    ("description",),
    ("repetitions",),
    ("budget",),
    ("budget", "kind"),
    ("budget", "limit"),
    ("budget", "evaluation_cost"),
    ("trace",),
    ("trace", "dense"),
    ("trace", "per_decade"),
    ("problems",),
    ("problems", 0),
    ("problems", 0, "name"),
    ("problems", 0, "params"),
    ("problems", 0, "params", "n"),
    ("problems", 0, "params", "bias"),
    ("optimizers",),
    ("optimizers", 2),
    ("optimizers", 2, "name"),
    ("optimizers", 2, "label"),
    ("optimizers", 2, "params"),
    ("optimizers", 2, "params", "sigma"),
    ("optimizers", 2, "params", "alpha"),
    ("optimizers", 2, "params", "k"),
    ("optimizers", 2, "params", "update"),
    ("optimizers", 2, "sweep"),
    ("optimizers", 2, "sweep", "alpha"),
    ("unexpected",),
    ("optimizers", 0, "unexpected"),
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from([0, -1, 1, 0.0, -0.0, 1e-300, 1e300, 2**63, "", "guided_es", "sgd"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def assign(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``spec`` with the item at ``path`` replaced (parents that are not containers stay)."""
    spec = copy.deepcopy(spec)
    target: Any = spec
    for key in path[:-1]:
        try:
            target = target[key]
        except (KeyError, IndexError, TypeError):
            return spec
    key = path[-1]
    if isinstance(target, dict) or (
        isinstance(target, list) and isinstance(key, int) and key < len(target)
    ):
        target[key] = value
    return spec


def check_loaded(experiment: Experiment) -> None:
    """What the harness does with a loaded experiment before running anything."""
    trials = experiment.trials()
    assert len({t.id for t in trials}) == len(trials)
    for trial in trials:
        trial.to_json()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIELDS), values), min_size=1, max_size=3))
def test_any_field_set_to_any_value_loads_or_raises_a_gesbench_error(changes):
    spec = small_spec()
    for path, value in changes:
        spec = assign(spec, path, value)
    try:
        experiment = parse_experiment(spec)
    except GesbenchError:
        return
    check_loaded(experiment)


toml_values = st.recursive(
    st.one_of(
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(),
        st.text(max_size=10),
    ),
    lambda inner: st.lists(inner, max_size=3),
    max_leaves=5,
)


def toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, str):
        return '"' + value.encode("unicode_escape").decode().replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    return str(value)


BASE_TOML = """
name = "fuzz"
repetitions = 2
[budget]
kind = "iterations"
limit = 20
[[problems]]
name = "perturbed_quadratic"
params = { n = 5, m = 10 }
[[optimizers]]
name = "guided_es"
params = { sigma = 0.1 }
"""


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    line=st.sampled_from(["name", "repetitions", "limit", "kind", "n", "sigma", "alpha", "x"]),
    value=toml_values,
    garbage=st.one_of(st.just(""), st.text(max_size=20)),
)
def test_any_toml_file_loads_or_raises_a_gesbench_error(spec_dir, line, value, garbage):
    """A key of the base file re-set to a random value (or unknown key added), plus noise."""
    literal = toml_literal(value)
    text = BASE_TOML
    for key, section in (
        ("name", 'name = "fuzz"'),
        ("repetitions", "repetitions = 2"),
        ("limit", "limit = 20"),
        ("kind", 'kind = "iterations"'),
        ("n", "n = 5"),
        ("sigma", "sigma = 0.1"),
    ):
        if line == key:
            text = text.replace(section, f"{key} = {literal}")
    if line == "alpha":
        text = text.replace("sigma = 0.1", f"alpha = {literal}")
    if line == "x":
        text = f"x = {literal}\n" + text
    path = spec_dir / "fuzz.toml"
    path.write_text(text + garbage)
    try:
        experiment = load_experiment(path)
    except GesbenchError:
        return
    check_loaded(experiment)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=200))
def test_any_text_as_a_spec_file_loads_or_raises_a_gesbench_error(spec_dir, text):
    path = spec_dir / "text.toml"
    path.write_text(text, encoding="utf-8")
    try:
        experiment = load_experiment(path)
    except GesbenchError:
        return
    check_loaded(experiment)


def test_a_spec_file_that_is_not_utf8_raises_a_gesbench_error(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(GesbenchError, match="UTF-8"):
        load_experiment(path)


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("budget", "limit"), float("inf"), "budget.limit"),
        (("problems", 0, "params"), {"bias": float("nan")}, r"params\.bias: must be finite"),
        (
            ("optimizers", 2, "sweep"),
            {"sigma": [0.1, float("-inf")]},
            r"params\.sigma: must be finite",
        ),
    ],
)
def test_non_finite_numbers_in_a_spec_name_the_field(path, value, field):
    with pytest.raises(GesbenchError, match=field):
        check_loaded(parse_experiment(assign(small_spec(), path, value)))
