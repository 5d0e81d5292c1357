"""The problem contract: properties every registered problem must have.

``check_problem`` builds the problem a few times and checks shapes, determinism by seed,
immutability, batched evaluation, finiteness at ``x0``, the surrogate's shape and its use of
the generator it is given, that ``final_metrics`` gives floats, and that nothing touches the
global random state. A plugin's own
test suite can call it::

    from gesbench.testing import check_problem

    def test_my_problem_contract():
        check_problem(MyProblem, {"n": 10})
"""

from __future__ import annotations

import hashlib
import pickle
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from gesbench.core.problem import Array, Problem
from gesbench.core.registry import problems
from gesbench.core.shapes import ShapeError, check_loss_values, check_surrogate

__all__ = ["check_problem"]


class ContractError(AssertionError):
    """A problem broke the contract; the message names the problem and the property."""


def _fail(name: str, message: str) -> None:
    raise ContractError(f"{name}: {message}")


def _shape(name: str, check: Callable[..., object], *args: Any) -> None:
    """Apply one of the shape rules every caller shares (:mod:`gesbench.core.shapes`), as a
    contract failure naming the rule."""
    try:
        check(*args)
    except ShapeError as exc:
        _fail(name, str(exc))


def _global_state() -> bytes:
    """numpy's and Python's global random states, serialised for comparison."""
    numpy_state = np.random.get_state(legacy=False)  # noqa: NPY002 - inspected, never used
    return pickle.dumps((numpy_state, random.getstate()))


@contextmanager
def _global_rng_untouched(name: str, what: str) -> Iterator[None]:
    """Fail if the block draws from numpy's or Python's global random state."""
    before = _global_state()
    yield
    if _global_state() != before:
        _fail(name, f"{what} used the global random state; use the Generator passed in")


def _fingerprint(problem: Problem) -> str:
    """Hash of every array attribute, to detect a problem that mutates itself."""
    h = hashlib.sha256()
    for key in sorted(vars(problem)):
        value = vars(problem)[key]
        if isinstance(value, np.ndarray):
            h.update(key.encode())
            h.update(np.ascontiguousarray(value).tobytes())
    return h.hexdigest()


def _probe_points(problem: Problem, count: int) -> Array:
    """``x0`` plus small fixed-seed perturbations (the scale of a typical search step)."""
    rng = np.random.default_rng(12345)
    scale = 0.01 * max(1.0, float(np.abs(problem.x0).max()))
    return problem.x0 + scale * rng.standard_normal((count, problem.dim))


