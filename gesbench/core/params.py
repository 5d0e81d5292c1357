"""Resolve user-given parameters against a component's declared defaults.

Problems and optimizers declare their parameters once, as a ``defaults`` mapping; this module
checks names (with suggestions), types (ints are accepted where floats are expected and stored
as floats, so ``sigma = 1`` and ``sigma = 1.0`` are the same trial) and fills in defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gesbench.core.errors import HyperparameterError, did_you_mean


def _type_name(value: Any) -> str:
    return type(value).__name__


def coerce(owner: str, name: str, default: Any, value: Any) -> Any:
    """Return ``value`` converted to the type of ``default`` or raise a clear error."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok:
            value = float(value)
    elif default is None:
        ok = True
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise HyperparameterError(
            f"{owner}: parameter {name!r} expects {_type_name(default)}, "
            f"got {value!r} ({_type_name(value)})"
        )
    if not _all_finite(value):
        raise HyperparameterError(f"{owner}: parameter {name!r} must be finite, got {value!r}")
    return value


def _all_finite(value: Any) -> bool:
    """False if ``value`` is or contains a NaN or infinite float (trial ids cannot hash them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True


def resolve(owner: str, defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``given`` into ``defaults`` after checking names and types."""
    unknown = [k for k in given if k not in defaults]
    if unknown:
        name = unknown[0]
        raise HyperparameterError(
            f"{owner}: unknown parameter {name!r}.{did_you_mean(name, defaults)} "
            f"Parameters: {', '.join(defaults)}"
        )
    resolved = dict(defaults)
    for name, value in given.items():
        resolved[name] = coerce(owner, name, defaults[name], value)
    return resolved


def require(condition: bool, owner: str, message: str) -> None:
    """Raise :class:`HyperparameterError` with ``owner: message`` unless ``condition`` holds."""
    if not condition:
        raise HyperparameterError(f"{owner}: {message}")
