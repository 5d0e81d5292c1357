"""Nevergrad's evolution-strategy family, adapted to the step/oracle interface.

One adapter, :class:`NevergradES`, drives any optimizer of Nevergrad's registry by name; each
row of :data:`FAMILY` (Nevergrad name, smallest dimension, one-line description) becomes a
preset registered as its own optimizer (``ng_*``), so each shows in ``gesbench list``. Nevergrad
is imported only when such an optimizer first steps, so listing optimizers and running the
others never pays for importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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

    sigma: float = param(1.0, gt=0, doc="initial mutation scale per coordinate")
    num_workers: int = param(1, ge=1, doc="candidates asked, evaluated and told per step")


class NevergradES(Optimizer):
    """A Nevergrad optimizer chosen by ``ng_name`` (set by each registered preset).

    Parameters
    ----------
    rng : numpy Generator or seed
        Seeds the parametrization's ``random_state`` (a private ``RandomState``), Nevergrad's
        only source of randomness for these optimizers.
    sigma : float
        Initial mutation scale per coordinate (``ng.p.Array(...).set_mutation(sigma=...)``);
        Nevergrad's default is 1.
    num_workers : int
        Candidates asked per step, evaluated as one batch and then told; Nevergrad sizes the
        populations of its parallel variants by it.

    Notes
    -----
    The Nevergrad optimizer is built at the first step, when the trial's budget is visible
    through the oracle, and is told its total budget
    (:meth:`~gesbench.core.budget.Budget.total_evaluations` at ``num_workers`` evaluations per
    iteration; none under a surrogate-call budget, which such a trial cannot spend: the driver
    stops it after one step). A step asks ``min(num_workers, oracle.remaining_evaluations())``
    candidates, so the budget is never exceeded. The recommendation ``x`` is Nevergrad's own
    (``recommend()``: the mean for the CMA variants, the best point seen by its pessimistic
    estimate for the others).
    """

    Params = NevergradParams
    params: NevergradParams
    uses_surrogate: ClassVar[bool] = False
    ng_name: ClassVar[str] = ""
    """The optimizer's name in Nevergrad's registry (a preset setting)."""
    min_dim: ClassVar[int] = 1
    """Smallest dimension the wrapped optimizer supports without extra packages."""

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
                f"{self.name}: Nevergrad's {self.ng_name} needs dimension >= {self.min_dim} "
                f"(in dimension 1 it requires the optional fcmaes package), got {self.x.size}"
            )
        self._ng: Any = None
        # drawn now so the seed does not depend on when the optimizer is first stepped
        self._seed = int(self.rng.integers(2**32))

    def _build(self, oracle: Oracle) -> Any:
        import nevergrad as ng

        p = self.params
        parametrization = ng.p.Array(init=self.x).set_mutation(sigma=p.sigma)
        parametrization.random_state = np.random.RandomState(self._seed)
        return ng.optimizers.registry[self.ng_name](
            parametrization=parametrization,
            budget=oracle.budget.total_evaluations(p.num_workers),
            num_workers=p.num_workers,
        )

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
        values = oracle.loss(np.stack([c.value for c in candidates]))
        for candidate, value in zip(candidates, values, strict=True):
            self._ng.tell(candidate, float(value))
        self.x = np.array(self._ng.recommend().value, dtype=float)


class Member(NamedTuple):
    """One optimizer of the family: its name in Nevergrad, the smallest dimension it supports
    without extra packages, and a description whose first line is its summary."""

    ng_name: str
    min_dim: int
    doc: str


FAMILY: Mapping[str, Member] = {
    "ng_one_plus_one": Member(
        "OnePlusOne", 1, "(1+1)-ES with one-fifth-rule step-size adaptation."
    ),
    "ng_cma": Member("CMA", 2, "its pycma-backed CMA-ES (needs dimension >= 2 without fcmaes)."),
    "ng_diagonal_cma": Member(
        "DiagonalCMA", 2, "pycma-backed separable CMA-ES (dimension >= 2 without fcmaes)."
    ),
    "ng_tbpsa": Member("TBPSA", 1, "test-based population-size adaptation, for noisy losses."),
    "ng_eda": Member(
        "EDA",
        1,
        "Gaussian estimation of distribution; O(n^3) per candidate, slow at n >= 1000.\n\n"
        "Nevergrad draws each candidate from the full-covariance Gaussian separately (a fresh\n"
        "factorisation of the n x n covariance per candidate), which takes seconds at n = 1000.",
    ),
    "ng_es": Member("ES", 1, "(40, 60)-ES, mutation only (parents from the offspring alone)."),
    "ng_rec_es": Member("RecES", 1, "(40, 60)-ES with recombination."),
    "ng_mix_es": Member("MixES", 1, "(40 + 20)-ES, mutation only (parents and offspring compete)."),
    "ng_rec_mix_es": Member("RecMixES", 1, "(40 + 20)-ES with recombination."),
    "ng_mut_de": Member(
        "MutDE", 1, "steady-state ES on a population of 40 (DE-style), mutation only."
    ),
    "ng_rec_mut_de": Member(
        "RecMutDE", 1, "steady-state ES on a population of 40 (DE-style), recombination."
    ),
}
"""Nevergrad's ES family, one row per optimizer."""

OPTIMIZERS: Mapping[str, Preset] = {
    name: Preset(
        NevergradES,
        f"Nevergrad {m.ng_name}: {m.doc}",
        attrs={"ng_name": m.ng_name, "min_dim": m.min_dim},
    )
    for name, m in FAMILY.items()
}
"""The family as presets of :class:`NevergradES`, registered through one entry point."""
