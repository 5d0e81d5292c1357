"""Nevergrad's evolution-strategy family, adapted to the step/oracle interface.

One adapter, :class:`NevergradES`, drives a Nevergrad optimizer; each row of :data:`FAMILY`
(what it builds in Nevergrad, the smallest dimension, whether it keeps the best recommendation,
what it recommends, a description) becomes a preset registered as its own optimizer (``ng_*``),
so each shows in ``gesbench list``. Every row is one fixed algorithm: a registered Nevergrad
optimizer that is itself a fixed configuration, or a configuration stated here (Nevergrad's
``ParametrizedCMA`` with its settings); Nevergrad's ``CMA``, which chooses a variant from the
budget, ``num_workers`` and the dimension, is kept under its own name, ``ng_cma_auto``.
Nevergrad is imported only when such an optimizer first steps, so listing optimizers and
running the others never pays for importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import numpy as np

from gesbench.core.errors import BudgetExhausted, HyperparameterError
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import Params, param
from gesbench.core.problem import Array
from gesbench.core.registry import Preset


@dataclass(frozen=True)
class NevergradParams(Params):
    """What the adapter sets for every Nevergrad optimizer."""

    sigma: float = param(
        1.0, gt=0, doc="initial step size per coordinate (ng_cma_auto: times its pick's scale)"
    )
    num_workers: int = param(1, ge=1, doc="candidates asked, evaluated and told per step")


class NevergradES(Optimizer):
    """A Nevergrad optimizer chosen by ``ng_name`` and ``ng_settings`` (set by each preset).

    Parameters
    ----------
    rng : numpy Generator or seed
        Seeds the parametrization's ``random_state`` (a private ``RandomState``), Nevergrad's
        only source of randomness for these optimizers.
    sigma : float
        Initial step size per coordinate. Nevergrad searches ``u`` in its standardized space
        (``ng.p.Array(shape=(n,))``: initial point 0, scale 1) and the adapter evaluates
        ``x = x0 + sigma * u``: the affine map of ``ng.p.Array(init=x0).set_mutation(sigma=
        sigma)``, but exact both ways. So a recommendation is recognised bit for bit as a point
        that was evaluated, and pycma recognises every candidate it sampled (through ``init``
        and ``sigma`` the data Nevergrad tells pycma differ from its samples by rounding, and
        pycma takes many as foreign solutions). Every member starts with unit steps in ``u``, so
        ``sigma`` is the initial standard deviation of a candidate around ``x0``: TBPSA's
        initial mutation scale, pycma's ``sigma0`` for the CMA rows, EDA's initial covariance
        ``sigma^2 I``, and the ES/DE rows' mutation scale (fixed: they do not adapt it). Two
        rows differ: the (1+1)-ES evaluates ``x0`` first, a success that doubles its step, so
        its first mutation has scale ``2 sigma``; and ``ng_cma_auto``'s pick multiplies it by
        its own scale (0.4699 for CMAstd, the usual pick).
    num_workers : int
        Candidates asked per step, evaluated as one batch and then told; Nevergrad sizes the
        populations of its parallel variants by it (and ``ng_cma_auto`` picks by it).

    Notes
    -----
    The Nevergrad optimizer is built at the first step, when the trial's budget is visible
    through the oracle, and is told its total budget
    (:meth:`~gesbench.core.budget.Budget.total_evaluations` at ``num_workers`` evaluations per
    iteration; none under a surrogate-call budget, which such a trial cannot spend: the driver
    stops it after one step). A step asks ``min(num_workers, oracle.remaining_evaluations())``
    candidates, so the budget is never exceeded.

    The recommendation ``x`` follows Nevergrad's ``recommend()``, which differs by member (see
    each row): the best point evaluated over the whole run (the (1+1)-ES and the ES/DE rows),
    the mean of the last selected parents (TBPSA, EDA), or, for the CMA rows, the best point
    evaluated by the current pycma run as of its last complete generation. The CMA rows
    restart pycma from ``x0`` when its stop criteria fire, and their ``recommend()`` then
    forgets the earlier runs (it returns the best point of the restarted run only, back near
    ``f(x0)`` right after a converged run). For them (``keeps_best``) ``x`` is the best of the
    recommendations Nevergrad has made so far, by the loss the adapter measured when it
    evaluated that point: what the library recommended at its best moment, restarts
    included.
    """

    Params = NevergradParams
    params: NevergradParams
    uses_surrogate: ClassVar[bool] = False
    ng_name: ClassVar[str] = ""
    """A registered Nevergrad optimizer, or with ``ng_settings`` a configurable family of
    ``nevergrad.optimizers`` (e.g. ``ParametrizedCMA``); a preset setting."""
    ng_settings: ClassVar[Mapping[str, Any]] = MappingProxyType({})
    """The family's settings (empty: ``ng_name`` is a registered optimizer)."""
    min_dim: ClassVar[int] = 1
    """Smallest dimension the wrapped optimizer supports without extra packages."""
    keeps_best: ClassVar[bool] = False
    """Record the best of Nevergrad's recommendations so far instead of the latest one (for
    optimizers whose restarts make ``recommend()`` forget the earlier runs)."""

    def __init__(self, rng: np.random.Generator | int | None = None, **params: Any) -> None:
        if not self.ng_name:
            raise HyperparameterError(
                f"{type(self).__name__}: ng_name is not set (use a registered ng_* optimizer)"
            )
        super().__init__(rng, **params)

    def start(self, x0: Array) -> None:
        super().start(x0)
        if self.x.size < self.min_dim:
            raise HyperparameterError(
                f"{self.name}: Nevergrad runs its CMA-ES through the optional fcmaes package in "
                f"dimension 1 (pycma is used from dimension {self.min_dim}), got dimension "
                f"{self.x.size}; ng_cma_auto (Nevergrad's CMA) uses its (1+1)-ES there"
            )
        self._x0 = np.array(self.x, copy=True)
        self._ng: Any = None
        # drawn now so the seed does not depend on when the optimizer is first stepped
        self._seed = int(self.rng.integers(2**32))
        self._best = np.inf  # loss of the recorded recommendation (keeps_best)
        self._better: dict[bytes, float] = {}  # evaluated points better than that

    def _build(self, oracle: Oracle) -> Any:
        import nevergrad as ng

        p = self.params
        parametrization = ng.p.Array(shape=(self._x0.size,))
        parametrization.random_state = np.random.RandomState(self._seed)
        if self.ng_settings:
            factory = getattr(ng.optimizers, self.ng_name)(**self.ng_settings)
        else:
            factory = ng.optimizers.registry[self.ng_name]
        return factory(
            parametrization=parametrization,
            budget=oracle.budget.total_evaluations(p.num_workers),
            num_workers=p.num_workers,
        )

    def _point(self, u: Array) -> Array:
        """The problem's point for Nevergrad's standardized ``u``."""
        return self._x0 + self.params.sigma * u

    def step(self, oracle: Oracle) -> None:
        if self._ng is None:
            self._ng = self._build(oracle)
        count = self.params.num_workers
        left = oracle.remaining_evaluations()
        if left is not None:
            count = min(count, left)
        if count <= 0:  # what is left of the budget cannot pay for one evaluation
            raise BudgetExhausted
        candidates = [self._ng.ask() for _ in range(count)]
        values = oracle.loss(self._point(np.stack([c.value for c in candidates])))
        for candidate, value in zip(candidates, values, strict=True):
            self._ng.tell(candidate, float(value))
            if self.keeps_best and value < self._best:
                self._better[_key(candidate.value)] = float(value)
        recommended = np.asarray(self._ng.recommend().value, dtype=float)
        if not self.keeps_best:
            self.x = self._point(recommended)
            return
        loss = self._better.get(_key(recommended))
        if loss is not None and loss < self._best:
            self._best = loss
            self.x = self._point(recommended)
            self._better = {k: v for k, v in self._better.items() if v < loss}


