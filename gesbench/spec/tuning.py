"""The tuning protocol of a spec: a ``[tuning]`` table and per-optimizer ``tune`` search spaces.

A spec may let an optimizer entry declare a search space instead of fixing a value::

    [tuning]
    repetitions = 3            # tuning seeds (stage "tuning": other instances, other draws)
    select = "median_final"    # or "auc" (area under the log loss curve), "mean_rank",
                               # "worst_final" (the worst tuning seed's final value)
    scope = "per_problem"      # or "shared": one setting per method for every problem
    strategy = "grid"          # or "halving" (successive halving, `eta`, `rungs`)

    [[optimizers]]
    name = "guided_es"
    params = { sigma = 0.1 }
    tune = { lr = [0.1, 0.2, 0.5, 1.0, 2.0] }                 # a grid of listed values
    # or: tune = { lr = { log_range = [0.01, 4.0], points = 9 } }   (or `range` for linear)

Listed values form a grid (every combination). Continuous ranges are sampled jointly with
:class:`scipy.stats.qmc.LatinHypercube` (``scramble=False``: the centres of ``points`` equal
strata of each range, on a log scale for ``log_range``, paired across parameters by a
permutation seeded from the search space itself), then rounded to 4 significant digits (ints
to integers), so the configurations are a pure function of the spec. Every configuration is
checked against the optimizer's declaration when the spec loads.

This module only describes and expands; :mod:`gesbench.run.tuning` runs the tuning stage and
selects, and :mod:`gesbench.analysis.tuning` summarises it for the report.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from gesbench.core.budget import Budget
from gesbench.core.errors import GesbenchError, SpecError, did_you_mean
from gesbench.core.params import ParameterError
from gesbench.spec.trial import TrialSpec, canonical_json, seed_sequence

if TYPE_CHECKING:
    from gesbench.spec.experiment import Entry, Experiment

SELECTS = {
    "median_final": "lowest median final value over the tuning seeds",
    "auc": "lowest median area under the log10 loss curve (excess loss where f* is known) "
    "over the budget",
    "mean_rank": "lowest mean rank of the final value among the method's configurations, "
    "over tuning seeds",
    "worst_final": "lowest worst (largest) final value over the tuning seeds (a setting that "
    "diverges or fails on any seed scores worst)",
}
SCOPES = {
    "per_problem": "one setting per method and problem",
    "shared": "one setting per method for all problems (the mean over problems of each "
    "configuration's rank within a problem)",
}
STRATEGIES = {
    "grid": "every configuration at the full budget",
    "halving": "successive halving: every configuration at a fraction of the budget, the best "
    "1/eta of each method kept at each longer rung",
}
SIGNIFICANT_DIGITS = 4
"""Sampled values are rounded to this many significant digits (readable, stable ids)."""


class UnequalTuningBudget(UserWarning):
    """The methods of a spec get different tuning budgets (or some are not tuned at all)."""


def _choice(where: str, value: Any, choices: Mapping[str, str]) -> str:
    if not isinstance(value, str) or value not in choices:
        message = f"{where}: expected one of {', '.join(map(repr, choices))}, got {value!r}"
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise SpecError(f"{message}.{hint}" if hint else message)
    return value


def _int_at_least(where: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{where}: expected an integer >= {low}, got {value!r}")
    return value


@dataclass(frozen=True)
class Tuning:
    """The ``[tuning]`` table: how tuned entries are tuned.

    ``repetitions`` tuning seeds (repetitions 0..R-1 of stage "tuning": problem instances and
    optimizer draws that no evaluation trial uses); ``select`` the criterion; ``scope``
    per problem or shared across problems; ``strategy`` a full grid or successive halving
    (keep the best ``ceil(n / eta)`` of each method at every rung; ``rungs`` rungs, by default
    as many as take the largest search space down to one configuration).
    """

    repetitions: int = 3
    select: str = "median_final"
    scope: str = "per_problem"
    strategy: str = "grid"
    eta: int = 3
    rungs: int | None = None

    @classmethod
    def from_dict(cls, data: Any) -> Tuning:
        if not isinstance(data, dict):
            raise SpecError(f"tuning: expected a table, got {data!r}")
        unknown = set(data) - {"repetitions", "select", "scope", "strategy", "eta", "rungs"}
        if unknown:
            raise SpecError(f"tuning: unknown field(s) {', '.join(sorted(unknown))}")
        strategy = _choice("tuning.strategy", data.get("strategy", "grid"), STRATEGIES)
        if strategy != "halving":
            for key in ("eta", "rungs"):
                if key in data:
                    raise SpecError(f"tuning.{key}: only used with strategy = 'halving'")
        rungs = data.get("rungs")
        return cls(
            repetitions=_int_at_least("tuning.repetitions", data.get("repetitions", 3), 1),
            select=_choice("tuning.select", data.get("select", "median_final"), SELECTS),
            scope=_choice("tuning.scope", data.get("scope", "per_problem"), SCOPES),
            strategy=strategy,
            eta=_int_at_least("tuning.eta", data.get("eta", 3), 2),
            rungs=None if rungs is None else _int_at_least("tuning.rungs", rungs, 1),
        )

    def rung_count(self, largest: int) -> int:
        """How many rungs (1 for a grid): ``rungs``, or enough for ``largest`` configurations
        to come down to one (the smallest s with eta^(s-1) >= largest)."""
        if self.strategy != "halving":
            return 1
        if self.rungs is not None:
            return self.rungs
        count = 1
        while self.eta ** (count - 1) < largest:
            count += 1
        return count

    def schedule(self, largest: int) -> tuple[float, ...]:
        """The budget fraction of each rung, shortest first; the last is always 1."""
        rungs = self.rung_count(largest)
        return tuple(float(self.eta) ** -(rungs - 1 - i) for i in range(rungs))

    def kept(self, configurations: int, rung: int) -> int:
        """How many of a method's configurations run at ``rung`` (all of them at rung 0)."""
        return max(1, math.ceil(configurations / self.eta**rung))


