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

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import scipy.linalg

from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import dtype_param, param, require
from gesbench.core.problem import Array
from gesbench.core.registry import Preset
from gesbench.core.vectors import scaled_norm
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
    dtype: str = dtype_param()


class _SamplingViews(NamedTuple):
    """Draws ``z`` (rows ``[z_n, z_k]``), the basis transposed (None without directions) and
    the two scales, from which perturbations are formed; an iteration's, views of the buffers
    and of the basis, are made once for each number of directions held."""

    z: Array
    z_n: Array
    z_k: Array
    U_T: Array | None
    full: Array
    guided: Array


def _perturbations(views: _SamplingViews, out: Array | None, work: Array | None) -> Array:
    """``full z_n + guided z_k U^T`` from ``views`` (into ``out``; ``work``: scratch of its
    shape)."""
    eps = np.multiply(views.z_n, views.full, out=out)
    if views.U_T is not None:
        # for k' = 1 the product is an outer product: the same numbers, without matmul's overhead
        product = np.multiply if views.U_T.shape[0] == 1 else np.matmul
        sub = product(views.z_k, views.U_T, out=work)
        sub *= views.guided
        eps += sub
    return eps


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
    dtype : {"float64", "float32"}
        Precision of the iterate, the perturbations, the subspace and the update (and of the
        points handed to the loss). float32 is faster and rounds at ~1e-7 relative, plenty
        while excess losses stay well above that; float64 is the default.

    Notes
    -----
    One iteration allocates only the new iterate: perturbations, the 2P points and the
    estimate live in buffers made by ``start``. For ``k > 1`` the orthonormal basis is
    updated with each surrogate (drop the oldest column by re-triangularising the k x k
    factor, then one classical Gram-Schmidt step with reorthogonalisation), O(n k^2) in one
    matrix product instead of a fresh QR (it stays orthonormal to ~1e-15 over 10^4 updates);
    a surrogate (nearly) inside the span kept falls back to a fresh QR.

    A step draws its perturbations with :meth:`sample` (a subclass changes the search
    distribution there); the iteration's own draw goes into the buffers without
    :meth:`draw` and :meth:`perturb`, the building blocks for steps of one's own (as
    :class:`~gesbench.ges.adaptive.GuidedESAuto`'s).

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
        p = self.params
        self.dtype = np.dtype(p.dtype)
        self.x = self.x.astype(self.dtype, copy=False)
        n, k, pairs = self.x.size, p.k, p.pairs
        require(k <= n, self.name, f"k must be <= n = {n}, got {k}")
        self._update = UpdateRule(p, n, self.dtype)
        dtype = self.dtype
        # FIFO of surrogates, columns [0, held) real, and their orthonormal basis U with
        # surrogates = U R (R upper triangular). Column-major, so each column is contiguous and
        # LAPACK reads the buffers without a transposed copy. For k = 1 the basis is the last
        # surrogate normalised, and the FIFO is not kept.
        # (these arrays and the buffers below are never replaced until the next start: views
        # of them are kept)
        self._surrogates = np.zeros((n, k if k > 1 else 0), dtype, order="F")
        self._basis = np.zeros((n, k), dtype, order="F")
        self._spare = np.zeros((n, k), dtype, order="F")  # the next basis while it is formed
        self._R = np.zeros((k, k), dtype)
        self._held = 0
        # one iteration's buffers: normal draws, perturbations, their subspace part, the 2P
        # points, the estimate
        self._z = np.empty(pairs * (n + k), dtype)
        self._eps = np.empty((pairs, n), dtype)
        self._sub = np.empty((pairs, n), dtype)
        self._points = np.empty((2 * pairs, n), dtype)
        self._g = np.empty(n, dtype)
        self._link()
        self._scales_for: tuple[float, int] | None = None
        self._estimate_scale = np.array(self.estimate_factor(p.beta, pairs), dtype)
        # Surrogate norms taken as they are: from the smallest normal number up to the root of
        # the largest (beyond it, the k > 1 basis updates' products of surrogate entries with
        # unit vectors can overflow once summed); others are rescaled (remember).
        limits = np.finfo(dtype)
        self._smallest, self._largest = float(limits.tiny), math.sqrt(float(limits.max))

    def _link(self) -> None:
        """Make the views of the buffers an iteration uses, once: the draws for each number of
        subspace directions held (rows ``[z_n, z_k]``), the points ``x + eps`` and ``x - eps``,
        the basis for k = 1, and the draws' parts (by directions held, as they are needed)."""
        n, k, pairs = self.x.size, self.params.k, self.params.pairs
        self._draws = [self._z[: pairs * (n + h)].reshape(pairs, n + h) for h in range(k + 1)]
        self._plus, self._minus = self._points[:pairs], self._points[pairs:]
        self._direction = self._basis[:, 0]
        self._views: list[_SamplingViews | None] = [None] * (k + 1)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy (pickled or deep-copied): an array copied keeps no view of another, so the
        views are made again, of the copy's own buffers."""
        self.__dict__.update(state)
        if "_basis" in state:  # started
            self._link()

    @property
    def guided(self) -> bool:
        return self.params.alpha < 1

    def remember(self, surrogate: Array) -> None:
        """Push a surrogate gradient into the FIFO and update the basis (all-zero vectors are
        skipped)."""
        source = np.asarray(surrogate)
        if source.dtype == self.dtype:
            s, smallest = np.ascontiguousarray(source), 0.0
        else:  # e.g. a user's float64 surrogate for a float32 run, which may underflow in it
            with np.errstate(over="ignore"):
                s = np.ascontiguousarray(source, dtype=self.dtype)
            smallest = self._smallest
        norm = scaled_norm(s)
        if not smallest <= norm <= self._largest:  # e.g. entries the dtype holds, a norm not
            s, norm = self._rescaled(source, s, norm)
        if norm == 0:
            return
        G, k = self._surrogates, self.params.k
        if k == 1:  # the reduced QR of one column is that column normalised
            np.divide(s, norm, out=self._direction)
            self._held = 1
            return
        full = self._held == k
        if full:
            G[:, :-1] = G[:, 1:]  # drop the oldest, in place
            self._held -= 1
        G[:, self._held] = s
        self._held += 1
        if not self._extend(s, norm, full):
            self._refresh()

    def _rescaled(self, source: Array, s: Array, norm: float) -> tuple[Array, float]:
        """A surrogate too large (or, in a cast, too small) for the dtype's arithmetic (float32
        holds magnitudes within about 1e+-38), divided by its largest entry in float64 before
        it takes the dtype: only its direction matters to the search. One that is all zero or
        not finite stays as it was (``s`` with its ``norm``)."""
        wide = source.astype(np.float64).ravel()
        scale = float(np.abs(wide).max()) if wide.size else 0.0
        if not 0 < scale < math.inf:
            return s, norm
        s = np.ascontiguousarray(wide / scale, dtype=self.dtype)
        return s, scaled_norm(s)

    def _extend(self, s: Array, norm: float, drop: bool) -> bool:
        """Update ``U`` and ``R`` for the FIFO's last change: the oldest column dropped (if
        ``drop``), then ``s`` appended. False when ``s`` lies (nearly) in the span kept."""
        j = self._held - 1  # columns kept before s
        U, R = self._basis, self._R
        if drop:
            # U R[:, 1:] spans the kept surrogates; R[:, 1:] is Hessenberg, its small QR
            # W T re-triangularises it, and U W is the new basis
            W, T = scipy.linalg.qr(R[:, 1:], mode="economic", check_finite=False)
            # formed aside, then copied in: the basis stays in one array, of which views are
            # kept (O(n k), against the O(n k^2) product)
            np.matmul(U, W, out=self._spare[:, :j])
            U[:, :j] = self._spare[:, :j]
            R[:j, :j] = T
            R[j, :] = 0
        kept = U[:, :j]
        r = kept.T @ s
        v = s - kept @ r
        r2 = kept.T @ v  # classical Gram-Schmidt twice: orthogonal to rounding
        v -= kept @ r2
        r += r2
        rho = scaled_norm(v)
        if not rho > 8 * np.finfo(self.dtype).eps * np.sqrt(self.x.size) * norm:
            return False
        np.divide(v, rho, out=U[:, j])
        R[:j, j] = r
        R[j, j] = rho
        R[j, :j] = 0
        return True

    def _refresh(self) -> None:
        """A fresh reduced QR of the surrogates held."""
        h = self._held
        Q, R = scipy.linalg.qr(self._surrogates[:, :h], mode="economic", check_finite=False)
        self._basis[:, :h] = Q
        self._R[:h, :h] = R

    def basis(self) -> Array:
        """Orthonormal basis ``U`` (n x k') of the surrogates held so far (k' may be 0)."""
        return self._basis[:, : self._held]

    def _subspace(self) -> Array:
        return self.basis() if self.guided else self._basis[:, :0]

    def draw(self, pairs: int, k_held: int, out: Array | None = None) -> Array:
        """Standard normal draws for ``pairs`` perturbations with ``k_held`` subspace
        directions: rows of ``n + k_held`` (``out``: a flat buffer to fill)."""
        shape = (pairs, self.x.size + k_held)
        if out is None:
            return self.rng.standard_normal(shape, dtype=self.dtype)
        if out is self._z and pairs == self.params.pairs:
            z = self._draws[k_held]
        else:
            z = out[: shape[0] * shape[1]].reshape(shape)
        self.rng.standard_normal(dtype=self.dtype, out=z)
        return z

    def perturb(
        self, z: Array, alpha: float, U: Array, out: Array | None = None, work: Array | None = None
    ) -> Array:
        """Perturbations ``sigma (sqrt(alpha / n) z_n + sqrt((1 - alpha) / k') U z_k)`` from
        draws ``z`` (rows ``[z_n, z_k]``), into ``out`` (``work``: scratch of its shape)."""
        n, k_held = self.x.size, U.shape[1]
        full, guided = self._scales(alpha, k_held)
        U_T = U.T if k_held else None
        return _perturbations(_SamplingViews(z, z[:, :n], z[:, n:], U_T, full, guided), out, work)

    def _scales(self, alpha: float, k_held: int) -> tuple[Array, Array]:
        """``sigma sqrt(alpha / n)`` and ``sigma sqrt((1 - alpha) / k')`` as 0-d arrays of the
        dtype (a ufunc takes those faster than Python floats, and rounds the same), kept until
        alpha or k' changes."""
        if (alpha, k_held) != self._scales_for:
            sigma, n = self.params.sigma, self.x.size
            guided = sigma * math.sqrt((1 - alpha) / k_held) if k_held else 0.0
            self._scale_values = (
                np.array(sigma * math.sqrt(alpha / n), self.dtype),
                np.array(guided, self.dtype),
            )
            self._scales_for = (alpha, k_held)
        return self._scale_values

    def sample(self, pairs: int, out: Array | None = None) -> Array:
        """Draw ``pairs`` perturbations (rows) from ``N(0, sigma^2 Sigma)`` (into ``out``)."""
        if out is not None and pairs == self.params.pairs:
            return self._sample_buffered(out)
        U = self._subspace()
        k_held = U.shape[1]
        alpha = self.params.alpha if k_held else 1.0  # nothing to guide with yet: isotropic
        return self.perturb(self.draw(pairs, k_held), alpha, U, out)

    def _sample_buffered(self, out: Array) -> Array:
        """:meth:`sample` of an iteration's P perturbations, drawn into the buffers through
        views of them and of the basis made once for each subspace (the same numbers)."""
        held = self._held if self.guided else 0
        views = self._views[held]
        if views is None:
            views = self._views[held] = self._views_for(held)
        self.rng.standard_normal(dtype=self.dtype, out=views.z)
        return _perturbations(views, out, self._sub)

    def _views_for(self, held: int) -> _SamplingViews:
        z, n = self._draws[held], self.x.size
        full, guided = self._scales(self.params.alpha if held else 1.0, held)
        U_T = self._basis[:, :held].T if held else None
        return _SamplingViews(z, z[:, :n], z[:, n:], U_T, full, guided)

    def estimate(
        self, oracle: Oracle, eps: Array, beta: float | None = None, out: Array | None = None
    ) -> Array:
        """Antithetic gradient estimate from perturbations ``eps`` (2P evaluations, one batch),
        scaled by ``beta`` (the parameter by default), into ``out``."""
        pairs = len(eps)
        diffs = self.differences(oracle, eps)
        g = np.matmul(diffs, eps, out=out)
        if beta is None and pairs == self.params.pairs:
            g *= self._estimate_scale
        else:
            g *= self.estimate_factor(self.params.beta if beta is None else beta, pairs)
        return g

    def estimate_factor(self, beta: float, pairs: int) -> float:
        """``beta / (2 sigma^2 P)``: what the summed ``(f(x + eps) - f(x - eps)) eps`` is
        multiplied by to give the estimate."""
        return beta / (2 * self.params.sigma**2 * pairs)

    def differences(self, oracle: Oracle, eps: Array) -> Array:
        """``f(x + eps_i) - f(x - eps_i)`` for each row of ``eps``, from one batch of 2P."""
        pairs = len(eps)
        if pairs == self.params.pairs:
            points, plus, minus = self._points, self._plus, self._minus
        else:
            points = np.empty((2 * pairs, self.x.size), self.dtype)
            plus, minus = points[:pairs], points[pairs:]
        x = self.x[None, :]  # of eps's shape for one pair (a ufunc is slower when it broadcasts)
        np.add(x, eps, out=plus)
        np.subtract(x, eps, out=minus)
        values = oracle.loss(points)
        diffs: Array = values[:pairs] - values[pairs:]
        return diffs if diffs.dtype == self.dtype else diffs.astype(self.dtype)

    def step(self, oracle: Oracle) -> None:
        if self.guided:
            self.remember(oracle.surrogate_grad(self.x))
        eps = self.sample(self.params.pairs, out=self._eps)
        g = self.estimate(oracle, eps, out=self._g)
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