def _key(u: Array) -> bytes:
    """Exact identity of a standardized point (+0.0 folds -0.0 into 0.0)."""
    return (np.asarray(u, dtype=float) + 0.0).tobytes()


class Member(NamedTuple):
    """One optimizer of the family.

    ``ng_name`` is a registered Nevergrad optimizer or, with ``settings``, a configurable family
    of ``nevergrad.optimizers`` built as ``family(**settings)``; ``min_dim`` the smallest
    dimension it supports without extra packages; ``keeps_best`` whether ``x`` is the best of
    Nevergrad's recommendations so far (see :class:`NevergradES`); ``recommends`` what ``x``
    is; ``doc`` a description whose first line is its summary.
    """

    ng_name: str
    settings: Mapping[str, Any]
    min_dim: int
    keeps_best: bool
    recommends: str
    doc: str


BEST = "the best point evaluated over the whole run (Nevergrad's recommend())"
MEAN = "the mean of the last selected parents (Nevergrad's recommend()), not an evaluated point"
CMA_BEST = (
    "the best point evaluated, kept across restarts: the best of Nevergrad's recommendations so\n"
    "far (each is the best point of the current pycma run)"
)
CMA_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        "scale": 1.0,
        "popsize_factor": 3.0,
        "elitist": False,
        "diagonal": False,
        "high_speed": False,
        "random_init": False,
    }
)
"""``ParametrizedCMA`` settings of ``ng_cma`` (Nevergrad's defaults, its ``OldCMA``)."""
NO_SETTINGS: Mapping[str, Any] = MappingProxyType({})