def rung_budget(budget: Budget, fraction: float) -> Budget:
    """``budget`` scaled by ``fraction`` (whole units when the limit is an integer)."""
    if fraction == 1:
        return budget
    limit = budget.limit * fraction
    if isinstance(budget.limit, int):
        limit = max(1, round(limit))
    return replace(budget, limit=limit)


@dataclass(frozen=True)
class TuneSpace:
    """An optimizer entry's search space: the tuned parameters (in spec order), what the spec
    gave for each (a list of values, or a range), and the configurations it expands to (each
    ``{parameter: value}``, checked and typed like any parameter), in their order: the grid
    as listed (first parameter slowest), then sampled points in increasing order."""

    params: tuple[str, ...]
    given: dict[str, Any]
    configurations: tuple[dict[str, Any], ...]
    integer: tuple[str, ...] = field(default=())

    def values(self, name: str) -> list[Any]:
        """The distinct values tried for ``name``, sorted where they can be."""
        values = list(dict.fromkeys(c[name] for c in self.configurations))
        try:
            return sorted(values)
        except TypeError:
            return values

    def is_range(self, name: str) -> bool:
        return isinstance(self.given.get(name), dict)

    def describe(self) -> str:
        """``lr in [0.1, 0.2, 0.5]`` / ``lr: 9 points over log [0.01, 4]``."""
        parts = []
        for name in self.params:
            given = self.given[name]
            if isinstance(given, dict):
                kind = "log_range" if "log_range" in given else "range"
                low, high = given[kind]
                scale = "log " if kind == "log_range" else ""
                parts.append(f"{name}: {given['points']} points over {scale}[{low:g}, {high:g}]")
            else:
                parts.append(f"{name} in [{', '.join(_short(v) for v in given)}]")
        return "; ".join(parts)


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def format_config(config: Mapping[str, Any]) -> str:
    """``lr=0.5, sigma=0.1``: a configuration as text (labels, notes)."""
    return ", ".join(f"{k}={_short(v)}" for k, v in config.items())


def _parameter_error(at: str, exc: ParameterError) -> str:
    field_, detail = exc.field, exc.detail
    for prefix in (f"{field_} ", f"parameter {field_!r} "):
        if field_ and detail.startswith(prefix):
            return f"{at}.{field_}: {detail.removeprefix(prefix)}"
    return f"{at}: {detail}"


