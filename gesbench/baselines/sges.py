"""SGES: self-guided evolution strategies (Liu, Li, Qian, "Self-guided evolution strategies
with historical estimated gradients", IJCAI 2020, doi:10.24963/ijcai.2020/205).

Guided ES without a surrogate: the guiding subspace is spanned by the optimizer's own last ``k``
gradient estimates. Each perturbation is drawn either from that subspace (with probability
``alpha``) or from the full space, and ``alpha`` adapts to which kind of perturbation has been
finding lower losses. ``sges_surrogate`` adds the problem's surrogate gradient to the subspace.

Defaults and details follow the authors' black-box code (github.com/IJCAI2020-SGES/SGES,
``Black-box functions/main.py``: ``sges`` and ``sges_compute_grads``); see :class:`SGES`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.linalg

from gesbench.core.errors import BudgetExhausted
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import invalid, param
from gesbench.core.problem import Array
from gesbench.core.registry import Preset
from gesbench.ges.updates import UpdateParams, UpdateRule


@dataclass(frozen=True)
class SGESParams(UpdateParams):
    """SGES's parameters; the defaults are the authors' black-box settings (``main.py``)."""

    sigma: float = param(0.01, gt=0, doc="perturbation scale (E||eps||^2 = sigma^2)")
    k: int = param(20, ge=1, doc="past gradient estimates spanning the subspace")
    pairs: int = param(50, ge=1, doc="antithetic pairs per iteration (the population)")
    alpha: float = param(0.5, ge=0, le=1, doc="initial probability of a subspace perturbation")
    alpha_min: float = param(0.3, ge=0, le=1, doc="lowest subspace probability")
    alpha_max: float = param(0.7, ge=0, le=1, doc="highest subspace probability")
    alpha_factor: float = param(1.005, ge=1, doc="multiplicative step of the adaptation")
    lr: float = param(0.5, gt=0, doc="learning rate")

    def validate(self) -> None:
        if self.alpha_min > self.alpha_max:
            invalid("alpha_min", f"must be <= alpha_max = {self.alpha_max}, got {self.alpha_min}")
        if not self.alpha_min <= self.alpha <= self.alpha_max:
            invalid("alpha", f"must be in [alpha_min, alpha_max], got {self.alpha}")


class SGES(Optimizer):
    """Self-guided ES: Guided ES guided by its own past gradient estimates.

    Iteration ``t`` (``n`` the dimension, ``P`` the pairs, ``k' = min(k, n)``):

    1. Warm-up (``t < k'``): every perturbation is isotropic, ``eps ~ N(0, sigma^2 / n I)``.
    2. Afterwards ``U`` is the orthonormal basis (reduced QR) of the last ``k'`` estimates (plus
       the current surrogate gradient in ``sges_surrogate``, so ``k' + 1`` directions, and no
       warm-up: see the notes). Each
       perturbation is, independently, from the subspace with probability ``alpha``,
       ``eps = sigma / sqrt(k') U z_k``, or from the full space otherwise,
       ``eps = sigma / sqrt(n) z_n``; both kinds have ``E||eps||^2 = sigma^2``.
    3. ``g = sum_i eps_i (f(x + eps_i) - f(x - eps_i)) / (2 sigma^2 P)`` (2P evaluations, one
       batch); ``x <- x - lr g`` (or another update rule); ``g`` joins the FIFO of estimates.
    4. Adaptation (after the warm-up): with ``m_S`` and ``m_F`` the means of
       ``min(f(x + eps_i), f(x - eps_i))`` over the subspace and full-space perturbations,
       ``alpha <- alpha * alpha_factor`` if ``m_S < m_F`` (the subspace found lower losses) and
       ``alpha <- alpha / alpha_factor`` otherwise, then clipped to ``[alpha_min, alpha_max]``.

    So ``E[g] ~= (alpha / k' U U^T + (1 - alpha) / n I) grad f``: a mixture, where Guided ES
    adds the two parts inside each perturbation; SGES's alpha is the *subspace's* share, where
    Guided ES's alpha is the full space's.

    Parameters
    ----------
    sigma : float
        Perturbation scale (``--sigma``, 0.01).
    k : int
        Estimates spanning the subspace and length of the warm-up (``--k``, 20); capped at n.
    pairs : int
        Antithetic pairs per iteration (``--pop_size``, 50).
    alpha : float
        Initial probability of a subspace perturbation (0.5 in the code).
    alpha_min, alpha_max, alpha_factor : float
        The adaptation's bounds and multiplicative step (0.3, 0.7, 1.005 in the black-box code).
    update, lr, momentum, adam_beta1, adam_beta2, adam_eps
        The update rule (:mod:`gesbench.ges.updates`); the code uses SGD with ``--lr`` 0.5.

    Notes
    -----
    The paper states the algorithm (its Algorithm 1) and the direction of the adaptation, not
    its constants; the two reference programs use different ones: the black-box code (followed
    here) multiplies by 1.005 within [0.3, 0.7] and compares the best loss of each pair; the RL
    code (``RL tasks/sges.py``) multiplies by 1.05 within [0.1, 0.8], compares the best return
    of each pair, keeps only elite pairs, normalises returns and rescales perturbations to norm
    ``sqrt(n)``. The black-box code has ``--max_iter 1e6`` evaluations (its README: 1e5),
    ``--dims 1000``, lr 0.5, sigma 0.01, pop_size 50, k 20.

    Deviations from the code:

    - When one kind of perturbation was not drawn at all in an iteration, ``alpha`` is left as
      it is (the code then compares with the mean of an empty list, NaN, and lowers alpha);
      with 50 pairs and alpha in [0.3, 0.7] this happens with probability below 1e-7.
    - ``k`` larger than ``n`` is capped at ``n`` (the code fails there).
    - Perturbations and the subspace choices come from the trial's generator; the code draws
      from numpy's and Python's global generators, one pair at a time.
    - The last iteration is truncated to the pairs that still fit in an evaluation or cost budget.
    - ``sges_surrogate``: the code only has a commented-out line appending the problem's
      surrogate gradient (``compute_gradient(x, bias_coef=1., noise_coef=1.5)``) to the archive.
      Here the surrogate at the current point is queried every iteration and spans the subspace
      together with the last ``k'`` estimates (it is not stored: each iteration uses the fresh
      one). Since there is a subspace from the first iteration, there is no warm-up: while fewer
      than ``k'`` estimates are held, the subspace is spanned by those and the surrogate. All-zero
      surrogates are left out.
    """

    Params = SGESParams
    params: SGESParams
    uses_surrogate: ClassVar[bool] = False
    """Whether the subspace also contains the surrogate gradient (``sges_surrogate``)."""

    def start(self, x0: Array) -> None:
        super().start(x0)
        n = self.x.size
        self._update = UpdateRule(self.params, n)
        self.k = min(self.params.k, n)
        self._estimates = np.zeros((n, self.k), order="F")  # FIFO, oldest first
        self._held = 0
        self.alpha = self.params.alpha
        self.subspace_draws = 0  # subspace perturbations at the last iteration

    def remember(self, g: Array) -> None:
        """Push a gradient estimate into the FIFO."""
        if self._held < self.k:
            self._estimates[:, self._held] = g
            self._held += 1
        else:
            self._estimates[:, :-1] = self._estimates[:, 1:]
            self._estimates[:, -1] = g

    def basis(self, oracle: Oracle) -> Array:
        """Orthonormal basis of the held estimates (and of the surrogate, when used)."""
        columns = self._estimates[:, : self._held]
        if self.uses_surrogate:
            surrogate = oracle.surrogate_grad(self.x)
            if surrogate.any():
                columns = np.column_stack([columns, surrogate])
        if not columns.shape[1]:
            return columns
        return scipy.linalg.qr(columns, mode="economic", check_finite=False)[0]

    def _pairs_that_fit(self, oracle: Oracle) -> int:
        pairs = self.params.pairs
        left = oracle.remaining_evaluations()
        if left is not None:
            pairs = min(pairs, left // 2)
        if pairs < 1:
            raise BudgetExhausted
        return pairs

    def step(self, oracle: Oracle) -> None:
        p = self.params
        n = self.x.size
        # the warm-up gathers k' estimates; with a surrogate there is a subspace from the start
        warm = self._held < self.k and not self.uses_surrogate
        U = None if warm else self.basis(oracle)
        if U is not None and not U.shape[1]:  # nothing held yet and a zero surrogate
            U = None
        pairs = self._pairs_that_fit(oracle)
        eps = np.empty((pairs, n))
        inside = np.zeros(pairs, dtype=bool)
        if U is not None:
            inside = self.rng.random(pairs) < self.alpha
            m = int(inside.sum())
            eps[inside] = (p.sigma / np.sqrt(U.shape[1])) * (
                self.rng.standard_normal((m, U.shape[1])) @ U.T
            )
        eps[~inside] = (p.sigma / np.sqrt(n)) * self.rng.standard_normal((pairs - inside.sum(), n))
        values = oracle.loss(np.concatenate([self.x + eps, self.x - eps]))
        plus, minus = values[:pairs], values[pairs:]
        g = ((plus - minus) @ eps) / (2 * p.sigma**2 * pairs)
        if U is not None and 0 < inside.sum() < pairs:
            best = np.minimum(plus, minus)
            better = best[inside].mean() < best[~inside].mean()
            alpha = self.alpha * p.alpha_factor if better else self.alpha / p.alpha_factor
            self.alpha = float(np.clip(alpha, p.alpha_min, p.alpha_max))
        self.subspace_draws = int(inside.sum())
        self.remember(g)
        self.x = self._update.apply(self.x, g)


OPTIMIZERS: Mapping[str, type[Optimizer] | Preset] = {
    "sges": SGES,
    "sges_surrogate": Preset(
        SGES,
        "SGES whose subspace also holds the current surrogate gradient.\n\n"
        "Every iteration queries the surrogate at the current point; the subspace is spanned\n"
        "by it and the last k gradient estimates (k + 1 directions), so there is no warm-up.",
        attrs={"uses_surrogate": True},
    ),
}
"""SGES and its surrogate-augmented variant, registered through one entry point."""
