"""Typed parameter declarations for problems and optimizers, and their validation.

A component declares its parameters once, as a frozen dataclass deriving from :class:`Params`
whose fields give each parameter's type, default, constraints and meaning::

    @dataclass(frozen=True)
    class MyParams(Params):
        n: int = param(100, ge=1, doc="dimension")
        sigma: float = param(0.1, gt=0, doc="perturbation scale")
        rule: str = param("sgd", choices=("sgd", "adam"))
        alignment: float | None = param(None, gt=0, le=1)

        def validate(self) -> None:  # optional cross-field checks; never mutates
            if self.n < 2 and self.rule == "adam":
                invalid("rule", "adam needs n >= 2")

and names it on the component (``Params = MyParams``). Components then read typed attributes
(``self.params.sigma``). Building a ``Params`` checks everything (see :meth:`Params.__post_init__`),
so an invalid value can never reach a component:

- types: ints are accepted for float fields and stored as floats (``sigma = 1`` and
  ``sigma = 1.0`` are the same trial); bools are never numbers; ``None`` only where the type is
  Optional;
- finiteness (a NaN or infinite value cannot be hashed into a trial id);
- the declared constraints (``ge``, ``gt``, ``le``, ``lt``, ``choices``);
- the cross-field :meth:`Params.validate` hook.

Failures raise :class:`ParameterError` (a :class:`~gesbench.core.errors.HyperparameterError`)
whose ``field`` names the parameter and whose message names the component and the field.

A ``Params`` instance is also a read-only mapping ``{name: value}`` of every parameter, so
``params["sigma"]`` and ``dict(params)`` work; :meth:`Params.as_dict` is the plain dict that
specs store and trial ids hash. Third-party components may instead declare a plain ``defaults``
mapping; :func:`params_from_defaults` derives a declaration from it (types from the default
values), see :class:`Configurable`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, NoReturn, Self

import numpy as np

from gesbench.core.errors import HyperparameterError, did_you_mean

_META_KEY = "gesbench"


@dataclass(frozen=True)
class Constraints:
    """What a field's metadata records about its admissible values (see :func:`param`)."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""
    stored_at_default: bool = True
    """False: left out of a spec's stored parameters, hence of trial ids, at its default (for
    a parameter added later, whose default keeps the earlier behaviour and ids)."""

    def describe(self) -> str:
        """The constraint as text, e.g. ``in [0, 1)``, ``> 0`` or ``one of sgd, adam`` ('')."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        low = (f"[{self.ge!r}", self.ge) if self.ge is not None else (f"({self.gt!r}", self.gt)
        high = (f"{self.le!r}]", self.le) if self.le is not None else (f"{self.lt!r})", self.lt)
        if low[1] is not None and high[1] is not None:
            return f"in {low[0]}, {high[0]}"
        for op, bound in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt)):
            if bound is not None:
                return f"{op} {bound!r}"
        return ""

    def violated(self, value: Any) -> bool:
        """Whether ``value`` (already of the field's type) breaks a constraint."""
        if value is None:
            return False
        if self.choices is not None and value not in self.choices:
            return True
        if not isinstance(value, int | float):
            return False
        return (
            (self.ge is not None and not value >= self.ge)
            or (self.gt is not None and not value > self.gt)
            or (self.le is not None and not value <= self.le)
            or (self.lt is not None and not value < self.lt)
        )


def param(
    default: Any,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
    stored_at_default: bool = True,
) -> Any:
    """A :class:`Params` field: its default, bounds (inclusive ``ge``/``le``, exclusive
    ``gt``/``lt``), admissible ``choices`` and a one-line ``doc``. ``stored_at_default=False``
    leaves it out of the stored parameters (so of trial ids) while it has its default."""
    meta = {
        _META_KEY: Constraints(
            ge, gt, le, lt, None if choices is None else tuple(choices), doc, stored_at_default
        )
    }
    if default.__class__.__hash__ is None:  # lists, dicts: a fresh copy per instance
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class ParameterError(HyperparameterError):
    """An unknown, mistyped, non-finite or out-of-range parameter.

    Attributes
    ----------
    owner : str
        The component ('guided_es', 'PerturbedQuadratic'), '' when not known yet.
    field : str or None
        The parameter at fault (None when the failure concerns no single field).
    detail : str
        The message without the owner, e.g. ``n must be >= 1, got -5``.
    """

    def __init__(self, detail: str, *, field: str | None = None, owner: str = "") -> None:
        super().__init__(f"{owner}: {detail}" if owner else detail)
        self.detail, self.field, self.owner = detail, field, owner

    def with_owner(self, owner: str) -> ParameterError:
        """The same error, attributed to ``owner``."""
        return ParameterError(self.detail, field=self.field, owner=owner)


DTYPES = ("float64", "float32")
"""The floating-point precisions a ``dtype`` parameter (:func:`dtype_param`) offers."""


def dtype_param() -> Any:
    """The ``dtype`` field of components that compute in float64 (the default) or float32.

    Left out of stored parameters at its default, so adding it to a component kept the ids
    (hence seeds and numbers) of its earlier float64 trials.
    """
    return param(
        "float64",
        choices=DTYPES,
        doc="precision of the arithmetic (float32: faster, ~1e-7 relative rounding)",
        stored_at_default=False,
    )


def invalid(field: str, reason: str) -> NoReturn:
    """Raise :class:`ParameterError` for ``field``: ``invalid("K", "must be <= T = 10, got 12")``
    gives the message ``K must be <= T = 10, got 12``. For :meth:`Params.validate` hooks."""
    raise ParameterError(f"{field} {reason}", field=field)


def require(condition: bool, owner: str, message: str) -> None:
    """Raise :class:`HyperparameterError` with ``owner: message`` unless ``condition`` holds.

    For checks that need more than the parameters (e.g. Guided ES's ``k <= n`` at ``start``);
    checks of the parameters alone belong in the declaration.
    """
    if not condition:
        raise HyperparameterError(f"{owner}: {message}")


# --- field schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamInfo:
    """One declared parameter, as :meth:`Params.describe` reports it."""

    name: str
    hint: Any
    default: Any
    constraints: Constraints

    @property
    def type_name(self) -> str:
        return _type_name(self.hint)

    @property
    def doc(self) -> str:
        return self.constraints.doc


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``(X, True)`` for ``X | None`` / ``Optional[X]``, else ``(hint, False)``."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) < len(typing.get_args(hint)):
            inner = args[0] if len(args) == 1 else typing.Union[tuple(args)]  # noqa: UP007
            return inner, True
    return hint, False


def _type_name(hint: Any) -> str:
    inner, optional = _unwrap_optional(hint)
    if inner is Any:
        return "any value"
    if typing.get_origin(inner) is typing.Literal:
        name = "one of " + ", ".join(repr(a) for a in typing.get_args(inner))
    elif typing.get_origin(inner) in (typing.Union, types.UnionType):
        name = " or ".join(_type_name(a) for a in typing.get_args(inner))
    else:
        base = typing.get_origin(inner) or inner
        name = getattr(base, "__name__", str(base))
    return f"{name} or None" if optional else name


_RESERVED = frozenset(dir(Mapping)) | {"as_dict", "describe", "validate", "default_values"}


@cache
def _schema(cls: type[Params]) -> dict[str, ParamInfo]:
    """Every field of ``cls`` in declaration order: the fields introduced by the most derived
    class first (so a component's own parameters come before shared ones, e.g. the update
    rule's), each group in dataclass order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__qualname__} must be a dataclass (@dataclass(frozen=True))")
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable string annotations: fall back to what the field says
        hints = {}
    fields = dataclasses.fields(cls)
    introduced = {}
    for f in fields:
        owners = [k for k in cls.__mro__ if f.name in getattr(k, "__annotations__", {})]
        introduced[f.name] = len(cls.__mro__) - cls.__mro__.index(owners[-1]) if owners else 0
    out: dict[str, ParamInfo] = {}
    for f in sorted(fields, key=lambda f: -introduced[f.name]):
        if f.name in _RESERVED or f.name.startswith("_"):
            raise TypeError(f"{cls.__qualname__}: {f.name!r} cannot be a parameter name")
        hint = hints.get(f.name, f.type if not isinstance(f.type, str) else Any)
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            raise TypeError(f"{cls.__qualname__}: parameter {f.name!r} needs a default")
        constraints = f.metadata.get(_META_KEY, Constraints())
        out[f.name] = ParamInfo(f.name, hint, default, constraints)
    return out


# --- type checks ----------------------------------------------------------------------------


def _matches(hint: Any, value: Any) -> tuple[bool, Any]:
    """Whether ``value`` has type ``hint`` (ints widen to float; bools are never numbers), and
    the value to store (numpy scalars become Python ones, so specs stay JSON)."""
    if hint is Any:
        return True, value
    is_bool = isinstance(value, bool | np.bool_)
    if hint is bool:
        return is_bool, bool(value) if is_bool else value
    if hint is int:
        ok = isinstance(value, numbers.Integral) and not is_bool
        return ok, int(value) if ok else value
    if hint is float:
        if not isinstance(value, numbers.Real) or is_bool:
            return False, value
        try:
            return True, float(value)
        except OverflowError:  # an int too large for a float: refused as not finite
            return True, math.inf
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return value in typing.get_args(hint) and not isinstance(value, bool), value
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            ok, stored = _matches(arg, value)
            if ok:
                return True, stored
        return False, value
    base = origin or hint
    if isinstance(base, type):
        return isinstance(value, base), value
    return True, value  # an annotation we cannot check (e.g. a TypeVar)


def _all_finite(value: Any) -> bool:
    """False if ``value`` is or contains a NaN or infinite float (trial ids cannot hash them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list | tuple):
        return all(_all_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    return True


def check_value(info: ParamInfo, value: Any) -> Any:
    """``value`` checked against ``info`` (type, finiteness, constraints) and converted to the
    field's type; raises :class:`ParameterError` naming the field."""
    inner, optional = _unwrap_optional(info.hint)
    name = info.name
    if value is None:
        if optional or inner is Any:
            return None
        raise ParameterError(
            f"parameter {name!r} expects {_type_name(info.hint)}, got None", field=name
        )
    ok, stored = _matches(inner, value)
    if not ok:
        raise ParameterError(
            f"parameter {name!r} expects {_type_name(info.hint)}, got {value!r} "
            f"({type(value).__name__})",
            field=name,
        )
    if not _all_finite(stored):
        raise ParameterError(f"parameter {name!r} must be finite, got {value!r}", field=name)
    c = info.constraints
    if c.violated(stored):
        hint = ""
        if c.choices is not None and isinstance(stored, str):
            hint = did_you_mean(stored, [str(x) for x in c.choices])
        raise ParameterError(
            f"{name} must be {c.describe()}, got {stored!r}" + (f".{hint}" if hint else ""),
            field=name,
        )
    return stored


# --- the declaration base class -------------------------------------------------------------


@dataclass(frozen=True)
class Params(Mapping[str, Any]):
    """Base class of parameter declarations (a frozen dataclass per component).

    Construction checks every field (types, finiteness, constraints) and then calls
    :meth:`validate`. Instances are immutable and read like a mapping of every parameter.
    """

    def __post_init__(self) -> None:
        for info in _schema(type(self)).values():
            value = getattr(self, info.name)
            stored = check_value(info, value)
            if stored is not value:
                object.__setattr__(self, info.name, stored)  # e.g. 1 -> 1.0, at construction
        self.validate()

    def validate(self) -> None:
        """Cross-field checks; raise with :func:`invalid`. Must not change anything."""

    # the read-only mapping view
    def __getitem__(self, name: str) -> Any:
        if name not in _schema(type(self)):
            raise KeyError(name)
        return getattr(self, name)

    def __iter__(self) -> Iterator[str]:
        return iter(_schema(type(self)))

    def __len__(self) -> int:
        return len(_schema(type(self)))

    def as_dict(self) -> dict[str, Any]:
        """``{name: value}`` of every parameter (what specs store and trial ids hash)."""
        return {name: getattr(self, name) for name in _schema(type(self))}

    @classmethod
    def describe(cls) -> dict[str, ParamInfo]:
        """Every declared parameter: type, default, constraints and doc, in declaration order."""
        return dict(_schema(cls))

    @classmethod
    def default_values(cls) -> dict[str, Any]:
        """``{name: default}`` of every parameter."""
        return {name: info.default for name, info in _schema(cls).items()}

    @classmethod
    def resolve(
        cls, given: Mapping[str, Any], *, owner: str = "", fixed: Mapping[str, Any] | None = None
    ) -> Self:
        """Check ``given`` (unknown names with suggestions, then every field) and fill in the
        defaults. Names in ``fixed`` are refused: a preset sets them."""
        fixed = fixed or {}
        names = [n for n in _schema(cls) if n not in fixed]
        for name in given:
            if name in fixed:
                raise ParameterError(
                    f"parameter {name!r} is fixed to {fixed[name]!r} in {owner or cls.__name__} "
                    "and cannot be set",
                    field=name,
                    owner=owner,
                )
            if name not in names:
                raise ParameterError(
                    f"unknown parameter {name!r}.{did_you_mean(str(name), names)} "
                    f"Parameters: {', '.join(names) or '(none)'}",
                    field=str(name),
                    owner=owner,
                )
        try:
            return cls(**given)
        except ParameterError as exc:
            raise exc.with_owner(owner or exc.owner) from None


def infer_hint(value: Any) -> Any:
    """The type a plain ``defaults`` entry declares: that of its value (None: any value)."""
    if value is None:
        return Any
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return float
    return type(value)


def with_defaults(
    cls: type[Params], new: Mapping[str, Any], *, name: str, module: str, qualname: str
) -> type[Params]:
    """A subclass of ``cls`` whose fields keep their types and constraints but default to
    ``new`` (each checked against its field; unknown names raise TypeError)."""
    schema = _schema(cls)
    fields = []
    for key, value in new.items():
        if key not in schema:
            raise TypeError(f"{cls.__qualname__} has no parameter {key!r}")
        info = schema[key]
        try:
            value = check_value(info, value)
        except ParameterError as exc:
            raise TypeError(f"{qualname}: default of {exc.detail}") from None
        fields.append((key, info.hint, _field_like(value, info.constraints)))
    return _make(name, fields, cls, module, qualname)


def _field_like(default: Any, constraints: Constraints) -> Any:
    meta = {_META_KEY: constraints}
    if default.__class__.__hash__ is None:
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _make(
    name: str, fields: list[tuple[str, Any, Any]], base: type[Params], module: str, qualname: str
) -> type[Params]:
    made = dataclasses.make_dataclass(
        name,
        fields,
        bases=(base,),
        frozen=True,
        namespace={"__module__": module, "__qualname__": qualname},
    )
    _schema(made)  # fail now, at declaration, on a bad field
    return made


def params_from_defaults(
    owner: type, defaults: Mapping[str, Any], parent: type[Params]
) -> type[Params]:
    """Derive a declaration from a plain ``defaults`` mapping (third-party components).

    Each type is that of its default (an int default makes an int parameter, None admits any
    value). Names the ``parent`` declaration already has keep its type and constraints; when
    the mapping has all of them, the result subclasses ``parent`` (and keeps its ``validate``).
    """
    if not isinstance(defaults, Mapping):
        raise TypeError(f"{owner.__qualname__}.defaults must be a mapping, got {defaults!r}")
    schema = _schema(parent)
    base = parent if all(n in defaults for n in schema) else Params
    fields = []
    for key, value in defaults.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise TypeError(f"{owner.__qualname__}.defaults: {key!r} is not a valid name")
        if key in schema:
            info = schema[key]
            try:
                value = check_value(info, value)
            except ParameterError as exc:
                raise TypeError(f"{owner.__qualname__}.defaults: {exc.detail}") from None
            fields.append((key, info.hint, _field_like(value, info.constraints)))
        else:
            fields.append((key, infer_hint(value), _field_like(value, Constraints())))
    return _make(
        f"{owner.__name__}Params", fields, base, owner.__module__, f"{owner.__qualname__}.Params"
    )


_Declaration = Params  # the base, under a name the class attribute ``Params`` cannot shadow


class Configurable:
    """What problems and optimizers share: a parameter declaration and its checks.

    A component names its declaration in ``Params`` (a :class:`Params` dataclass) or, the older
    way, gives a plain ``defaults`` mapping from which one is derived. Either way the class
    then offers ``defaults``: a read-only mapping ``{name: default}`` of the parameters a user
    can set. ``fixed`` holds the parameters a preset (see :class:`gesbench.core.registry.Preset`)
    fixed: they keep their values and cannot be set.
    """

    Params: ClassVar[type[_Declaration]] = _Declaration
    defaults: ClassVar[Mapping[str, Any]] = types.MappingProxyType({})
    fixed: ClassVar[Mapping[str, Any]] = types.MappingProxyType({})
    preset: ClassVar[object | None] = None
    """The :class:`~gesbench.core.registry.Preset` row a class was built from, if any."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "defaults" in own and "Params" in own:
            raise TypeError(
                f"{cls.__qualname__}: declare the parameters once, as Params or as defaults"
            )
        if "defaults" in own:
            cls.Params = params_from_defaults(cls, own["defaults"], cls.Params)
        declared = cls.Params
        if not (isinstance(declared, type) and issubclass(declared, _Declaration)):
            raise TypeError(f"{cls.__qualname__}.Params must be a subclass of Params")
        schema = _schema(declared)
        unknown = [k for k in cls.fixed if k not in schema]
        if unknown:
            raise TypeError(f"{cls.__qualname__}: fixed parameter(s) {unknown} are not declared")
        cls.defaults = types.MappingProxyType(
            {k: info.default for k, info in schema.items() if k not in cls.fixed}
        )

    @classmethod
    def resolve_params(cls, given: Mapping[str, Any], *, owner: str | None = None) -> _Declaration:
        """The checked, complete parameters (fixed ones included) for user values ``given``.

        Raises :class:`ParameterError` naming ``owner`` (the class name by default) and the field.
        """
        return cls.Params.resolve(given, owner=owner or cls.__name__, fixed=cls.fixed)

    @classmethod
    def params_dict(cls, given: Mapping[str, Any], *, owner: str | None = None) -> dict[str, Any]:
        """Like :meth:`resolve_params`, as the plain dict a spec stores: every user-settable
        parameter, defaults filled in (fixed ones left out, and those declared
        ``stored_at_default=False`` while at their default)."""
        resolved = cls.resolve_params(given, owner=owner)
        schema = _schema(type(resolved))
        return {
            k: v
            for k, v in resolved.as_dict().items()
            if k not in cls.fixed
            and (schema[k].constraints.stored_at_default or v != schema[k].default)
        }
