"""Typed parameter declarations: types, constraints, cross-field checks, derived declarations."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gesbench.core.errors import HyperparameterError
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import ParameterError, Params, invalid, param


@dataclass(frozen=True)
class Demo(Params):
    n: int = param(10, ge=1, doc="dimension")
    sigma: float = param(0.1, gt=0, doc="scale")
    alpha: float = param(0.5, ge=0, le=1)
    rate: float = param(0.9, ge=0, lt=1)
    rule: str = param("sgd", choices=("sgd", "adam"))
    flag: bool = param(False)
    alignment: float | None = param(None, gt=0, le=1)
    low: int = param(0, ge=0)
    high: int = param(5, ge=0)

    def validate(self) -> None:
        if self.low > self.high:
            invalid("low", f"must be <= high = {self.high}, got {self.low}")


def error(**given: Any) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        Demo.resolve(given, owner="demo")
    return info.value


def test_defaults_fill_in_and_the_result_reads_as_attributes_and_as_a_mapping() -> None:
    p = Demo.resolve({"n": 3}, owner="demo")
    assert isinstance(p, Demo) and p.n == 3 and p["sigma"] == 0.1 and p.alignment is None
    assert dict(p) == p.as_dict() == {**Demo.default_values(), "n": 3}
    assert list(p) == list(Demo.describe())
    assert len(p) == 9 and "rule" in p and "nope" not in p
    with pytest.raises(KeyError):
        p["nope"]


def test_ints_widen_to_floats_so_equal_values_are_equal_parameters() -> None:
    a, b = Demo(sigma=1), Demo(sigma=1.0)
    assert a == b and isinstance(a.sigma, float) and a.as_dict() == b.as_dict()
    # a NumPy integer where an int is declared, on purpose
    assert Demo(n=np.int64(4)).n == 4 and type(Demo(n=np.int64(4)).n) is int  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"n": True}, "n", "parameter 'n' expects int, got True (bool)"),
        ({"n": 1.5}, "n", "parameter 'n' expects int, got 1.5 (float)"),
        ({"sigma": True}, "sigma", "parameter 'sigma' expects float, got True (bool)"),
        ({"sigma": "0.1"}, "sigma", "parameter 'sigma' expects float, got '0.1' (str)"),
        ({"sigma": None}, "sigma", "parameter 'sigma' expects float, got None"),
        ({"flag": 1}, "flag", "parameter 'flag' expects bool, got 1 (int)"),
        ({"rule": 1}, "rule", "parameter 'rule' expects str, got 1 (int)"),
        ({"alignment": "x"}, "alignment", "expects float or None, got 'x' (str)"),
        ({"sigma": float("nan")}, "sigma", "parameter 'sigma' must be finite, got nan"),
        ({"alpha": float("inf")}, "alpha", "parameter 'alpha' must be finite, got inf"),
        ({"n": 0}, "n", "n must be >= 1, got 0"),
        ({"sigma": 0}, "sigma", "sigma must be > 0, got 0.0"),
        ({"alpha": 1.5}, "alpha", "alpha must be in [0, 1], got 1.5"),
        ({"rate": 1}, "rate", "rate must be in [0, 1), got 1.0"),
        ({"alignment": 0}, "alignment", "alignment must be in (0, 1], got 0.0"),
        ({"rule": "adamw"}, "rule", "rule must be one of sgd, adam, got 'adamw'. Did you mean"),
        ({"low": 6}, "low", "low must be <= high = 5, got 6"),
        ({"sigam": 1.0}, "sigam", "unknown parameter 'sigam'. Did you mean 'sigma'?"),
    ],
)
def test_every_failure_names_the_owner_and_the_field(
    given: dict[str, Any], field: str, message: str
) -> None:
    exc = error(**given)
    assert isinstance(exc, HyperparameterError)
    assert exc.field == field and exc.owner == "demo"
    assert str(exc).startswith("demo: ") and message in str(exc)


def test_none_is_accepted_only_where_declared_optional() -> None:
    assert Demo(alignment=None).alignment is None
    assert Demo(alignment=1).alignment == 1.0


def test_direct_construction_is_checked_too_and_instances_are_frozen() -> None:
    with pytest.raises(ParameterError, match="n must be >= 1"):
        Demo(n=-5)
    p = Demo()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.n = 3  # type: ignore[misc]


@given(st.integers(min_value=1, max_value=10**6), st.floats(0.0, 1.0))
def test_values_inside_the_constraints_are_stored_as_given(n: int, alpha: float) -> None:
    p = Demo.resolve({"n": n, "alpha": alpha})
    assert isinstance(p, Demo) and (p.n, p.alpha) == (n, alpha)


@given(st.one_of(st.integers(max_value=0), st.floats(max_value=0.0, allow_nan=False)))
def test_values_outside_the_constraints_are_refused(value: float) -> None:
    field = "n" if isinstance(value, int) else "sigma"
    with pytest.raises(ParameterError) as info:
        Demo.resolve({field: value})
    assert info.value.field == field


def test_describe_gives_type_default_constraint_and_doc() -> None:
    info = Demo.describe()["alpha"]
    assert (info.type_name, info.default, info.constraints.describe()) == (
        "float",
        0.5,
        "in [0, 1]",
    )
    assert Demo.describe()["n"].doc == "dimension"
    assert Demo.describe()["alignment"].type_name == "float or None"


def test_a_declaration_cannot_shadow_the_mapping_methods() -> None:
    @dataclass(frozen=True)
    class Bad(Params):
        items: int = param(1)  # type: ignore[assignment]  # shadows Mapping.items on purpose

    with pytest.raises(TypeError, match="'items' cannot be a parameter name"):
        Bad()


# --- components ------------------------------------------------------------------------------


class Typed(Optimizer):
    """An optimizer with a typed declaration."""

    Params = Demo
    params: Demo

    def step(self, oracle: Oracle) -> None:
        oracle.loss(self.x[None, :])


def test_a_component_exposes_its_user_settable_defaults_and_typed_params() -> None:
    assert dict(Typed.defaults) == Demo.default_values()
    opt = Typed(rng=0, sigma=2)
    assert isinstance(opt.params, Demo) and opt.params.sigma == 2.0
    with pytest.raises(HyperparameterError, match=r"^Typed: n must be >= 1, got 0$"):
        Typed(n=0)
    assert Typed.params_dict({"n": 2}) == {**Demo.default_values(), "n": 2}


class Plain(Optimizer):
    """A third-party optimizer declaring only a plain defaults mapping."""

    defaults: ClassVar[Mapping[str, Any]] = {"step": 0.5, "count": 3, "mode": "a", "extra": None}

    def step(self, oracle: Oracle) -> None:
        oracle.loss(self.x[None, :])


def test_a_plain_defaults_mapping_becomes_a_declaration_typed_by_its_values() -> None:
    assert dict(Plain.defaults) == {"step": 0.5, "count": 3, "mode": "a", "extra": None}
    opt = Plain(step=1, extra=[1, 2])
    assert opt.params["step"] == 1.0 and opt.params["extra"] == [1, 2]
    assert hasattr(opt.params, "step") and opt.params.step == 1.0  # a field declared at run time
    cases: list[tuple[dict[str, Any], str]] = [
        ({"count": 1.5}, "parameter 'count' expects int"),
        ({"mode": 2}, "parameter 'mode' expects str"),
        ({"step": True}, "parameter 'step' expects float"),
        ({"stpe": 1.0}, "Did you mean 'step'"),
    ]
    for bad, message in cases:
        with pytest.raises(HyperparameterError, match=message):
            Plain(**bad)


class Tuned(Typed):
    """A subclass that extends its parent's declaration with a plain mapping."""

    defaults: ClassVar[Mapping[str, Any]] = {**Typed.defaults, "sigma": 1, "extra": "x"}


def test_a_mapping_that_extends_a_typed_parent_keeps_its_types_constraints_and_checks() -> None:
    assert Tuned.defaults["sigma"] == 1.0 and Tuned.defaults["extra"] == "x"
    assert issubclass(Tuned.Params, Demo)
    with pytest.raises(HyperparameterError, match="sigma must be > 0"):
        Tuned(sigma=-1.0)
    with pytest.raises(HyperparameterError, match="low must be <= high"):
        Tuned(low=9)
    assert Tuned(extra="y").params.extra == "y"  # type: ignore[attr-defined]


def test_declaring_both_ways_at_once_is_refused() -> None:
    with pytest.raises(TypeError, match="declare the parameters once"):

        class Both(Optimizer):
            Params = Demo
            defaults: ClassVar[Mapping[str, Any]] = {"n": 1}

            def step(self, oracle: Oracle) -> None:
                pass


def test_a_bad_default_in_a_plain_mapping_fails_when_the_class_is_defined() -> None:
    with pytest.raises(TypeError, match="sigma must be > 0"):

        class Broken(Typed):
            defaults: ClassVar[Mapping[str, Any]] = {**Typed.defaults, "sigma": -1.0}