def _number(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise SpecError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _range(where: str, spec: dict[str, Any]) -> tuple[float, float, bool, int]:
    """(low, high, log, points) of a range table, checked."""
    unknown = set(spec) - {"range", "log_range", "points"}
    if unknown:
        raise SpecError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))} (a range is "
            "{ log_range = [low, high], points = N } or { range = [low, high], points = N })"
        )
    kinds = [k for k in ("range", "log_range") if k in spec]
    if len(kinds) != 1:
        raise SpecError(
            f"{where}: give exactly one of range = [low, high], log_range = [low, high]"
        )
    kind = kinds[0]
    bounds = spec[kind]
    if not isinstance(bounds, list) or len(bounds) != 2:
        raise SpecError(f"{where}.{kind}: expected [low, high], got {bounds!r}")
    low, high = (_number(f"{where}.{kind}", b) for b in bounds)
    if not low < high:
        raise SpecError(f"{where}.{kind}: low must be below high, got {bounds!r}")
    if kind == "log_range" and low <= 0:
        raise SpecError(f"{where}.log_range: bounds must be > 0 for a log scale, got {bounds!r}")
    if "points" not in spec:
        raise SpecError(f"{where}.points: missing (how many values to sample from the range)")
    points = _int_at_least(f"{where}.points", spec["points"], 1)
    return low, high, kind == "log_range", points


def _sample(
    where: str, ranges: dict[str, tuple[float, float, bool, int]], integer: set[str]
) -> list[dict[str, Any]]:
    """The sampled points of the ranges (jointly), rounded, deduplicated and sorted."""
    from scipy.stats import qmc

    counts = {r[3] for r in ranges.values()}
    if len(counts) > 1:
        first = next(iter(ranges))
        for name, r in ranges.items():
            if r[3] != ranges[first][3]:
                raise SpecError(
                    f"{where}.{name}.points: ranges of one entry are sampled jointly, so they "
                    f"need the same number of points ({first} has {ranges[first][3]}, "
                    f"{name} has {r[3]})"
                )
    points = counts.pop()
    material = {"tune": {k: list(v) for k, v in ranges.items()}}
    rng = np.random.default_rng(seed_sequence(material))
    unit = qmc.LatinHypercube(len(ranges), scramble=False, rng=rng).random(points)
    rows = []
    for u in unit:
        row: dict[str, Any] = {}
        for (name, (low, high, log, _)), x in zip(ranges.items(), u, strict=True):
            value = low * (high / low) ** x if log else low + (high - low) * x
            row[name] = int(np.rint(value)) if name in integer else float(f"{value:.4g}")
        rows.append(row)
    unique = {canonical_json(r): r for r in rows}
    return sorted(unique.values(), key=lambda r: tuple(r.values()))


def _is_integer(cls: Any, name: str) -> bool:
    info = cls.Params.describe().get(name)
    return info is not None and info.type_name in ("int", "int or None")


def _is_numeric(cls: Any, name: str) -> bool:
    info = cls.Params.describe().get(name)
    return info is None or info.type_name.split(" or ")[0] in ("int", "float", "any value")


