"""Experiment specs (TOML or Python): problems x optimizers x repetitions, expanded into trials.

A spec file looks like::

    name = "fig1"
    repetitions = 5
    [budget]                       # see gesbench.core.budget.Budget
    kind = "iterations"
    limit = 10000
    [trace]                        # optional, see gesbench.spec.schedule.TraceSchedule
    dense = 50
    [[problems]]
    name = "perturbed_quadratic"
    params = { n = 1000, m = 2000 }
    [[optimizers]]
    name = "guided_es"
    label = "Guided ES"
    params = { sigma = 0.1 }
    sweep = { alpha = [0.25, 0.5, 0.75] }   # optional: one entry per combination

Every field is checked when the spec is loaded; errors name the field (``optimizers[2].params``).
"""

from __future__ import annotations

import itertools
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from gesbench.core.budget import Budget
from gesbench.core.errors import GesbenchError, SpecError, UnknownNameError
from gesbench.core.optimizer import Optimizer
from gesbench.core.params import ParameterError
from gesbench.core.registry import Registry, optimizers, problems
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec, canonical_json


@dataclass(frozen=True)
class Entry:
    """One problem or optimizer configuration of an experiment (sweeps already expanded)."""

    name: str
    params: dict[str, Any]
    label: str


@dataclass(frozen=True)
class Experiment:
    """A parsed, validated experiment."""

    name: str
    problems: tuple[Entry, ...]
    optimizers: tuple[Entry, ...]
    budget: Budget
    repetitions: int = 5
    trace: TraceSchedule = field(default_factory=TraceSchedule)
    description: str = ""

    def trials(self) -> list[TrialSpec]:
        """All trials, repetition-major so a partial run covers every method evenly."""
        return [
            TrialSpec(
                experiment=self.name,
                problem=p.name,
                problem_params=p.params,
                problem_label=p.label,
                optimizer=o.name,
                optimizer_params=o.params,
                label=o.label,
                budget=self.budget,
                repetition=r,
                trace=self.trace,
            )
            for r in range(self.repetitions)
            for p in self.problems
            for o in self.optimizers
        ]

    def with_overrides(
        self, repetitions: int | None = None, budget_limit: float | None = None
    ) -> Experiment:
        """A copy with the repetition count and/or the budget limit replaced."""
        out = self
        if repetitions is not None:
            out = replace(out, repetitions=_positive_int("repetitions", repetitions))
        if budget_limit is not None:
            out = replace(out, budget=replace(out.budget, limit=budget_limit))
        return out


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{where}: expected an integer >= 1, got {value!r}")
    return value


