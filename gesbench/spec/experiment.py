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
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from gesbench.core.budget import Budget
from gesbench.core.errors import GesbenchError, SpecError, UnknownNameError
from gesbench.core.optimizer import Optimizer, drive
from gesbench.core.oracle import Oracle
from gesbench.core.params import ParameterError
from gesbench.core.problem import Array, Problem, frozen
from gesbench.core.registry import Registry, optimizers, problems
from gesbench.spec.schedule import TraceSchedule
from gesbench.spec.trial import TrialSpec, canonical_json
from gesbench.spec.tuning import TuneSpace, Tuning, check_tuning_size, parse_tune, parse_tuning


@dataclass(frozen=True)
class Entry:
    """One problem or optimizer configuration of an experiment (sweeps already expanded)."""

    name: str
    params: dict[str, Any]
    label: str
    tune: TuneSpace | None = None  # a search space (gesbench.spec.tuning), optimizers only


DEFAULT_MAX_TRIALS = 100_000
"""The most trials a spec may expand to unless the caller raises the limit (``--max-trials``):
far above any real benchmark, far below what exhausts memory while expanding."""


def check_run_name(name: object, where: str = "name") -> str:
    """``name`` if it can name the run folder ``reports/NAME``: one path component, no
    separators, not '.' or '..', no control characters, at most 255 bytes; else SpecError."""
    if not isinstance(name, str) or not name:
        raise SpecError(f"{where}: expected a non-empty string, got {name!r}")
    problem = None
    if name in (".", ".."):
        problem = "is not a folder name"
    elif "/" in name or "\\" in name:
        problem = "contains a path separator"
    elif any(ord(c) < 32 or ord(c) == 127 for c in name):
        problem = "contains a control character"
    elif len(name.encode("utf-8", "surrogatepass")) > 255:
        problem = "is longer than 255 bytes"
    if problem:
        raise SpecError(
            f"{where}: {name!r} {problem}; the name is the run folder under reports/, so it "
            "must be a single folder name (e.g. 'fig1_small'); use --out to write elsewhere"
        )
    return name


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
    tuning: Tuning | None = None  # set when an optimizer entry has `tune`

    def __post_init__(self) -> None:
        check_run_name(self.name)

    @property
    def trial_count(self) -> int:
        """How many trials :meth:`trials` gives, computed without expanding them."""
        return self.repetitions * len(self.problems) * len(self.optimizers)

    def check_size(self, max_trials: int | None = DEFAULT_MAX_TRIALS) -> None:
        """SpecError when the experiment has more than ``max_trials`` trials (None: no limit)."""
        if max_trials is not None and self.trial_count > max_trials:
            raise SpecError(
                _too_many(self.repetitions, len(self.problems), len(self.optimizers), max_trials)
            )

    def trials(self) -> list[TrialSpec]:
        """All trials, repetition-major so a partial run covers every method evenly (linear in
        their number; check :attr:`trial_count` first for a spec that may be huge)."""
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


def _too_many(repetitions: int, problems: int, optimizers: int, limit: int) -> str:
    total = repetitions * problems * optimizers
    return (
        f"the spec expands to {total:,} trials (repetitions {repetitions:,} x {problems:,} "
        f"problem entries x {optimizers:,} optimizer entries, sweeps expanded), more than the "
        f"limit of {limit:,}; shrink it, or raise the limit (gesbench run --max-trials)"
    )


