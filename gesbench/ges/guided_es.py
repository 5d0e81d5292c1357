"""Guided Evolutionary Strategies (Maheswaranathan et al., ICML 2019, arXiv:1806.10230).

Random search whose Gaussian search distribution is elongated along the subspace spanned by
the last ``k`` surrogate gradients:

    Sigma = (alpha / n) I + ((1 - alpha) / k) U U^T    (U: orthonormal basis of the surrogates)
    eps_i ~ N(0, sigma^2 Sigma),  i = 1..P
    g     = beta / (2 sigma^2 P) * sum_i eps_i (f(x + eps_i) - f(x - eps_i))

and ``g`` is handed to a first-order update (SGD, momentum or Adam) as if it were the gradient.
The surrogate shapes the search distribution only; it never enters the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import param, require
from gesbench.core.problem import Array
from gesbench.core.registry import Preset
from gesbench.ges.updates import UpdateParams, UpdateRule


@dataclass(frozen=True)
class GuidedESParams(UpdateParams):
    """Guided ES's parameters; the defaults are the paper's (its Fig. 1 setting): alpha 0.5,
    beta 2, k 1, P 1, sigma 0.1, SGD with lr 0.2."""

    sigma: float = param(0.1, gt=0, doc="perturbation scale")
    alpha: float = param(0.5, ge=0, le=1, doc="share of the search variance in the full space")
    beta: float = param(2.0, gt=0, doc="scale of the gradient estimate")
    k: int = param(1, ge=1, doc="past surrogate gradients spanning the guiding subspace")
    pairs: int = param(1, ge=1, doc="antithetic pairs per iteration (P)")


class GuidedES(Optimizer):
    """Guided ES.

    Its parameters are declared in :class:`GuidedESParams` and checked at construction, except
    ``k <= n``, which needs the dimension and is checked by ``start``.

    Parameters
    ----------
    rng : numpy Generator or seed
        Source of the search perturbations.
    sigma : float
        Perturbation scale; ``E||eps||^2 = sigma^2`` whatever alpha, k and n.
    alpha : float in [0, 1]
        Share of the search variance in the full space (1 is vanilla ES: the surrogate is then
        never queried; 0 searches only inside the guiding subspace).
    beta : float
        Scale of the gradient estimate.
    k : int
        Number of past surrogate gradients spanning the guiding subspace (a FIFO). While fewer
        than ``k`` are held, the subspace uses the ``k'`` held so far and the subspace term is
        scaled by ``(1 - alpha) / k'`` so the covariance keeps trace 1; all-zero surrogates are
        not stored (their QR basis would be an arbitrary axis).
    pairs : int
        Antithetic pairs per iteration (P); the estimate is their mean, 2P evaluations.
    update, lr, momentum, adam_beta1, adam_beta2, adam_eps
        The first-order update that consumes the estimate (see :mod:`gesbench.ges.updates`).

    Examples
    --------
    >>> import numpy as np
    >>> ges = GuidedES(rng=0, sigma=0.1, lr=0.2)
    >>> res = ges.minimize(lambda x: x @ x, lambda x: 2 * x + 0.5, np.ones(10), budget=300)
    >>> res.fun < 1e-2
    True
    """

    Params = GuidedESParams
    params: GuidedESParams

    def start(self, x0: Array) -> None:
        super().start(x0)
        n = self.x.size
        require(self.params.k <= n, self.name, f"k must be <= n = {n}, got {self.params.k}")
        self._update = UpdateRule(self.params, n)
        # FIFO; columns [0, held) are real. Column-major, so each column is contiguous and
        # LAPACK's QR reads the buffer without a transposed copy.
        self._surrogates = np.zeros((n, self.params.k), order="F")
        self._held = 0

    @property
    def guided(self) -> bool:
        return self.params.alpha < 1

    def remember(self, surrogate: Array) -> None:
        """Push a surrogate gradient into the FIFO (all-zero vectors are skipped)."""
        if not surrogate.any():
            return
        k = self.params.k
        if self._held < k:
            self._surrogates[:, self._held] = surrogate
            self._held += 1
        else:
            self._surrogates[:, :-1] = self._surrogates[:, 1:]  # drop the oldest, in place
            self._surrogates[:, -1] = surrogate

    def basis(self) -> Array:
        """Orthonormal basis ``U`` (n x k') of the surrogates held so far (k' may be 0)."""
        held = self._surrogates[:, : self._held]
        if self._held == 1:  # the reduced QR of one column is that column normalised
            return held / np.linalg.norm(held)
        # scipy's QR runs the same LAPACK Householder routines as numpy's (Q equal up to
        # rounding: the block sizes may differ) without numpy's extra copies, which made the
        # QR most of a step for tall buffers (about 4x slower at n = 10^4, k = 10).
        return scipy.linalg.qr(held, mode="economic", check_finite=False)[0]

    def sample(self, pairs: int) -> Array:
        """Draw ``pairs`` perturbations (rows) from ``N(0, sigma^2 Sigma)``."""
        p = self.params
        n = self.x.size
        U = self.basis() if self.guided else self._surrogates[:, :0]
        k_held = U.shape[1]
        alpha = p.alpha if k_held else 1.0  # nothing to guide with yet: search isotropically
        z = self.rng.standard_normal((pairs, n + k_held))
        eps = (p.sigma * np.sqrt(alpha / n)) * z[:, :n]
        if k_held:
            eps += (p.sigma * np.sqrt((1 - alpha) / k_held)) * (z[:, n:] @ U.T)
        return eps

    def estimate(self, oracle: Oracle, eps: Array) -> Array:
        """Antithetic gradient estimate from perturbations ``eps`` (2P evaluations, one batch)."""
        p = self.params
        values = oracle.loss(np.concatenate([self.x + eps, self.x - eps]))
        pairs = len(eps)
        diffs = values[:pairs] - values[pairs:]
        return (p.beta / (2 * p.sigma**2 * pairs)) * (diffs @ eps)

    def step(self, oracle: Oracle) -> None:
        if self.guided:
            self.remember(oracle.surrogate_grad(self.x))
        g = self.estimate(oracle, self.sample(self.params.pairs))
        self.x = self._update.apply(self.x, g)


GES_DEFAULTS: Mapping[str, Any] = GuidedES.defaults
"""Guided ES's defaults by name (read-only)."""

OPTIMIZERS: Mapping[str, type[Optimizer] | Preset] = {
    "guided_es": GuidedES,
    "vanilla_es": Preset(
        GuidedES,
        "Antithetic ES with eps ~ N(0, sigma^2 / n I); never queries the surrogate.\n\n"
        "Exactly Guided ES with alpha = 1 (so the same seed gives the same trajectory as\n"
        "``guided_es`` with alpha = 1), with the paper's vanilla-ES defaults: sigma 0.1,\n"
        "beta 1, SGD lr 0.2, P = 1.",
        fixed={"alpha": 1.0, "k": 1},
        defaults={"beta": 1.0},
        attrs={"uses_surrogate": False},
    ),
}
"""The optimizers this module provides, registered through one entry point: Guided ES, and
vanilla ES as a preset of it."""
