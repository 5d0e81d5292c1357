"""Registries of problems and optimizers.

Two ways in, one lookup: the :meth:`Registry.register` decorator for classes defined in the
running process, and the entry-point groups ``gesbench.problems`` / ``gesbench.optimizers`` for
installed packages (the built-ins use entry points too). Entry points load lazily, so asking
for one optimizer does not import every plugin's dependencies; a plugin that fails to load is
reported by name and does not hide the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from gesbench.core.errors import PluginError, UnknownNameError
from gesbench.core.optimizer import Optimizer
from gesbench.core.problem import Problem

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Name -> class mapping for one kind of component."""

    def __init__(self, kind: str, group: str, base: type) -> None:
        self.kind = kind
        self.group = group
        self.base = base
        self._classes: dict[str, T] = {}

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

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

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self._entry_points()))

    def installed(self) -> list[str]:
        """Names provided by installed packages' entry points (the built-ins among them)."""
        return sorted(self._entry_points())

    def get(self, name: str) -> T:
        """The class registered as ``name``; unknown names fail with close matches."""
        if name in self._classes:
            return self._classes[name]
        eps = self._entry_points()
        if name not in eps:
            raise UnknownNameError(self.kind, name, self.names())
        try:
            cls = eps[name].load()
        except Exception as exc:
            raise PluginError(
                f"{self.kind} plugin {name!r} ({eps[name].value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return self.register(name)(cls)

    def load_all(self) -> tuple[dict[str, T], dict[str, str]]:
        """Every loadable class by name, and an error message for each broken plugin."""
        loaded: dict[str, T] = {}
        broken: dict[str, str] = {}
        for name in self.names():
            try:
                loaded[name] = self.get(name)
            except (PluginError, TypeError) as exc:
                broken[name] = str(exc)
        return loaded, broken

    def create(self, name: str, params: Mapping[str, Any], **kwargs: Any) -> Any:
        """Instantiate ``name`` with ``params`` (validated by the class) and ``kwargs``."""
        return self.get(name)(**kwargs, **params)


problems: Registry[type[Problem]] = Registry("problem", "gesbench.problems", Problem)
optimizers: Registry[type[Optimizer]] = Registry("optimizer", "gesbench.optimizers", Optimizer)
register_problem = problems.register
register_optimizer = optimizers.register