def check_problem(
    name_or_class: str | type[Problem],
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    batch: int = 5,
    rtol: float = 1e-9,
) -> None:
    """Check that a problem honours the :class:`~gesbench.core.problem.Problem` contract.

    Parameters
    ----------
    name_or_class : str or Problem subclass
        A registered problem name, or the class itself.
    params : mapping, optional
        Parameters to build it with (its defaults otherwise); keep them small for speed.
    seed : int
        Instance seed used for the builds.
    batch : int
        Number of probe points for the batched-versus-row-by-row comparison.
    rtol : float
        Relative tolerance for batched versus row-by-row loss values.

    Raises
    ------
    ContractError
        (an ``AssertionError``) naming the first property that fails.
    """
    cls = problems.get(name_or_class) if isinstance(name_or_class, str) else name_or_class
    name = getattr(cls, "__name__", str(name_or_class))
    if not (isinstance(cls, type) and issubclass(cls, Problem)):
        _fail(name, "is not a subclass of gesbench.core.problem.Problem")
    params = dict(params or {})

    with _global_rng_untouched(name, "building the problem"):
        problem = cls(np.random.default_rng(seed), **params)
        twin = cls(np.random.default_rng(seed), **params)

    if not isinstance(problem.dim, int | np.integer) or problem.dim < 1:
        _fail(name, f"dim must be a positive int, got {problem.dim!r}")
    x0 = np.asarray(problem.x0)
    if x0.shape != (problem.dim,):
        _fail(name, f"x0 must have shape ({problem.dim},), got {x0.shape}")
    if x0.flags.writeable:
        _fail(name, "x0 must be read-only (build it with gesbench.core.problem.frozen)")
    if problem.f_star is not None and not np.isfinite(problem.f_star):
        _fail(name, f"f_star must be finite or None, got {problem.f_star!r}")

    if twin.dim != problem.dim or not np.array_equal(twin.x0, problem.x0):
        _fail(name, "two builds with the same seed differ in dim or x0")
    if twin.f_star != problem.f_star:
        _fail(name, f"two builds with the same seed have f_star {problem.f_star} != {twin.f_star}")

    X = _probe_points(problem, batch)
    X_copy = X.copy()
    fingerprint = _fingerprint(problem)
    with _global_rng_untouched(name, "loss"):
        at_x0 = np.asarray(problem.loss(problem.x0[None, :]))
        batched = np.asarray(problem.loss(X))
        rows = np.array([np.asarray(problem.loss(x[None, :])).reshape(-1)[0] for x in X])
    _shape(name, check_loss_values, at_x0, 1, "loss(x0[None])")
    _shape(name, check_loss_values, batched, batch, f"loss of a ({batch}, {problem.dim}) batch")
    if not np.isfinite(at_x0).all():
        _fail(name, f"loss(x0[None]) must be one finite value, got {at_x0!r}")
    if not np.isfinite(batched).all():
        _fail(name, "loss is not finite near x0")
    if not np.array_equal(X, X_copy):
        _fail(name, "loss modified its input")
    if not np.allclose(batched, rows, rtol=rtol, atol=rtol * np.abs(rows).max()):
        _fail(name, f"batched loss {batched} differs from row-by-row loss {rows}")
    if not np.array_equal(twin.loss(X), batched):
        _fail(name, "two builds with the same seed give different losses")
    if problem.f_star is not None and problem.f_star > at_x0[0] + 1e-9 * abs(at_x0[0]):
        _fail(name, f"f_star {problem.f_star} exceeds the loss at x0 {at_x0[0]}")

    x = X[0]
    with _global_rng_untouched(name, "surrogate_grad"):
        g = np.asarray(problem.surrogate_grad(x, np.random.default_rng(seed)))
        g_twin = np.asarray(twin.surrogate_grad(x, np.random.default_rng(seed)))
    _shape(name, check_surrogate, g, problem.dim, "surrogate_grad")
    if not np.isfinite(g).all():
        _fail(name, "surrogate_grad is not finite near x0")
    if not np.array_equal(g, g_twin):
        _fail(name, "surrogate_grad is not determined by the instance seed and the rng given")
    if not np.array_equal(X[0], X_copy[0]):
        _fail(name, "surrogate_grad modified its input")

    if problem.has_true_grad:
        with _global_rng_untouched(name, "true_grad"):
            d = np.asarray(problem.true_grad(x))
        if d.shape != (problem.dim,) or not np.isfinite(d).all():
            _fail(name, f"true_grad must be finite with shape ({problem.dim},)")

    with _global_rng_untouched(name, "final_metrics"):
        for point in (np.array(problem.x0), X[0]):
            _check_final_metrics(name, problem.final_metrics(point))

    if _fingerprint(problem) != fingerprint:
        _fail(name, "the problem's arrays changed after loss/surrogate calls (must be immutable)")


def _check_final_metrics(name: str, metrics: object) -> None:
    """``final_metrics`` gives ``{str: float}``: what the store keeps, exactly (an int or a
    numpy scalar other than float64 is converted when stored; better to return floats)."""
    if not isinstance(metrics, Mapping):
        _fail(name, f"final_metrics must return a dict of str -> float, got {metrics!r:.80}")
        return
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            _fail(name, f"final_metrics keys must be non-empty strings, got {key!r}")
        if not isinstance(value, float):
            _fail(
                name,
                f"final_metrics[{key!r}] is {type(value).__name__} {value!r:.60}; final metrics "
                "must be floats (return float(...))",
            )