FAMILY: Mapping[str, Member] = {
    "ng_one_plus_one": Member(
        "OnePlusOne",
        NO_SETTINGS,
        1,
        False,
        BEST,
        "(1+1)-ES with one-fifth-rule step-size adaptation.\n\n"
        "It evaluates x0 first, a success that doubles its step: its first mutation is 2 sigma.",
    ),
    "ng_cma": Member(
        "ParametrizedCMA",
        CMA_SETTINGS,
        2,
        True,
        CMA_BEST,
        "full-covariance CMA-ES (pycma) with restarts, initial step sigma.\n\n"
        "``ParametrizedCMA(scale=1, popsize_factor=3, elitist=False, diagonal=False)``\n"
        "(Nevergrad's OldCMA): population max(num_workers, 4 + floor(3 ln n)), comma selection,\n"
        "restarted from x0 with the initial step when pycma's stop criteria fire. One fixed\n"
        "algorithm whatever the budget; Nevergrad's ``CMA``, which picks a variant, is\n"
        "``ng_cma_auto``. Dimension >= 2 (Nevergrad needs fcmaes in dimension 1).",
    ),
    "ng_cma_auto": Member(
        "CMA",
        NO_SETTINGS,
        1,
        True,
        CMA_BEST,
        "a CMA-ES variant chosen from the budget, num_workers and n (its meta-optimizer).\n\n"
        "Nevergrad's ``CMA`` (MetaCMA) here (continuous, unbounded, deterministic): dimension 1:\n"
        "OnePlusOne; budget < 50 evaluations: CMAtuning (n <= 15: elitist, population\n"
        "4 + floor(ln n), initial step 0.4847 sigma) or CMAsmall (0.3607 sigma); num_workers >\n"
        "20: CMApara (diagonal, elitist, population factor 8, 0.8905 sigma); otherwise CMAstd\n"
        "(``ng_cma`` with initial step 0.4699 sigma); no evaluation budget (a surrogate-call\n"
        "budget): OldCMA (``ng_cma``). So the algorithm, and sigma's meaning, change with the\n"
        "trial's budget.",
    ),
    "ng_diagonal_cma": Member(
        "ParametrizedCMA",
        MappingProxyType({**CMA_SETTINGS, "diagonal": True}),
        2,
        True,
        CMA_BEST,
        "separable CMA-ES (pycma, diagonal covariance) with restarts, initial step sigma.\n\n"
        "``ParametrizedCMA(diagonal=True)`` otherwise as ``ng_cma`` (Nevergrad's DiagonalCMA).",
    ),
    "ng_tbpsa": Member(
        "TBPSA",
        NO_SETTINGS,
        1,
        False,
        MEAN,
        "test-based population-size adaptation, for noisy losses.",
    ),
    "ng_eda": Member(
        "EDA",
        NO_SETTINGS,
        1,
        False,
        MEAN,
        "Gaussian estimation of distribution; O(n^3) per candidate, slow at n >= 1000.\n\n"
        "Nevergrad draws each candidate from the full-covariance Gaussian separately (a fresh\n"
        "factorisation of the n x n covariance per candidate), which takes seconds at n = 1000.",
    ),
    "ng_es": Member(
        "ES",
        NO_SETTINGS,
        1,
        False,
        BEST,
        "(40, 60)-ES, mutation only (parents from the offspring alone).",
    ),
    "ng_rec_es": Member("RecES", NO_SETTINGS, 1, False, BEST, "(40, 60)-ES with recombination."),
    "ng_mix_es": Member(
        "MixES",
        NO_SETTINGS,
        1,
        False,
        BEST,
        "(40 + 20)-ES, mutation only (parents and offspring compete).",
    ),
    "ng_rec_mix_es": Member(
        "RecMixES", NO_SETTINGS, 1, False, BEST, "(40 + 20)-ES with recombination."
    ),
    "ng_mut_de": Member(
        "MutDE",
        NO_SETTINGS,
        1,
        False,
        BEST,
        "steady-state ES on a population of 40 (DE-style), mutation only.",
    ),
    "ng_rec_mut_de": Member(
        "RecMutDE",
        NO_SETTINGS,
        1,
        False,
        BEST,
        "steady-state ES on a population of 40 (DE-style), recombination.",
    ),
}
"""Nevergrad's ES family, one row per optimizer."""


def _doc(m: Member) -> str:
    return f"Nevergrad {m.ng_name}: {m.doc}\n\nRecommendation: {m.recommends}."


OPTIMIZERS: Mapping[str, Preset] = {
    name: Preset(
        NevergradES,
        _doc(m),
        attrs={
            "ng_name": m.ng_name,
            "ng_settings": m.settings,
            "min_dim": m.min_dim,
            "keeps_best": m.keeps_best,
        },
    )
    for name, m in FAMILY.items()
}
"""The family as presets of :class:`NevergradES`, registered through one entry point."""
