"""A spec's problem and optimizer parameters are checked when it loads, before any trial runs:
every declared constraint of every built-in component, and the cross-field checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gesbench.core.errors import HyperparameterError, SpecError
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import ParamInfo
from gesbench.core.registry import Registry, optimizers, problems
from gesbench.spec.experiment import parse_experiment

from spec_factory import small_spec


def with_entry(kind: str, name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    spec = small_spec()
    spec[kind] = [{"name": name, "params": dict(params)}]
    return spec


def test_a_bad_problem_parameter_fails_at_load_naming_entry_and_field() -> None:
    spec = small_spec()
    spec["problems"][0]["params"] = {"n": -5}
    with pytest.raises(SpecError) as info:
        parse_experiment(spec)
    assert str(info.value) == "problems[0].params.n: must be >= 1, got -5"


def violations(info: ParamInfo) -> list[Any]:
    """Values that break each declared constraint of a field (and nothing else)."""
    c, integer = info.constraints, info.type_name.startswith("int")
    out: list[Any] = []
    if c.choices is not None:
        out.append("not-a-choice")
    if c.ge is not None:
        out.append(int(c.ge) - 1 if integer else c.ge - 0.5)
    if c.gt is not None:
        out.append(int(c.gt) if integer else float(c.gt))
    if c.le is not None:
        out.append(int(c.le) + 1 if integer else c.le + 0.5)
    if c.lt is not None:
        out.append(int(c.lt) if integer else float(c.lt))
    return out


def constraint_cases() -> list[Any]:
    cases = []
    kinds: tuple[tuple[str, Registry[Any]], ...] = (
        ("problems", problems),
        ("optimizers", optimizers),
    )
    for kind, registry in kinds:
        for name in registry.installed():
            cls = registry.get(name)
            for field, info in cls.Params.describe().items():
                if field in cls.fixed:
                    continue
                for value in violations(info):
                    cases.append(
                        pytest.param(kind, name, field, value, id=f"{name}.{field}={value}")
                    )
    return cases


@pytest.mark.parametrize(("kind", "name", "field", "value"), constraint_cases())
def test_every_declared_constraint_is_checked_at_load(
    kind: str, name: str, field: str, value: Any
) -> None:
    with pytest.raises(SpecError, match=rf"^{kind}\[0\]\.params\.{re.escape(field)}: must be "):
        parse_experiment(with_entry(kind, name, {field: value}))


def test_every_built_in_component_declares_constraints() -> None:
    for registry in (problems, optimizers):
        for name in registry.installed():
            declared = registry.get(name).Params.describe().values()
            assert any(violations(info) for info in declared), name


@pytest.mark.parametrize(
    ("kind", "name", "params", "message"),
    [
        ("problems", "truncated_unroll", {"T": 5, "K": 6}, r"K must be in \[1, T = 5\], got 6"),
        ("problems", "truncated_unroll", {"init_lr": 2.5}, r"init_lr must be in \(0, max_lr"),
        ("problems", "logistic_regression", {"batch_size": 600}, r"batch_size .*569\], got 600"),
        (
            "problems",
            "logistic_regression",
            {"dataset": "synthetic", "n_samples": 50, "batch_size": 60},
            r"batch_size must be in \[1, 50\]",
        ),
        ("problems", "binary_network", {"batch_size": 1800}, r"batch_size .*1797\], got 1800"),
        (
            "problems",
            "binary_network",
            {"dataset": "teacher", "n_samples": 10, "batch_size": 11},
            r"batch_size must be in \[1, 10\]",
        ),
        (
            "problems",
            "biased_quadratic",
            {"alignment": 0.5, "bias": 0.0, "noise": 0.0},
            "alignment < 1 needs a perturbation",
        ),
        ("optimizers", "cma_es", {"popsize": 2}, r"popsize must be 0 \(library default\) or >= 3"),
        ("optimizers", "vanilla_es", {"alpha": 0.5}, r"alpha is fixed to 1.0 in vanilla_es"),
        ("optimizers", "vanilla_es", {"k": 2}, r"k is fixed to 1 in vanilla_es"),
    ],
)
def test_cross_field_checks_and_fixed_preset_parameters_fail_at_load(
    kind: str, name: str, params: dict[str, Any], message: str
) -> None:
    # messages name their field first: "K must be ..." is reported as "params.K: must be ..."
    message = re.sub(r"^(\w+) ", r"\1: ", message)
    with pytest.raises(SpecError, match=rf"^{kind}\[0\]\.params\.{message}"):
        parse_experiment(with_entry(kind, name, params))


def test_the_same_checks_run_when_a_component_is_built_directly() -> None:
    with pytest.raises(HyperparameterError, match="K must be in"):
        problems.create("truncated_unroll", {"T": 5, "K": 6}, rng=0)
    with pytest.raises(HyperparameterError, match="fixed"):
        optimizers.create("vanilla_es", {"alpha": 0.2}, rng=0)


def stored(cls: Any) -> list[str]:
    """The user-settable parameters a spec stores at their defaults (not ``dtype``, which is
    stored only when set away from float64, so adding it kept older trial ids)."""
    info = cls.Params.describe()
    return [k for k in cls.defaults if info[k].constraints.stored_at_default]


def test_stored_parameters_are_every_user_settable_parameter_filled_in() -> None:
    experiment = parse_experiment(small_spec())
    for entry in experiment.problems:
        assert list(entry.params) == stored(problems.get(entry.name))
    for entry in experiment.optimizers:
        cls = optimizers.get(entry.name)
        assert list(entry.params) == stored(cls)
        assert not set(entry.params) & set(cls.fixed)


@given(st.integers(min_value=1, max_value=100), st.integers(min_value=1, max_value=3))
def test_an_int_for_a_float_parameter_is_the_same_trial(sigma: int, lr: int) -> None:
    def trials(value: float, rate: float) -> list[str]:
        spec = with_entry("optimizers", "guided_es", {"sigma": value, "lr": rate})
        return [t.id for t in parse_experiment(spec).trials()]

    assert trials(sigma, lr) == trials(float(sigma), float(lr))


class Counted(Optimizer):
    """Counts its constructions; its parameters are declared (no ``check_params`` hook)."""

    defaults: ClassVar[Mapping[str, Any]] = {"step": 0.5}
    built: ClassVar[int] = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        type(self).built += 1
        super().__init__(*args, **kwargs)

    def step(self, oracle: Oracle) -> None:
        oracle.loss(self.x[None, :])


class Hooked(Counted):
    """An older plugin: range checks in ``check_params``, which only construction runs."""

    def check_params(self) -> None:
        if self.params["step"] <= 0:
            raise HyperparameterError(f"{self.name}: step must be > 0")


def test_optimizers_are_not_built_at_load_unless_they_check_in_a_hook() -> None:
    Counted.built = 0
    with optimizers.registered("counted", Counted), optimizers.registered("hooked", Hooked):
        parse_experiment(with_entry("optimizers", "counted", {"step": 1.0}))
        assert Counted.built == 0
        with pytest.raises(SpecError, match=r"optimizers\[0\]: Hooked: step must be > 0"):
            parse_experiment(with_entry("optimizers", "hooked", {"step": -1.0}))
