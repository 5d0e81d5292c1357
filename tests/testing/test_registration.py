"""Every built-in component is registered, every entry point resolves, and the contract suites
run over every registered name: a component whose entry point was forgotten cannot go untested."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import tomllib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import test_optimizer_contract
import test_problem_contract

from gesbench.core.optimizer import Optimizer
from gesbench.core.problem import Problem
from gesbench.core.registry import Preset, Registry, optimizers, problems

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
GROUPS: dict[str, Registry[Any]] = {
    "gesbench.problems": problems,
    "gesbench.optimizers": optimizers,
}


def declared_entry_points() -> dict[str, dict[str, str]]:
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return {group: dict(data["project"]["entry-points"][group]) for group in GROUPS}


def built_in_modules() -> list[ModuleType]:
    modules = []
    for package in ("gesbench.problems", "gesbench.baselines"):
        pkg = importlib.import_module(package)
        for info in pkgutil.iter_modules(pkg.__path__):
            modules.append(importlib.import_module(f"{package}.{info.name}"))
    return [*modules, importlib.import_module("gesbench.ges.guided_es")]


def components_of(module: ModuleType) -> tuple[set[type], set[int]]:
    """Concrete problem/optimizer classes defined in ``module``, and the ids of the presets in
    its module-level tables."""
    classes = {
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, Problem | Optimizer)
        and obj.__module__ == module.__name__
        and not inspect.isabstract(obj)
    }
    presets = {
        id(row)
        for obj in vars(module).values()
        if isinstance(obj, Mapping)
        for row in obj.values()
        if isinstance(row, Preset)
    }
    return classes, presets


def registered() -> tuple[set[type], set[int]]:
    """Every installed component class (and the bases of presets), and the presets' ids."""
    classes: set[type] = set()
    presets: set[int] = set()
    for registry in GROUPS.values():
        loaded, broken = registry.load_all()
        assert not broken, broken
        for cls in loaded.values():
            classes.add(cls)
            if cls.preset is not None:
                assert isinstance(cls.preset, Preset)
                presets.add(id(cls.preset))
                classes.add(cls.preset.base)
    return classes, presets


@pytest.mark.parametrize("module", built_in_modules(), ids=lambda m: m.__name__)
def test_every_component_of_every_built_in_module_is_registered(module: ModuleType) -> None:
    classes, presets = components_of(module)
    known_classes, known_presets = registered()
    missing = sorted(c.__name__ for c in classes - known_classes)
    assert not missing, f"{module.__name__}: not registered (missing entry point?): {missing}"
    assert presets <= known_presets, f"{module.__name__}: a preset row is not registered"


def test_one_entry_point_per_module_and_each_resolves() -> None:
    for group, points in declared_entry_points().items():
        modules = [value.partition(":")[0] for value in points.values()]
        assert len(modules) == len(set(modules)), f"{group}: a module has several entry points"
        for name, value in points.items():
            obj = EntryPoint(name, value, group).load()
            rows = obj.values() if isinstance(obj, Mapping) else [obj]
            assert rows and all(
                isinstance(row, Preset) or issubclass(row, GROUPS[group].base) for row in rows
            ), f"{group}: {name} = {value!r} is not a component or a table of them"


def test_the_installed_entry_points_are_those_of_pyproject() -> None:
    for group, points in declared_entry_points().items():
        installed = {ep.name: ep.value for ep in entry_points(group=group)}
        assert {k: v for k, v in installed.items() if k in points} == points, (
            f"{group}: the installed entry points are stale; reinstall (pip install -e .)"
        )


def parametrized_names(test: Any) -> set[str]:
    (mark,) = [m for m in test.pytestmark if m.name == "parametrize"]
    return set(mark.args[1])


@pytest.mark.parametrize(
    ("registry", "test"),
    [
        (problems, test_problem_contract.test_registered_problem_passes_contract),
        (optimizers, test_optimizer_contract.test_registered_optimizer_passes_contract),
    ],
    ids=["problems", "optimizers"],
)
def test_the_contract_suites_cover_every_registered_name(
    registry: Registry[Any], test: Any
) -> None:
    group = next(g for g, r in GROUPS.items() if r is registry)
    names: set[str] = set()
    for name, value in declared_entry_points()[group].items():
        obj = EntryPoint(name, value, group).load()
        names |= set(obj) if isinstance(obj, Mapping) else {name}
    assert names <= parametrized_names(test)