def _table(where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SpecError(f"{where}: expected a table, got {value!r}")
    return value


def _check_params(cls: Any, name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every parameter of a problem or optimizer checked against its declaration (types,
    constraints, cross-field checks) without building it, defaults filled in. Only an
    optimizer with its own ``check_params`` hook (an older plugin) is constructed to run it;
    checks that need the problem's dimension happen when a trial starts."""
    resolved: dict[str, Any] = cls.params_dict(given, owner=name)
    if issubclass(cls, Optimizer) and cls.check_params is not Optimizer.check_params:
        cls(**resolved)
    return resolved


def _parameter_error(at: str, exc: ParameterError) -> str:
    """``problems[0].params.n: must be >= 1, got -5``: the failing field's path first."""
    field, detail = exc.field, exc.detail
    for prefix in (f"{field} ", f"parameter {field!r} "):
        if field and detail.startswith(prefix):
            return f"{at}.{field}: {detail.removeprefix(prefix)}"
    return f"{at}: {detail}"


def _entries(where: str, raw: Any, registry: Registry[Any]) -> list[Entry]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}: expected a non-empty array of tables ([[{where}]])")
    entries: list[Entry] = []
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        item = _table(at, item)
        unknown = set(item) - {"name", "label", "params", "sweep"}
        if unknown:
            raise SpecError(f"{at}: unknown field(s) {', '.join(sorted(unknown))}")
        name = item.get("name")
        if not isinstance(name, str):
            raise SpecError(f"{at}.name: expected a string, got {name!r}")
        try:
            cls = registry.get(name)
        except UnknownNameError as exc:
            raise SpecError(f"{at}.name: {exc}") from None
        except GesbenchError as exc:
            raise SpecError(f"{at}.name: {exc}") from exc
        params = _table(f"{at}.params", item.get("params", {}))
        sweep = _table(f"{at}.sweep", item.get("sweep", {}))
        for key, values in sweep.items():
            if not isinstance(values, list) or not values:
                raise SpecError(f"{at}.sweep.{key}: expected a non-empty array of values")
        base_label = item.get("label", name)
        if not isinstance(base_label, str):
            raise SpecError(f"{at}.label: expected a string, got {base_label!r}")
        for combo in itertools.product(*sweep.values()):
            swept = dict(zip(sweep, combo, strict=True))
            try:
                resolved = _check_params(cls, name, {**params, **swept})
            except ParameterError as exc:
                raise SpecError(_parameter_error(f"{at}.params", exc)) from None
            except GesbenchError as exc:
                raise SpecError(f"{at}: {exc}") from None
            suffix = ", ".join(f"{k}={v}" for k, v in swept.items())
            entries.append(
                Entry(name, resolved, f"{base_label} {suffix}" if suffix else base_label)
            )
    _check_distinct(where, entries)
    return entries


def _check_distinct(where: str, entries: list[Entry]) -> None:
    """Labels name entries, and an entry's science (name and parameters) is its trials'
    identity: two entries sharing either would show or run the same trials twice."""
    labels = Counter(e.label for e in entries)
    dupes = sorted(label for label, count in labels.items() if count > 1)
    if dupes:
        raise SpecError(f"{where}: duplicate label(s) {', '.join(dupes)}; give each entry a label")
    seen: dict[str, str] = {}
    for e in entries:
        key = canonical_json([e.name, e.params])
        if key in seen:
            raise SpecError(
                f"{where}: {e.label!r} and {seen[key]!r} are the same {e.name} with the same "
                "parameters, hence the same trials; remove one (labels do not make trials "
                "different)"
            )
        seen[key] = e.label


def parse_experiment(data: dict[str, Any], default_name: str = "experiment") -> Experiment:
    """Validate a spec given as a (TOML-shaped) dict."""
    data = _table("spec", data)
    unknown = set(data) - {
        "name",
        "description",
        "repetitions",
        "budget",
        "trace",
        "problems",
        "optimizers",
    }
    if unknown:
        raise SpecError(f"unknown top-level field(s) {', '.join(sorted(unknown))}")
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise SpecError(f"name: expected a non-empty string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"description: expected a string, got {description!r}")
    if "budget" not in data:
        raise SpecError("budget: missing (e.g. [budget] kind = 'iterations', limit = 1000)")
    try:
        budget = Budget.from_dict(_table("budget", data["budget"]))
        trace = TraceSchedule.from_dict(_table("trace", data.get("trace", {})))
    except TypeError as exc:
        raise SpecError(f"budget/trace: {exc}") from None
    return Experiment(
        name=name,
        description=description,
        repetitions=_positive_int("repetitions", data.get("repetitions", 5)),
        budget=budget,
        trace=trace,
        problems=tuple(_entries("problems", data.get("problems"), problems)),
        optimizers=tuple(_entries("optimizers", data.get("optimizers"), optimizers)),
    )


def builtin_experiments() -> dict[str, str]:
    """Names of the experiment specs shipped with gesbench, with their descriptions."""
    out = {}
    for item in sorted(
        resources.files("gesbench.spec.experiments").iterdir(), key=lambda p: p.name
    ):
        if item.name.endswith(".toml"):
            data = tomllib.loads(item.read_text(encoding="utf-8"))
            out[item.name.removesuffix(".toml")] = data.get("description", "")
    return out


def load_experiment(name_or_path: str | Path) -> Experiment:
    """Load a built-in experiment by name, or a spec from a TOML file path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise SpecError(f"spec file {str(path)!r} does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(
                f"spec file {str(path)!r} is not UTF-8 text, as TOML requires: {exc}"
            ) from None
        default_name = path.stem
    else:
        builtins = builtin_experiments()
        if str(name_or_path) not in builtins:
            raise UnknownNameError("experiment", str(name_or_path), builtins)
        resource = resources.files("gesbench.spec.experiments") / f"{name_or_path}.toml"
        text, default_name = resource.read_text(encoding="utf-8"), str(name_or_path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{name_or_path}: malformed TOML: {exc}") from None
    return parse_experiment(data, default_name)