def _expanded_count(raw: Any) -> int:
    """How many entries a [[problems]] or [[optimizers]] array gives once its sweeps are
    expanded, counted without expanding (malformed items count 1: parsing rejects them)."""
    if not isinstance(raw, list):
        return 1
    total = 0
    for item in raw:
        count = 1
        sweep = item.get("sweep") if isinstance(item, dict) else None
        if isinstance(sweep, dict):
            for values in sweep.values():
                count *= len(values) if isinstance(values, list) and values else 1
        total += count
    return max(total, 1)


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
        unknown = set(item) - {"name", "label", "params", "sweep", "tune"}
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
            check = partial(_check_params, cls, name)
            fixed = [*params, *sweep]
            tune = parse_tune(
                at, item.get("tune"), cls, {**params, **swept}, fixed, check, kind=where
            )
            entries.append(
                Entry(name, resolved, f"{base_label} {suffix}" if suffix else base_label, tune)
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
        key = canonical_json([e.name, e.params, e.tune and e.tune.configurations])
        if key in seen:
            raise SpecError(
                f"{where}: {e.label!r} and {seen[key]!r} are the same {e.name} with the same "
                "parameters, hence the same trials; remove one (labels do not make trials "
                "different)"
            )
        seen[key] = e.label


class _ProbeQuadratic(Problem):
    """``||x - 1||^2 / 2`` in 16 dimensions: where an optimizer takes one step to show what it
    queries (see :func:`check_budget_fits`)."""

    def _build(self, rng: np.random.Generator) -> None:
        self.dim = 16
        self.x0 = frozen(np.zeros(self.dim))

    def loss(self, X: Array) -> Array:
        return 0.5 * np.sum((X - 1.0) ** 2, axis=1)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return x - 1.0


def _spends(cls: type[Optimizer], params: dict[str, Any], kind: str) -> bool:
    """Whether ``cls`` with ``params`` spends what a ``kind`` budget counts ('evaluations' or
    'gradient_calls'): False when it declares it never does (``uses_loss``,
    ``uses_surrogate``), else whether one step on a small quadratic does. A step that cannot be
    taken there counts as spending: the trial itself will tell."""
    declared = cls.uses_loss if kind == "evaluations" else cls.uses_surrogate
    if declared is False:
        return False
    if kind == "evaluations" and (declared or not cls.uses_surrogate):
        return True  # declared, or it queries nothing else
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            optimizer = cls(rng=0, **params)
            oracle = Oracle(_ProbeQuadratic(0), Budget("iterations", 1), np.random.default_rng(0))
            optimizer.start(oracle.x0)
            drive(optimizer, oracle)
    except Exception:
        return True
    return (oracle.evaluations if kind == "evaluations" else oracle.gradient_calls) > 0


def check_budget_fits(entries: Iterable[Entry], budget: Budget) -> None:
    """SpecError for an optimizer entry that never spends what ``budget`` counts (a
    gradient-only method under an evaluation budget, Guided ES with alpha = 1 under a
    surrogate-call budget): its trials could never end, so they would all fail."""
    if budget.kind not in ("evaluations", "gradient_calls"):
        return
    what = {"evaluations": "evaluates the loss", "gradient_calls": "calls the surrogate"}
    for entry in entries:
        if not _spends(optimizers.get(entry.name), entry.params, budget.kind):
            raise SpecError(
                f"budget.kind: {entry.label!r} ({entry.name}) never {what[budget.kind]}, so its "
                f"{budget.kind!r} budget would never run out for it and every trial would "
                "fail; use another budget kind (e.g. 'iterations' or 'cost') or leave it out"
            )


def parse_experiment(
    data: dict[str, Any],
    default_name: str = "experiment",
    *,
    max_trials: int | None = DEFAULT_MAX_TRIALS,
) -> Experiment:
    """Validate a spec given as a (TOML-shaped) dict.

    A spec that expands to more than ``max_trials`` trials (None: no limit) is refused with
    its count, before anything is expanded.
    """
    data = _table("spec", data)
    unknown = set(data) - {
        "name",
        "description",
        "repetitions",
        "budget",
        "trace",
        "problems",
        "optimizers",
        "tuning",
    }
    if unknown:
        raise SpecError(f"unknown top-level field(s) {', '.join(sorted(unknown))}")
    name = check_run_name(data.get("name", default_name))
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
    repetitions = _positive_int("repetitions", data.get("repetitions", 5))
    # Sweeps are expanded below: count first, so a huge spec fails at once, with its size.
    n_problems = _expanded_count(data.get("problems"))
    n_optimizers = _expanded_count(data.get("optimizers"))
    if max_trials is not None and n_problems * n_optimizers > max_trials:
        raise SpecError(_too_many(1, n_problems, n_optimizers, max_trials))
    experiment = Experiment(
        name=name,
        description=description,
        repetitions=repetitions,
        budget=budget,
        trace=trace,
        problems=tuple(_entries("problems", data.get("problems"), problems)),
        optimizers=tuple(_entries("optimizers", data.get("optimizers"), optimizers)),
        tuning=parse_tuning(data.get("tuning"), data.get("optimizers")),
    )
    experiment.check_size(max_trials)
    check_tuning_size(experiment, max_trials)
    check_budget_fits(experiment.optimizers, budget)
    return experiment


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


def load_experiment(
    name_or_path: str | Path, *, max_trials: int | None = DEFAULT_MAX_TRIALS
) -> Experiment:
    """Load a built-in experiment by name, or a spec from a TOML file path (see
    :func:`parse_experiment` for ``max_trials``)."""
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
    return parse_experiment(data, default_name, max_trials=max_trials)
