"""ASEBO: adaptive ES-active subspaces (Choromanski, Pacchiano, Parker-Holder, Tang, Sindhwani,
"From complexity to simplicity: adaptive ES-active subspaces for blackbox optimization",
NeurIPS 2019, arXiv:1903.04268).

Antithetic ES whose search distribution leans towards the principal subspace of its own past
gradient estimates. No surrogate gradient is used: the "guiding" subspace is learnt from the
loss evaluations alone. Three things adapt every iteration:

- the subspace: the top principal components of the (exponentially decayed) history of gradient
  estimates, as many as it takes to explain a fraction ``threshold`` of its variance;
- the number of antithetic pairs: that many components (at least ``min_samples``);
- the mix between the subspace and the full space, from how much of the newest estimate fell
  outside the subspace.

Where the paper and the authors' code differ, this follows the code (the authors' NumPy
re-implementation, github.com/jparkerholder/ASEBO, ``asebo/es.py`` and ``asebo/train.py``); the
differences are listed in :class:`ASEBO`'s notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gesbench.core.errors import BudgetExhausted
from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import invalid, param
from gesbench.core.problem import Array
from gesbench.ges.updates import UpdateParams, UpdateRule


@dataclass(frozen=True)
class ASEBOParams(UpdateParams):
    """ASEBO's parameters; the defaults are those of the authors' code (``train.py``)."""

    sigma: float = param(1.0, gt=0, doc="norm of every perturbation")
    warmup: int = param(68, ge=0, doc="isotropic iterations before the first PCA")
    samples: int = param(100, ge=1, doc="antithetic pairs per warm-up iteration")
    min_samples: int = param(10, ge=1, doc="fewest antithetic pairs after the warm-up")
    threshold: float = param(0.995, gt=0, lt=1, doc="explained variance the subspace keeps")
    decay: float = param(0.99, gt=0, le=1, doc="per-iteration decay of past gradient estimates")
    history: int = param(500, ge=1, doc="past gradient estimates kept for the PCA")
    center: bool = param(True, doc="centre the history before the PCA (code) or not (paper)")
    update: str = param("adam", choices=("sgd", "momentum", "nesterov", "adam"), doc="rule")
    lr: float = param(0.05, gt=0, doc="learning rate")

    def validate(self) -> None:
        if self.history < 2 and self.center:
            invalid("history", "must be >= 2 when the history is centred (one row has no spread)")


class ASEBO(Optimizer):
    """ASEBO as in the authors' NumPy code, minimising instead of maximising.

    Every iteration ``t``:

    1. While ``t < warmup``: ``samples`` antithetic pairs along directions drawn isotropically.
       Afterwards: the PCA of the history ``G`` of past estimates (row ``j`` steps back scaled by
       ``decay^j``, centred unless ``center = False``) gives the components ``V`` and their
       explained-variance ratios; ``r`` is the smallest count whose cumulative ratio exceeds
       ``threshold``, the number of pairs is ``P = max(r, min_samples)``, and ``U`` holds the
       first ``P`` components (fewer when the history has fewer). At ``t = warmup`` itself the
       reference still draws ``samples`` pairs (and searches isotropically: alpha starts at 1).
    2. Directions ``u_i ~ N(0, (alpha / n) I + ((1 - alpha) / P) U U^T)`` normalised to unit
       length; perturbations ``eps_i = sigma u_i``; the 2P losses are evaluated as one batch.
    3. Losses are standardised over the batch (mean and standard deviation, ``+ 1e-8``) and the
       estimate is ``g = sum_i u_i (l(x + eps_i) - l(x - eps_i)) / (2 sigma)`` (standardised
       differences). ``g`` joins the history (every older row is first scaled by ``decay``).
    4. After the warm-up, ``alpha <- ||P_perp g|| / ||P_U g||``, where ``P_U`` projects onto
       ``U`` and ``P_perp`` onto the remaining principal components of the history: the more of
       the new estimate falls outside the subspace, the more the next search is isotropic.
    5. ``g`` is rescaled to norm ``n`` (``g / (||g|| / n + 1e-8)``) and handed to the update rule
       (Adam by default, as in the reference).

    Parameters
    ----------
    sigma : float
        Norm of every perturbation. The reference perturbs by unit vectors whatever its
        ``--sigma`` (0.1), which there only rescales the estimate before it is normalised, so
        the default 1.0 reproduces its search; on a quadratic the value does not matter at all.
    warmup : int
        Isotropic iterations before the first PCA. The reference's ``--k 70`` gives 68: its loop
        counts from 1 and it decrements k once before starting.
    samples : int
        Antithetic pairs per warm-up iteration (the reference's ``--num_sensings``, 100).
    min_samples : int
        Fewest pairs (and subspace dimension) after the warm-up (``--min``, 10).
    threshold : float
        Fraction of the history's variance the subspace explains (``--threshold``, 0.995).
    decay : float
        Factor applied to every past estimate at each iteration (``--decay``, 0.99).
    history : int
        Past estimates kept (the newest); the reference keeps them all. At decay 0.99 the rows
        past 500 carry less than 5e-5 of the history's squared weight, so the cap changes the
        PCA negligibly while bounding its cost (an SVD of at most ``history x n``).
    center : bool
        Centre the history before the PCA, as the reference (scikit-learn's PCA) does; False
        takes the principal directions of the uncentred second moment, as the paper's
        ``Cov_t = lambda Cov_{t-1} + (1 - lambda) g g^T`` does.
    update, lr, momentum, adam_beta1, adam_beta2, adam_eps
        The update rule (see :mod:`gesbench.ges.updates`); the reference uses Adam with lr 0.05,
        betas (0.9, 0.999) and eps 1e-8. lr is problem-scale dependent (Adam's steps are about
        lr per coordinate).

    Notes
    -----
    Where the paper (its Algorithm 1) and the reference code differ, this follows the code:

    - Mix: the paper samples each direction from the active subspace with probability p_t or
      from its orthogonal complement otherwise, and sets p_t by a bandit procedure (its
      Algorithm 2) that spends extra evaluations; the code samples from the Gaussian with
      covariance ``(alpha / n) I + ((1 - alpha) / P) U U^T`` and sets alpha from the newest
      estimate's projections (step 4), at no extra cost.
    - Pairs: the paper takes ``n_t = r`` (``n_t = d`` during warm-up); the code ``max(r, min)``
      (``num_sensings`` during warm-up), as here.
    - Subspace: the paper uses the eigenvectors of the decayed uncentred covariance of the
      estimates; the code a centred PCA of the history of decayed estimates (``center``).
    - Lengths: the paper renormalises directions to chi(d)-distributed lengths; the code to unit
      length (scaled here by ``sigma``).

    Deviations from the code:

    - alpha is clipped to [0, 1]. The reference leaves the ratio unclipped; above ~1 its
      covariance is no longer positive definite, its Cholesky factorisation fails and it then
      samples isotropically, which alpha = 1 does too.
    - the history is capped at ``history`` rows (the reference's grows without bound).
    - when a degenerate history has no spread (all estimates zero), the search is isotropic with
      ``min_samples`` pairs instead of the reference's arbitrary components; a zero projection
      onto ``U`` gives alpha = 1 instead of a division by zero.
    - under an evaluation or cost budget, an iteration whose pairs do not all fit is not run
      (the rest of the budget is left unspent; the reference overshoots its budget by finishing
      it), except the first, which draws the pairs that fit. Since the step is normalised to
      norm n, a truncated iteration would take a full-length step along a poor estimate.
    - the Cholesky factor: the reference applies scipy's *upper* Cholesky factor ``R``
      (``cov = R^T R``) as ``R z``, whose covariance is ``R R^T``, not ``cov``: after the warm-up
      its samples concentrate on the first coordinate axes instead of the learnt subspace. Here
      the directions have the intended covariance (as in the paper and in evosax's port).
    - randomness comes from the trial's generator (the reference reseeds numpy's global RNG from
      the operating system every iteration, so its runs cannot be repeated).
    - the reference's ``--log`` option (``4 + 3 ln n`` warm-up pairs) is not offered.
    """

    Params = ASEBOParams
    params: ASEBOParams
    uses_surrogate: ClassVar[bool] = False

    def start(self, x0: Array) -> None:
        super().start(x0)
        self._update = UpdateRule(self.params, self.x.size)
        self._history = np.zeros((0, self.x.size))
        self.alpha = 1.0
        self.iteration = 0
        self.subspace_dim = 0  # components in U at the last iteration (0: isotropic)
        self.pairs = self.params.samples  # pairs drawn at the last iteration

    def principal(self) -> tuple[Array, Array, int]:
        """``(U, U_perp, r)``: rows of the history's leading components (the first
        ``max(r, min_samples)``), the remaining components, and ``r`` from the threshold rule
        (0 when the history has no spread)."""
        G = self._history
        if self.params.center:
            G = G - G.mean(axis=0)
        _, s, vt = np.linalg.svd(G, full_matrices=False)
        power = s * s
        total = power.sum()
        if not total > 0:
            return vt[:0], vt[:0], 0
        ratio = np.cumsum(power) / total
        r = int(np.argmax(ratio > self.params.threshold)) + 1
        keep = max(r, self.params.min_samples)
        return vt[:keep], vt[keep:], r

    def _pairs_that_fit(self, oracle: Oracle, pairs: int) -> int:
        """``pairs``, or fewer on the first iteration if the budget is smaller; a later
        iteration that does not fit is not run (BudgetExhausted)."""
        left = oracle.remaining_evaluations()
        if left is not None and 2 * pairs > left:
            # The step is normalised to norm n whatever the number of pairs, so a truncated
            # iteration would take a full-length step along a poor estimate.
            if self.iteration or left < 2:
                raise BudgetExhausted
            pairs = left // 2
        return pairs

    def step(self, oracle: Oracle) -> None:
        p = self.params
        n = self.x.size
        warm = self.iteration < p.warmup
        if warm:
            U = U_perp = self._history[:0]
            pairs = p.samples
        else:
            U, U_perp, r = self.principal()
            pairs = p.samples if self.iteration == p.warmup else max(r, p.min_samples)
            if not len(U):
                pairs = p.min_samples
        alpha = self.alpha if len(U) else 1.0
        # As in the reference, the subspace's share is divided by the planned number of pairs
        # (planned: before any truncation to the budget, so the distribution does not change).
        subspace_scale = np.sqrt((1 - alpha) / pairs)
        pairs = self._pairs_that_fit(oracle, pairs)
        z = self.rng.standard_normal((pairs, n + len(U)))
        directions = np.sqrt(alpha / n) * z[:, :n]
        if len(U) and alpha < 1:
            directions += subspace_scale * (z[:, n:] @ U)
        norms = np.linalg.norm(directions, axis=1, keepdims=True)
        directions /= np.where(norms > 0, norms, 1.0)
        eps = p.sigma * directions
        values = oracle.loss(np.concatenate([self.x + eps, self.x - eps]))
        values = (values - values.mean()) / (values.std() + 1e-8)
        g = (values[:pairs] - values[pairs:]) @ directions / (2 * p.sigma)

        # the newest history - 1 older estimates, each scaled by decay once more, then g
        older = self._history[-(p.history - 1) :] if p.history > 1 else self._history[:0]
        self._history = np.concatenate([p.decay * older, g[None, :]])
        if not warm:
            inside = np.linalg.norm(U @ g)  # U has orthonormal rows: ||P_U g|| = ||U g||
            outside = np.linalg.norm(U_perp @ g)
            self.alpha = float(np.clip(outside / inside, 0.0, 1.0)) if inside > 0 else 1.0
        self.subspace_dim = len(U)
        self.pairs = pairs
        self.iteration += 1
        step = g / (np.linalg.norm(g) / n + 1e-8)
        self.x = self._update.apply(self.x, step)
