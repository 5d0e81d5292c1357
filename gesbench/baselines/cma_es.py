"""CMA-ES through pycma (the ``cma`` package), driven ask/tell through the oracle.

Hansen's covariance matrix adaptation evolution strategy with the library's own defaults
(population ``4 + floor(3 ln n)``, weighted recombination, active covariance update); only the
starting step size ``sigma0`` and optionally the population size are set here. pycma is
imported when an optimizer starts, so listing optimizers stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gesbench.core.errors import BudgetExhausted
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import Params, invalid, param
from gesbench.core.problem import Array
from gesbench.core.registry import Preset


@dataclass(frozen=True)
class CMAESParams(Params):
    """CMA-ES's parameters; ``popsize = 0`` and ``evaluations_per_step = 0`` mean the library's
    population size and one whole generation per step."""

    sigma0: float = param(0.1, gt=0, doc="initial step size (standard deviation per coordinate)")
    popsize: int = param(0, ge=0, doc="population size; 0: pycma's 4 + floor(3 ln n)")
    evaluations_per_step: int = param(
        0, ge=0, doc="evaluations per step; 0: one whole generation per step"
    )

    def validate(self) -> None:
        # pycma refuses to tell fewer than 3 solutions per generation.
        if 0 < self.popsize < 3:
            invalid("popsize", f"must be 0 (library default) or >= 3, got {self.popsize}")


class CMAES(Optimizer):
    """CMA-ES via pycma, full covariance; very slow at n >= 5000 (kept out of default runs).

    Each sample costs O(n^2) and the periodic eigendecomposition O(n^3): about a minute for
    20,000 evaluations at n = 1000 on one core.

    Parameters
    ----------
    rng : numpy Generator or seed
        Feeds pycma's ``randn`` option, so no global RNG is touched (pycma's ``seed`` is unused).
    sigma0 : float
        Initial step size (standard deviation per coordinate).
    popsize : int
        Population size (lambda); 0 keeps pycma's default ``4 + floor(3 ln n)``.
    evaluations_per_step : int
        0 (default): one step is one generation, evaluated as one batch. A positive value spreads
        each generation over steps of that many evaluations (a step may finish one generation and
        start the next), so that under an iteration budget CMA-ES spends as many evaluations per
        iteration as, e.g., Guided ES (2). The distribution is updated when a generation is
        complete.

    Notes
    -----
    The recommendation ``x`` is the distribution mean after the last complete generation
    (pycma's ``result.xfavorite``), not the best point evaluated: it is what the algorithm
    believes in, and it is comparable with the iterate of the gradient-like methods.

    The budget is never exceeded: before each batch the step asks
    ``oracle.remaining_evaluations()`` and evaluates only the candidates that still fit. When
    the budget then runs out (evaluation or cost budgets; for iteration budgets, in the last
    iteration) with a generation only partly evaluated, ``r`` of its ``lambda`` candidates, that
    partial generation moves the mean only if pycma would take it as a generation: when
    ``r >= max(lambda - 2, 5)``, the number of solutions pycma's ``tell`` accepts without
    warning that it should be "the same as (or close to) the population size". The mean then
    moves exactly as ``tell`` would move it with those ``r`` solutions (the best ``mu`` of them
    recombined with pycma's weights; step size and covariance are not updated, since no
    generation follows). Otherwise ``x`` stays at the mean of the last complete generation, so
    a few evaluations past a generation never change the recorded result. pycma itself refuses
    ``tell`` with fewer than ``mu`` solutions; with ``r = mu`` nothing is selected (every
    evaluated candidate is recombined) and just above ``mu`` selection is weak: on a quadratic
    of condition 1000 (30 paired seeds, n = 20 and 100) recombining ``r = mu`` candidates gave a
    worse point than the last complete mean in 21-23 of 30 seeds and ``r = mu + 1, mu + 2``
    still in 62-65% of 120 seeds at n = 100, while ``r >= lambda - 2`` was worse in fewer than
    half (README, "CMA-ES's last generation").

    When pycma's own termination criteria fire (the search distribution has collapsed:
    ``tolx``, ``tolfun``, ``tolflatfitness``, ...; its iteration cap is disabled, the trial's
    budget rules), the run has converged: ``converged`` is set, ``x`` stays at the final mean,
    and later steps spend nothing (under an evaluation or cost budget the trial ends there).
    There are no restarts.
    """

    Params = CMAESParams
    params: CMAESParams
    uses_surrogate: ClassVar[bool] = False
    diagonal: ClassVar[bool] = False
    """Learn only the diagonal of the covariance (pycma's ``CMA_diagonal``); a preset setting
    (``sep_cma_es``), not a parameter."""

    def _randn(self, *shape: int) -> Array:
        return self.rng.standard_normal(shape)

    def start(self, x0: Array) -> None:
        import cma

        super().start(x0)
        p = self.params
        options: dict[str, Any] = {
            "verbose": -9,
            "verb_log": 0,
            "verb_disp": 0,
            "seed": np.nan,
            "randn": self._randn,
            "CMA_diagonal": self.diagonal,
            # the trial's budget governs how long it runs, not pycma's own iteration cap
            "maxiter": np.inf,
        }
        if p.popsize:
            options["popsize"] = p.popsize
        self.es = cma.CMAEvolutionStrategy(self.x, p.sigma0, options)
        self._pending: Array | None = None  # candidates of the current generation
        self._values = np.empty(0)
        self._done = 0  # how many of them are evaluated
        self.converged = False
        self.x = np.array(self.es.mean, dtype=float)

    def _ask(self, oracle: Oracle) -> Array:
        """Candidates of a new generation, as rows."""
        return np.asarray(self.es.ask(), dtype=float)

    def step(self, oracle: Oracle) -> None:
        if self.converged:
            # Continuing would only shrink sigma until it underflows and the samples turn NaN.
            if not oracle.budget.counts_iterations:
                raise BudgetExhausted  # ends the trial: what is left cannot change the result
            return
        want = self.params.evaluations_per_step or self.es.popsize
        spent = 0
        while want > 0:
            if self._pending is None:
                self._pending = self._ask(oracle)
                self._values = np.empty(len(self._pending))
                self._done = 0
            take = min(want, len(self._pending) - self._done)
            left = oracle.remaining_evaluations()
            if left is not None:
                take = min(take, left)
            if take <= 0:
                break
            batch = slice(self._done, self._done + take)
            self._values[batch] = oracle.loss(self._pending[batch])
            self._done += take
            spent += take
            want -= take
            if self._done == len(self._pending):
                self.es.tell(list(self._pending), self._values.tolist())
                self._pending = None
                if self.es.stop():
                    self.converged = True
                    break
        if spent == 0:  # what is left of the budget cannot pay for one evaluation
            raise BudgetExhausted
        if self._pending is not None and self._partial_counts() and _last_step(oracle):
            self.x = self._partial_mean()
        else:
            self.x = np.array(self.es.mean, dtype=float)

    def _partial_counts(self) -> bool:
        """Whether the evaluated part of the unfinished generation is a generation to pycma:
        ``tell`` takes it without warning (at most 2 missing, at least 5) and it selects (more
        than ``mu``)."""
        lam, mu = self.es.popsize, self.es.sp.weights.mu
        return self._done >= max(lam - PARTIAL_MISSING, PARTIAL_MINIMUM, mu + 1)

    def _partial_mean(self) -> Array:
        """The mean pycma's ``tell`` would compute from the evaluated part of the unfinished
        generation (the same operations, so the same bits)."""
        assert self._pending is not None
        sp = self.es.sp
        order = np.argsort(self._values[: self._done])  # pycma's (unstable) ranking
        mean = np.dot(sp.weights.positive_weights, self._pending[order[: sp.weights.mu]])
        if sp.cmean != 1:
            mean *= sp.cmean
            mean += (1 - sp.cmean) * np.asarray(self.es.mean, dtype=float)
        return np.asarray(mean, dtype=float)


PARTIAL_MISSING = 2
"""pycma's ``tell`` warns when more than this many solutions of a generation are missing."""
PARTIAL_MINIMUM = 5
"""... or when fewer than this many are told (and the generation is incomplete)."""


def _last_step(oracle: Oracle) -> bool:
    """True when no evaluation can follow this step."""
    left = oracle.remaining_evaluations()
    if left is not None:
        return left <= 0
    # the driver counts this step only after it returns
    return oracle.budget.is_last_iteration(oracle.iterations)


CMA_DEFAULTS: Mapping[str, Any] = CMAES.defaults
"""CMA-ES's defaults by name (read-only)."""

OPTIMIZERS: Mapping[str, type[Optimizer] | Preset] = {
    "cma_es": CMAES,
    "sep_cma_es": Preset(
        CMAES,
        "Separable CMA-ES via pycma (diagonal covariance): O(n) per sample, usable at large n.\n\n"
        "Same parameters, seeding, budget handling and recommendation (the mean) as ``cma_es``;\n"
        "pycma raises its learning rates for the diagonal model (Ros and Hansen, 2008), so it\n"
        "adapts faster but cannot learn rotations.",
        attrs={"diagonal": True},
    ),
}
"""The optimizers this module provides, registered through one entry point: CMA-ES with a full
covariance and, as a preset, with a diagonal one."""
