"""Guided ES that sets its own alpha and beta from an online estimate of the alignment.

Guided ES's best alpha and beta depend on one unknown, the alignment ``rho`` of the guiding
subspace with the true gradient (``rho^2 = ||U^T d||^2 / ||d||^2``; see
:func:`gesbench.ges.theory.optimal_alpha`): alpha* = 1 when the subspace is no better than a
random one, alpha* = 0 when it is good, and beta* = B / A. The paper fixes alpha = 0.5, beta = 2
as a hedge, since rho is unknown and drifts during a run. Here rho is estimated from the very
evaluations Guided ES makes (no extra evaluation, no true gradient), and alpha and beta are
re-derived from it every iteration.

The estimator
-------------
Guided ES draws ``eps = sigma (sqrt(alpha / n) z_n + sqrt((1 - alpha) / k) U z_k)`` and evaluates
``f(x +- eps)``. With ``d = grad f(x)``, the half difference over sigma is, exactly on a
quadratic and to leading order in sigma otherwise,

    y = (f(x + eps) - f(x - eps)) / (2 sigma)
      = sqrt(alpha / n) z_n^T d  +  sqrt((1 - alpha) / k) z_k^T U^T d,

the directional finite difference along the isotropic part plus the one along the subspace
part. The two terms are independent, and given ``z_k`` (which the optimizer drew, so knows)

    E[y^2 | z_k] = (alpha / n) ||d||^2  +  ((1 - alpha) ||z_k||^2 / k^2) ||U^T d||^2

(for k > 1 because the direction of ``z_k`` is uniform whatever its length). So ``y^2`` is a
linear function of the known features, with an intercept-like term that measures the whole
gradient and a slope on ``||z_k||^2`` that measures its part in the subspace. The coefficients
``D = ||d||^2`` and ``S = ||U^T d||^2`` are fitted over recent iterations and ``rho^2 = S / D``
(:class:`AlignmentEstimator`):

- samples are divided by a running scale (the mean ``y^2`` of earlier iterations), so that D and
  S can be taken as constant over the window although the gradient shrinks during a run;
- a sample ``a`` iterations old weighs ``(1 - 1/memory)^a / v^2``, with ``v`` its variance as
  the fit predicts it (``y^2`` is about ``v`` times a chi-square(1), of variance ``2 v^2``: the
  quasi-likelihood of a gamma model with identity link, fitted by reweighting from the previous
  fit), over the last ``5 memory`` iterations;
- the fit is constrained to ``D >= S >= 0``.

The information about D comes from the isotropic part alone, which sees only ``1/n`` of the
gradient per direction: when the subspace is well aligned (``n rho^2 >> 1``) D shows mainly in
the draws with small ``||z_k||``. The estimate is therefore noisy when rho is large (a typical
error of 30% with memory 200) and sharper when rho is small, and it needs some search of both
kinds at all times: alpha is kept in ``[alpha_min, alpha_max]``, with ``alpha_min > 0`` (at
alpha = 0 the whole gradient is unobservable) and ``alpha_max < 1`` (at alpha = 1 the subspace
is never probed, so an improving surrogate would go unnoticed). It has been checked against the
true alignment mainly at k = 1 (tests/ges/test_adaptive.py); at k = 3 it ran about 30% low in a
small check.

The rule
--------
For ``warmup`` iterations Guided ES runs at the given ``alpha`` and ``beta`` (0.5 and 0.5 by
default) while the estimator gathers data. Afterwards, every iteration, with ``k'`` the
surrogates held and ``rho_hat`` the latest estimate,

    alpha_t = clip(alpha*(rho_hat, k', n, P), alpha_min, alpha_max)
    beta_t = beta*(rho_hat, alpha_t, k', n, P)

(:mod:`gesbench.ges.theory`): beta* is the mean-squared-error optimal scale at the alpha used.
Everything else is Guided ES.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gesbench.core.oracle import Oracle
from gesbench.core.params import invalid, param
from gesbench.core.problem import Array
from gesbench.ges.guided_es import GuidedES, GuidedESParams
from gesbench.ges.theory import optimal_alpha, optimal_beta


class AlignmentEstimator:
    """Windowed, reweighted least-squares fit of ``E[y^2] = f_D D + f_S S`` (see the module doc).

    Each sample is a half difference ``y`` over sigma with its features ``f_D = alpha / n`` and
    ``f_S = (1 - alpha) ||z_k||^2 / k^2``. Samples are stored divided by a running scale (the
    mean ``y^2`` of earlier iterations, a predictable quantity), so that the fit can treat D and
    S as constant over the window although the gradient shrinks during a run; a sample ``a``
    iterations old has weight ``(1 - 1/memory)^a / v^2``, with ``v`` its variance predicted by
    the fit (a few reweighting passes per iteration, from the previous fit), the fit is
    constrained to ``D >= S >= 0``, and ``rho2 = S / D``.

    Parameters
    ----------
    memory : float
        Forgetting horizon, in calls of :meth:`add` (each call is one iteration's samples). The
        window holds the last ``5 * memory`` iterations (weights below ``e^-5`` are dropped).
    scale_memory : float
        Horizon of the running scale, in iterations.
    passes : int
        Reweighting passes per call.
    """

    def __init__(self, memory: float, scale_memory: float = 20.0, passes: int = 3) -> None:
        self.forget = 1.0 - 1.0 / memory
        self.window = max(int(np.ceil(5 * memory)), 2)
        self.scale_forget = 1.0 - 1.0 / scale_memory
        self.passes = passes
        self.scale: float | None = None
        self.theta: Array | None = None  # (D, S) in units of the stored samples
        self.iteration = 0
        # ring buffers, grown to the window's size in samples on the first call; a slot's
        # recency weight is forget^age (0: empty)
        self._y2 = np.empty(0)
        self._fD = np.empty(0)
        self._fS = np.empty(0)
        self._recency = np.empty(0)
        self._stored = 0

    def add(self, y: Array, f_D: Array | float, f_S: Array) -> None:
        """Add one iteration's samples: half differences over sigma ``y`` and their features."""
        y2 = np.asarray(y, dtype=float) ** 2
        mean = float(y2.mean())
        if self.scale is None and mean > 0:
            self.scale = mean
        if self.scale is not None:
            if not len(self._y2):
                size = self.window * len(y2)
                self._y2, self._fD, self._fS = np.zeros(size), np.ones(size), np.ones(size)
                self._recency = np.zeros(size)
            self._recency *= self.forget
            at = (self._stored + np.arange(len(y2))) % len(self._y2)
            self._y2[at] = y2 / self.scale
            self._fD[at] = f_D
            self._fS[at] = f_S
            self._recency[at] = 1.0
            self._stored += len(y2)
            self.scale = self.scale_forget * self.scale + (1 - self.scale_forget) * mean
            if not self.scale > 0:
                self.scale = None
        self.iteration += 1
        if self._stored:
            self._fit()

    def _fit(self) -> None:
        fD, fS, y2, recency = self._fD, self._fS, self._y2, self._recency
        theta = self.theta
        if theta is None:  # a first, unweighted fit gives the first variances
            theta = _constrained_fit(fD, fS, y2, recency)
        for _ in range(self.passes):
            v = np.maximum(fD * theta[0] + fS * theta[1], 1e-300)
            theta = _constrained_fit(fD, fS, y2, recency / (v * v))
        self.theta = theta

    @property
    def rho2(self) -> float | None:
        """The estimated squared alignment (None before any informative sample)."""
        if self.theta is None:
            return None
        D, S = self.theta
        return float(S / D) if D > 0 else None


def _constrained_fit(fD: Array, fS: Array, y2: Array, w: Array) -> Array:
    """``(D, S)`` minimising ``sum w (y2 - fD D - fS S)^2`` subject to ``D >= S >= 0``."""
    wD, wS = w * fD, w * fS
    m00, m01, m11 = float(wD @ fD), float(wD @ fS), float(wS @ fS)
    r0, r1 = float(wD @ y2), float(wS @ y2)

    def loss(D: float, S: float) -> float:
        return m00 * D * D + 2 * m01 * D * S + m11 * S * S - 2 * (r0 * D + r1 * S)

    det = m00 * m11 - m01 * m01
    if det > 1e-12 * m00 * m11:
        D = (m11 * r0 - m01 * r1) / det
        S = (m00 * r1 - m01 * r0) / det
        if D >= S >= 0:
            return np.array([D, S])
    # the minimum over the cone lies on one of its edges (S = 0, or D = S) or at the origin
    candidates = [(0.0, 0.0)]
    if m00 > 0:
        candidates.append((max(r0 / m00, 0.0), 0.0))
    both = m00 + 2 * m01 + m11
    if both > 0:
        t = max((r0 + r1) / both, 0.0)
        candidates.append((t, t))
    return np.array(min(candidates, key=lambda c: loss(*c)))


@dataclass(frozen=True)
class GuidedESAutoParams(GuidedESParams):
    """Guided ES's parameters (``alpha`` and ``beta`` are used during the warm-up only) and the
    estimator's."""

    alpha: float = param(0.5, ge=0, le=1, doc="alpha during the warm-up")
    beta: float = param(0.5, gt=0, doc="beta during the warm-up (beta* at rho = 1)")
    alpha_min: float = param(0.05, gt=0, lt=1, doc="lowest alpha (some isotropic search)")
    alpha_max: float = param(0.95, gt=0, lt=1, doc="highest alpha (some subspace search)")
    memory: float = param(200.0, ge=1, doc="forgetting horizon of the estimator (iterations)")
    warmup: int = param(50, ge=0, doc="iterations at the given alpha and beta before adapting")

    def validate(self) -> None:
        if self.alpha_min > self.alpha_max:
            invalid("alpha_min", f"must be <= alpha_max = {self.alpha_max}, got {self.alpha_min}")


class GuidedESAuto(GuidedES):
    """Guided ES with alpha and beta set each iteration from an online estimate of rho.

    See the module documentation for the estimator and the rule. After ``step``, ``alpha`` and
    ``beta`` are the values used in that iteration and ``rho_hat`` the latest estimate (with
    that iteration's samples; None before any), ``estimator`` the :class:`AlignmentEstimator`.

    Parameters
    ----------
    sigma, k, pairs, dtype, update, lr, momentum, adam_beta1, adam_beta2, adam_eps
        As for :class:`~gesbench.ges.guided_es.GuidedES`.
    alpha, beta
        Used during the warm-up: 0.5 (the paper's alpha) and 0.5, which is beta*(alpha = 0.5) for
        a perfect subspace and P = 1, the smallest beta* at that alpha (it rises to about 1 as
        the alignment falls). beta* lies between about 1/3 and 1 whatever the alignment, so the
        learning rate suited to the adaptive phase is larger than Guided ES's; with the paper's
        beta = 2, or even 1, the warm-up steps at that learning rate are too long and fill every
        direction with noise that the (mostly isotropic) later search is slow to remove.
    alpha_min, alpha_max : float
        Bounds on the adaptive alpha (0.05 and 0.95): the estimator needs both kinds of search.
    memory : float
        Forgetting horizon of the alignment estimate, in iterations (200).
    warmup : int
        Iterations at the given alpha and beta before adapting (50).

    Notes
    -----
    Not from the literature: a gesbench method, built on the paper's closed forms (section 3 of
    Maheswaranathan et al., 2019). The closed forms minimise the mean squared error of one
    gradient estimate; they do not know the learning rate, so ``lr`` still needs tuning, and with
    beta* (about 1/3 to 1) in place of the paper's 2 the best ``lr`` is larger than Guided ES's.
    """

    Params = GuidedESAutoParams
    params: GuidedESAutoParams

    def start(self, x0: Array) -> None:
        super().start(x0)
        self.estimator = AlignmentEstimator(self.params.memory)
        self.alpha = self.params.alpha
        self.beta = self.params.beta
        self.rho_hat: float | None = None
        self.iteration = 0

    @property
    def guided(self) -> bool:
        return True

    def _choose(self, k_held: int) -> tuple[float, float]:
        p = self.params
        rho2 = self.estimator.rho2
        if self.iteration < p.warmup or rho2 is None or not k_held:
            return p.alpha, p.beta
        n = self.x.size
        rho = np.sqrt(rho2)
        alpha = float(np.clip(optimal_alpha(rho, k_held, n, p.pairs), p.alpha_min, p.alpha_max))
        beta = float(optimal_beta(rho, alpha, k_held, n, p.pairs))
        return alpha, beta

    def step(self, oracle: Oracle) -> None:
        p = self.params
        n = self.x.size
        self.remember(oracle.surrogate_grad(self.x))
        U = self.basis()
        k_held = U.shape[1]
        alpha, beta = self._choose(k_held)
        if not k_held:
            alpha = 1.0
        z = self.draw(p.pairs, k_held, self._z)
        eps = self.perturb(z, alpha, U, self._eps, self._sub)
        diffs = self.differences(oracle, eps)
        g = np.matmul(diffs, eps, out=self._g)
        g *= self.estimate_factor(beta, p.pairs)
        zk2 = np.sum(z[:, n:] ** 2, axis=1)
        f_S = (1 - alpha) * zk2 / k_held**2 if k_held else np.zeros(p.pairs)
        self.estimator.add(diffs / (2 * p.sigma), alpha / n, f_S)
        self.rho_hat = None if self.estimator.rho2 is None else float(np.sqrt(self.estimator.rho2))
        self.alpha, self.beta = alpha, beta
        self.iteration += 1
        self.x = self._update.apply(self.x, g)