def parse_tune(
    at: str,
    raw: Any,
    cls: Any,
    base: dict[str, Any],
    fixed: Sequence[str],
    check: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    kind: str = "optimizers",
) -> TuneSpace | None:
    """The search space of the entry at ``at`` (e.g. ``optimizers[1]``) from its ``tune``
    table ``raw`` (None when absent), checked: every tuned parameter is declared by ``cls``,
    not fixed by a preset and not also set in ``fixed`` (the entry's params and sweep keys);
    every configuration passes ``check`` (the declaration's checks) on top of ``base``."""
    if raw is None:
        return None
    where = f"{at}.tune"
    if kind != "optimizers":
        raise SpecError(f"{where}: only optimizer entries can be tuned")
    if not isinstance(raw, dict) or not raw:
        raise SpecError(f"{where}: expected a table of parameter = [values] or a range table")
    declared = list(cls.defaults)
    grid: dict[str, list[Any]] = {}
    ranges: dict[str, tuple[float, float, bool, int]] = {}
    integer = {name for name in raw if _is_integer(cls, name)}
    for name, spec in raw.items():
        here = f"{where}.{name}"
        if name in cls.fixed:
            raise SpecError(
                f"{here}: {name} is fixed to {cls.fixed[name]!r} by this preset and cannot be tuned"
            )
        if name not in declared:
            raise SpecError(
                f"{here}: not a parameter of {cls.__name__}.{did_you_mean(name, declared)} "
                f"Parameters: {', '.join(declared) or '(none)'}"
            )
        if name in fixed:
            raise SpecError(
                f"{here}: {name} is also set in params or sweep; a tuned parameter is chosen by "
                "the tuning stage, so remove it from there (or from tune)"
            )
        if isinstance(spec, list):
            if not spec:
                raise SpecError(f"{here}: expected a non-empty array of values")
            grid[name] = spec
        elif isinstance(spec, dict):
            if not _is_numeric(cls, name):
                raise SpecError(f"{here}: a range needs a numeric parameter; list the values")
            ranges[name] = _range(here, spec)
        else:
            raise SpecError(
                f"{here}: expected an array of values or a range table "
                f"({{ log_range = [low, high], points = N }}), got {spec!r}"
            )
    sampled = _sample(where, ranges, integer) if ranges else [{}]
    configurations: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for combo in itertools.product(*grid.values()):
        for point in sampled:
            given = {**dict(zip(grid, combo, strict=True)), **point}
            try:
                resolved = check({**base, **given})
            except ParameterError as exc:
                blame = where if exc.field in given else f"{at}.params"
                raise SpecError(_parameter_error(blame, exc)) from None
            except GesbenchError as exc:
                raise SpecError(f"{where}: {format_config(given)}: {exc}") from None
            config = {name: resolved[name] for name in raw if name in given}
            key = canonical_json(config)
            if key in seen:
                if not ranges:
                    raise SpecError(f"{where}: {format_config(config)} is listed twice")
                continue  # two sampled points rounded to the same value
            seen[key] = config
            configurations.append(config)
    return TuneSpace(tuple(raw), dict(raw), tuple(configurations), tuple(sorted(integer)))


def parse_tuning(raw: Any, raw_optimizers: Any) -> Tuning | None:
    """The ``[tuning]`` table (defaults when only ``tune`` entries are given; None when the
    spec tunes nothing). A ``[tuning]`` table without any ``tune`` entry is refused."""
    tuned = isinstance(raw_optimizers, list) and any(
        isinstance(item, dict) and "tune" in item for item in raw_optimizers
    )
    if raw is None:
        return Tuning() if tuned else None
    tuning = Tuning.from_dict(raw)
    if not tuned:
        raise SpecError(
            "tuning: no optimizer entry has a `tune` table, so there is nothing to tune; add "
            "one (e.g. tune = { lr = [0.1, 0.3, 1.0] }) or remove [tuning]"
        )
    return tuning


# --- expansion ---------------------------------------------------------------------------------


def tuned_entries(experiment: Experiment) -> list[tuple[int, Entry]]:
    """(index, entry) of every optimizer entry with a search space, in spec order."""
    return [(i, o) for i, o in enumerate(experiment.optimizers) if o.tune is not None]


def largest_space(experiment: Experiment) -> int:
    """The most configurations any entry's search space has (1 without tuning)."""
    sizes = [len(o.tune.configurations) for o in experiment.optimizers if o.tune is not None]
    return max(sizes, default=1)


def tuning_label(entry: Entry, config: Mapping[str, Any]) -> str:
    """How a tuning trial is shown: ``Guided ES [tuning lr=0.5]``."""
    return f"{entry.label} [tuning {format_config(config)}]"


def tuning_trial(
    experiment: Experiment,
    problem: Entry,
    entry: Entry,
    config: Mapping[str, Any],
    repetition: int,
    budget: Budget,
) -> TrialSpec:
    """One tuning trial: stage "tuning", so its instance and seeds are never an evaluation
    trial's, whatever the repetition."""
    return TrialSpec(
        experiment=experiment.name,
        problem=problem.name,
        problem_params=problem.params,
        problem_label=problem.label,
        optimizer=entry.name,
        optimizer_params={**entry.params, **config},
        label=tuning_label(entry, config),
        budget=budget,
        repetition=repetition,
        stage="tuning",
        trace=experiment.trace,
    )


