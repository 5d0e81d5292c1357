"""Registries of problems and optimizers, and presets (configured variants as table rows).

Two ways in, one lookup: the :meth:`Registry.register` decorator for classes defined in the
running process, and the entry-point groups ``gesbench.problems`` / ``gesbench.optimizers`` for
installed packages (the built-ins use entry points too). An entry point names either

- one component (a class, or a :class:`Preset`): ``my_solver = "mypkg.solvers:MySolver"``, or
- a table of them, a mapping ``{name: class or Preset}``, registering each row under its key:
  ``solvers = "mypkg.solvers:OPTIMIZERS"`` (one entry point per module; by convention it is
  named after the module or its main component).

Entry points load lazily: asking for a name loads the entry point of that name first, then
others only until one provides it, and a module must not import heavy dependencies when it is
loaded (pycma and Nevergrad are imported when an optimizer starts). A plugin that fails to load
is reported by name and does not hide the others.

A :class:`Preset` is a configured variant of a component (vanilla ES is Guided ES with alpha = 1
and k = 1): a row of base class, fixed parameters, changed defaults, class settings and a
docstring. The registry turns a row into a subclass of its base, so whatever ``get`` returns is
a class with ``defaults``, ``uses_surrogate`` (optimizers), a docstring and a constructor.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from gesbench.core.errors import PluginError, UnknownNameError
from gesbench.core.optimizer import Optimizer
from gesbench.core.params import Configurable, ParameterError, with_defaults
from gesbench.core.problem import Problem

T = TypeVar("T", bound=type)


@dataclass(frozen=True)
class Preset:
    """A configured variant of a component, declared as a table row instead of a subclass.

    Parameters
    ----------
    base : type
        The problem or optimizer class it configures.
    doc : str
        Its docstring; the first line is the summary ``gesbench list`` shows.
    fixed : mapping
        Parameters the preset sets once and for all; a spec (or caller) that sets one gets an
        error. They are left out of ``defaults`` and of the parameters a spec stores.
    defaults : mapping
        Parameters whose default the preset changes (users may still set them).
    attrs : mapping
        Class-level settings of ``base`` the preset changes (e.g. ``uses_surrogate``,
        ``diagonal``); each must already exist on ``base``.

    Examples
    --------
    >>> from gesbench.ges.guided_es import GuidedES
    >>> row = Preset(GuidedES, "Guided ES that searches isotropically.", fixed={"alpha": 1.0})
    >>> cls = row.build("isotropic_es")
    >>> "alpha" in cls.defaults, cls.defaults["sigma"]
    (False, 0.1)
    """

    base: type[Configurable]
    doc: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    def build(self, name: str, module: str | None = None) -> type[Any]:
        """The preset as a subclass of ``base`` named ``name`` (its instances are the base's,
        configured). ``module`` is where the row is declared (for introspection only)."""
        base = self.base
        if not (isinstance(base, type) and issubclass(base, Configurable)):
            raise TypeError(f"preset {name!r}: base {base!r} is not a problem or optimizer class")
        overlap = set(self.fixed) & set(self.defaults)
        if overlap:
            raise TypeError(f"preset {name!r}: {sorted(overlap)} both fixed and defaulted")
        missing = [a for a in self.attrs if not hasattr(base, a)]
        if missing:
            raise TypeError(f"preset {name!r}: {base.__name__} has no attribute(s) {missing}")
        module = module or base.__module__
        params = with_defaults(
            base.Params,
            {**self.defaults, **self.fixed},
            name=f"{base.Params.__name__}_{name}",
            module=module,
            qualname=f"{name}.Params",
        )
        try:
            values = params()  # the preset's defaults and fixed values pass the base's checks
        except ParameterError as exc:
            raise TypeError(f"preset {name!r}: {exc.detail}") from None
        fixed = {**base.fixed, **{k: values[k] for k in self.fixed}}
        namespace = {
            "__doc__": self._docstring(fixed),
            "__module__": module,
            "__qualname__": name,
            "Params": params,
            "fixed": MappingProxyType(fixed),
            "preset": self,
            **self.attrs,
        }
        return type(name, (base,), namespace)

    def _docstring(self, fixed: Mapping[str, Any]) -> str:
        base = self.base
        parts = []
        if fixed:
            parts.append(", ".join(f"{k} = {v!r}" for k, v in fixed.items()) + " fixed")
        if self.defaults:
            parts.append("defaults " + ", ".join(f"{k} = {v!r}" for k, v in self.defaults.items()))
        if self.attrs:
            parts.append(", ".join(f"{k} = {v!r}" for k, v in self.attrs.items()))
        how = f" ({'; '.join(parts)})" if parts else ""
        note = (
            f"A preset of :class:`{base.__module__}.{base.__qualname__}`{how}; the other "
            "parameters are the base's."
        )
        return f"{self.doc.strip()}\n\n{textwrap.fill(note, 92)}"


class Registry(Generic[T]):
    """Name -> class mapping for one kind of component."""

    def __init__(self, kind: str, group: str, base: type) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self._classes: dict[str, T] = {}  # registered in this process
        self._loaded: dict[str, T] = {}  # provided by entry points loaded so far
        self._provided: dict[tuple[str, str], list[str]] = {}  # entry point -> its names
        self._broken: dict[tuple[str, str], PluginError] = {}
        self._origins: dict[str, EntryPoint] = {}  # name -> the entry point providing it

    # --- entry points -----------------------------------------------------------------------

    def _entry_points(self) -> list[EntryPoint]:
        return list(entry_points(group=self.group))

    def _component(self, name: str, obj: Any, origin: str) -> T:
        """``obj`` (a class or a Preset) checked, as a class."""
        if isinstance(obj, Preset):
            try:
                obj = obj.build(name, origin.partition(":")[0])
            except (TypeError, ParameterError) as exc:
                raise PluginError(f"{self.kind} preset {name!r} ({origin}): {exc}") from exc
        if not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise PluginError(
                f"{self.kind} plugin {name!r} ({origin}) is not a subclass of "
                f"{self.base.__name__}: {obj!r}"
            )
        return obj  # type: ignore[return-value]

    def _provide(self, ep: EntryPoint) -> list[str]:
        """Load ``ep`` once and record what it provides: one component under its own name, or
        every row of a table. Raises PluginError (also on later calls) if it is broken."""
        key = (ep.name, ep.value)
        if key in self._broken:
            raise self._broken[key]
        if key in self._provided:
            return self._provided[key]
        try:
            try:
                obj = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"{self.kind} plugin {ep.name!r} ({ep.value}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if isinstance(obj, Mapping):
                rows = {name: self._component(name, row, ep.value) for name, row in obj.items()}
            else:
                rows = {ep.name: self._component(ep.name, obj, ep.value)}
        except PluginError as exc:
            self._broken[key] = exc
            raise
        for name, cls in rows.items():
            self._loaded.setdefault(name, cls)  # the first entry point to provide a name wins
            self._origins.setdefault(name, ep)
        self._provided[key] = list(rows)
        return self._provided[key]

    def _load_installed(self) -> tuple[dict[str, T], dict[str, str]]:
        """Load every entry point visible now: what they provide by name (the first entry point
        to provide a name wins), and the error of each broken one, by entry-point name."""
        provided: dict[str, T] = {}
        broken: dict[str, str] = {}
        for ep in self._entry_points():
            try:
                names = self._provide(ep)
            except PluginError as exc:
                broken[ep.name] = str(exc)
                continue
            for name in names:
                provided.setdefault(name, self._loaded[name])
        return provided, broken

    # --- in-process registration ------------------------------------------------------------

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@problems.register("my_problem")``."""

        def decorate(cls: T) -> T:
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise TypeError(f"{cls!r} is not a subclass of {self.base.__name__}")
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(f"{self.kind} {name!r} is already registered as {existing!r}")
            self._classes[name] = cls
            return cls

        return decorate

    def unregister(self, name: str) -> None:
        """Forget an in-process registration (installed entry points stay visible)."""
        self._classes.pop(name, None)

    @contextmanager
    def registered(self, name: str, cls: T) -> Iterator[T]:
        """Register ``cls`` as ``name`` only inside a ``with`` block (tests, contract checks)."""
        fresh = name not in self._classes
        self.register(name)(cls)
        try:
            yield cls
        finally:
            if fresh:
                self.unregister(name)

    # --- lookup -----------------------------------------------------------------------------

    def installed(self) -> list[str]:
        """Names provided by installed packages' entry points (the built-ins among them):
        every row of a table, and the entry point's own name for a plugin that is broken."""
        provided, broken = self._load_installed()
        return sorted(set(provided) | set(broken))

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self.installed()))

    def get(self, name: str) -> T:
        """The class registered as ``name``; unknown names fail with close matches.

        Entry points are loaded only as needed: the one named ``name`` first (a table is
        conventionally named after one of its rows' modules), then the others until one
        provides ``name``.
        """
        if name in self._classes:
            return self._classes[name]
        if name in self._loaded:
            return self._loaded[name]
        eps = sorted(self._entry_points(), key=lambda ep: ep.name != name)
        for ep in eps:
            try:
                self._provide(ep)
            except PluginError:
                if ep.name == name:
                    raise
                continue
            if name in self._loaded:
                return self._loaded[name]
        raise UnknownNameError(self.kind, name, self.names())

    def origin(self, name: str) -> dict[str, Any]:
        """Where ``name`` comes from: the distribution (and version) whose entry point provides
        it, with ``builtin`` true for gesbench's own; ``distribution`` None for a class
        registered in this process."""
        if name in self._classes:
            return {"distribution": None, "version": None, "builtin": False}
        self.get(name)
        ep = self._origins[name]
        # read only when asked (a run's description): parsing a distribution's metadata took
        # each worker process a few milliseconds per entry point before its first trial
        dist = ep.dist
        distribution = dist.metadata["Name"] if dist is not None else None
        return {
            "distribution": distribution,
            "version": dist.version if dist is not None else None,
            "entry_point": f"{ep.name} = {ep.value}",
            "builtin": distribution == "gesbench",
        }

    def describe(self, name: str) -> dict[str, Any]:
        """``name`` as data (what ``gesbench list --json`` shows and a run stores): its summary
        line, declared parameters (type, default, constraint, doc), the defaults a user can
        change, what a preset fixes, whether it uses the surrogate, and its origin."""
        cls: Any = self.get(name)
        doc = (cls.__doc__ or "").strip()
        return {
            "summary": doc.splitlines()[0] if doc else "",
            "parameters": {
                key: {
                    "type": info.type_name,
                    "default": info.default,
                    "constraint": info.constraints.describe(),
                    "doc": info.doc,
                }
                for key, info in cls.Params.describe().items()
                if key not in cls.fixed
            },
            "defaults": dict(cls.defaults),
            "fixed": dict(cls.fixed),
            "uses_surrogate": bool(getattr(cls, "uses_surrogate", False)),
            "origin": self.origin(name),
        }

    def load_all(self) -> tuple[dict[str, T], dict[str, str]]:
        """Every loadable class by name, and an error message for each broken plugin (by its
        entry point's name)."""
        provided, broken = self._load_installed()
        loaded = {**provided, **self._classes}
        return {name: loaded[name] for name in sorted(loaded)}, broken

    def create(self, name: str, params: Mapping[str, Any], **kwargs: Any) -> Any:
        """Instantiate ``name`` with ``params`` (validated by the class) and ``kwargs``."""
        return self.get(name)(**kwargs, **params)


problems: Registry[type[Problem]] = Registry("problem", "gesbench.problems", Problem)
optimizers: Registry[type[Optimizer]] = Registry("optimizer", "gesbench.optimizers", Optimizer)
register_problem = problems.register
register_optimizer = optimizers.register