@dataclass(frozen=True)
class TuningCost:
    """What tuning one method costs: configurations, trials and budget units per problem."""

    label: str
    optimizer: str
    configurations: int
    trials_per_problem: int
    per_problem: float
    problems: int

    @property
    def total(self) -> float:
        return self.per_problem * self.problems


def tuning_costs(experiment: Experiment) -> list[TuningCost]:
    """Each optimizer entry's tuning cost (0 for an entry without ``tune``), in units of the
    budget's kind: the sum over rungs of configurations x tuning seeds x rung budget."""
    tuning = experiment.tuning
    out = []
    for entry in experiment.optimizers:
        if tuning is None or entry.tune is None:
            out.append(TuningCost(entry.label, entry.name, 0, 0, 0.0, len(experiment.problems)))
            continue
        n = len(entry.tune.configurations)
        trials, units = 0, 0.0
        for rung, fraction in enumerate(tuning.schedule(largest_space(experiment))):
            kept = tuning.kept(n, rung)
            trials += kept * tuning.repetitions
            units += kept * tuning.repetitions * rung_budget(experiment.budget, fraction).limit
        out.append(TuningCost(entry.label, entry.name, n, trials, units, len(experiment.problems)))
    return out


BUDGET_UNITS = {
    "iterations": "iterations",
    "evaluations": "loss evaluations",
    "gradient_calls": "surrogate calls",
    "cost": "cost units",
}


def cost_lines(experiment: Experiment) -> tuple[list[str], str | None]:
    """Lines stating each method's tuning cost, and a warning when the costs differ (None
    when every method gets the same tuning budget)."""
    if experiment.tuning is None:
        return [], None
    t = experiment.tuning
    unit = BUDGET_UNITS[experiment.budget.kind]
    costs = tuning_costs(experiment)
    schedule = t.schedule(largest_space(experiment))
    how = (
        f"successive halving, eta {t.eta}, rungs at "
        + ", ".join(f"{f:.3g}" for f in schedule)
        + " of the budget"
        if t.strategy == "halving"
        else "full grid"
    )
    lines = [
        f"tuning: {t.repetitions} tuning seeds, select {t.select}, scope {t.scope}, {how}; "
        f"evaluation: {experiment.repetitions} repetitions"
    ]
    for c in costs:
        if c.configurations:
            lines.append(
                f"  {c.label}: {c.configurations} configurations, {c.trials_per_problem} tuning "
                f"trials = {c.per_problem:,.0f} {unit} per problem ({c.total:,.0f} in all)"
            )
        else:
            lines.append(f"  {c.label}: not tuned (run at its stated settings)")
    spent = {c.per_problem for c in costs}
    warning = None
    if len(spent) > 1:
        parts = ", ".join(f"{c.label} {c.per_problem:,.0f}" for c in costs)
        warning = f"methods get unequal tuning budgets ({unit} per problem: {parts})"
    return lines, warning


def tuning_summary(experiment: Experiment) -> list[str]:
    """What ``gesbench run`` prints before it starts: the tuning trials, each method's tuning
    cost, and a warning line when the costs differ (nothing for a spec without tuning)."""
    lines, warning = cost_lines(experiment)
    if not lines:
        return []
    count = f"{tuning_trial_count(experiment):,} tuning trials first; "
    return [lines[0].replace("tuning: ", "tuning: " + count, 1), *lines[1:]] + (
        [f"warning: {warning}"] if warning else []
    )


def tuning_trial_count(experiment: Experiment) -> int:
    return sum(c.trials_per_problem for c in tuning_costs(experiment)) * len(experiment.problems)


def check_tuning_size(experiment: Experiment, max_trials: int | None) -> None:
    """SpecError when the tuning stage alone has more than ``max_trials`` trials."""
    if experiment.tuning is None or max_trials is None:
        return
    count = tuning_trial_count(experiment)
    if count > max_trials:
        raise SpecError(
            f"the tuning stage expands to {count:,} trials, more than the limit of "
            f"{max_trials:,}; use fewer configurations or tuning repetitions, strategy = "
            "'halving', or raise the limit (gesbench run --max-trials)"
        )
