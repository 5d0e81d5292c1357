"""Meta-learning the learning rates of an unrolled inner gradient descent, with a truncated
backpropagation surrogate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from gesbench.core.params import Params, dtype_param, invalid, param
from gesbench.core.problem import Array, Problem, frozen

from .perturbed_quadratic import frozen_as

META = ("per_step", "per_parameter")


@dataclass(frozen=True)
class TruncatedUnrollParams(Params):
    """See :class:`TruncatedUnroll`."""

    meta: str = param("per_step", choices=META, doc="what the learning rates are per")
    T: int = param(100, ge=1, doc="inner steps unrolled")
    K: int = param(10, ge=1, doc="last steps the surrogate backpropagates through (<= T)")
    n_features: int = param(20, ge=1, doc="inner weights")
    n_samples: int = param(100, ge=1, doc="inner examples")
    condition: float = param(100.0, ge=1, doc="condition number of the inner Hessian")
    max_lr: float = param(2.0, gt=0, doc="largest learning rate")
    init_lr: float = param(0.1, gt=0, doc="starting learning rate (< max_lr)")
    dtype: str = dtype_param()

    def validate(self) -> None:
        if self.K > self.T:
            invalid("K", f"must be in [1, T = {self.T}], got {self.K}")
        if self.init_lr >= self.max_lr:
            invalid("init_lr", f"must be in (0, max_lr = {self.max_lr}), got {self.init_lr}")


class TruncatedUnroll(Problem):
    """Tune the learning rates of ``T`` steps of gradient descent on a least-squares task.

    Inner task: ``L(w) = ||A w - y||^2 / (2 n_samples)`` with ``n_features`` weights, ``A``
    Gaussian with column scales log-spaced so the inner Hessian ``H`` has condition number
    ``condition`` (rescaled to ``lambda_max(H) = 1``), ``y = A w_true + 0.1 noise``.
    Inner run: ``w_0 = 0``, ``w_{t+1} = w_t - eta_t * grad L(w_t)`` for ``T`` steps.

    Meta-parameters ``x`` (logits of the learning rates, ``eta = max_lr * sigmoid(x)``, so
    every rate stays in ``(0, max_lr)``; with ``max_lr <= 2`` the inner run never diverges):

    - ``per_step``: one rate per step (``dim = T``), a learning-rate schedule;
    - ``per_parameter``: one rate per inner weight shared by all steps (``dim = n_features``),
      a diagonal preconditioner.

    True loss: ``L(w_T)`` after the full ``T``-step unroll, evaluated forward (vectorised over
    a batch of meta-parameter vectors; the loop is over the ``T`` steps only). ``true_grad`` is
    exact backpropagation through all ``T`` steps.

    Surrogate: backpropagation through only the last ``K`` steps (``w_{T-K}`` treated as a
    constant), computed exactly: truncated backpropagation, biased toward short horizons. For
    ``per_step`` it is the true gradient with the first ``T - K`` entries zeroed; for
    ``per_parameter`` it ignores how the shared rates shaped ``w_{T-K}``. Deterministic (it
    draws nothing from ``rng``). ``x0`` puts every rate at ``init_lr``. ``f*`` is unknown;
    ``inner_floor``, the inner task's least-squares minimum, is a lower bound on the loss.
    ``dtype`` float32 computes on the inner task rounded to float32 (``inner_floor`` stays the
    float64 value).
    """

    Params = TruncatedUnrollParams
    params: TruncatedUnrollParams

    def _build(self, rng: np.random.Generator) -> None:
        p = self.params
        n, m = p.n_samples, p.n_features
        scales = p.condition ** (-0.5 * np.linspace(0.0, 1.0, m))
        A = rng.standard_normal((n, m)) * scales
        A /= np.sqrt(np.linalg.eigvalsh(A.T @ A / n)[-1])
        y = A @ rng.standard_normal(m) + 0.1 * rng.standard_normal(n)
        self.dtype = np.dtype(np.float64)  # the floor in float64 whatever the dtype
        self.A, self.y = frozen(A), frozen(y)
        w_best = np.asarray(np.linalg.lstsq(A, y, rcond=None)[0], dtype=float)
        self.inner_floor = float(self.inner_loss(w_best[None, :])[0])
        self.dtype = dtype = np.dtype(p.dtype)
        self.A, self.y = frozen_as(A, dtype), frozen_as(y, dtype)
        self.hessian = frozen_as(A.T @ A / n, dtype)
        self.target = frozen_as(A.T @ y / n, dtype)  # grad L(w) = H w - target
        self.dim = p.T if p.meta == "per_step" else m
        self.x0 = frozen(np.full(self.dim, logit(p.init_lr / p.max_lr)))
        self.f_star = None

    def rates(self, X: Array) -> Array:
        """Learning rates of a batch of meta-parameter vectors, shape ``(batch, T, n_features)``
        (broadcast: ``(batch, T, 1)`` per step, ``(batch, 1, n_features)`` per parameter)."""
        eta = self.params.max_lr * expit(np.asarray(X, dtype=self.dtype))
        return eta[:, :, None] if self.params.meta == "per_step" else eta[:, None, :]

    def unroll(self, X: Array) -> Array:
        """Inner weights after each step: shape ``(T + 1, batch, n_features)``."""
        eta = self.rates(X)
        w = np.zeros((self.params.T + 1, len(X), self.params.n_features), self.dtype)
        for t in range(self.params.T):
            step = eta[:, min(t, eta.shape[1] - 1)]
            w[t + 1] = w[t] - step * (w[t] @ self.hessian - self.target)
        return w

    def inner_loss(self, W: Array) -> Array:
        """Inner least-squares loss of each row of ``W``."""
        residuals = np.asarray(W, dtype=self.dtype) @ self.A.T - self.y
        return np.einsum("ij,ij->i", residuals, residuals) / (2 * len(self.y))

    def loss(self, X: Array) -> Array:
        return self.inner_loss(self.unroll(X)[-1])

    def backprop(self, x: Array, steps: int) -> Array:
        """Gradient of the final inner loss through the last ``steps`` steps of the unroll."""
        T = self.params.T
        eta = self.rates(x[None, :])[0]
        w = self.unroll(x[None, :])[:, 0]
        grads = w @ self.hessian - self.target  # grad L(w_t) for every t
        per_step = self.params.meta == "per_step"
        d_eta = np.zeros_like(eta) if per_step else np.zeros((T, eta.shape[1]), self.dtype)
        adjoint = grads[T]  # dL(w_T)/dw_t, walked backwards
        for t in range(T - 1, T - 1 - steps, -1):
            step = eta[min(t, len(eta) - 1)]
            # w_{t+1} = w_t - eta_t * g_t:  d/d eta_t = -adjoint * g_t
            contribution = -adjoint * grads[t]
            if per_step:
                d_eta[t] = contribution.sum()
            else:
                d_eta[t] = contribution
            adjoint = adjoint - self.hessian @ (step * adjoint)
        eta_flat = eta[:, 0] if per_step else eta[0]
        d_flat = d_eta[:, 0] if per_step else d_eta.sum(axis=0)
        # eta = max_lr * sigmoid(x)  =>  d eta / dx = eta * (1 - eta / max_lr)
        return d_flat * eta_flat * (1 - eta_flat / self.params.max_lr)

    def true_grad(self, x: Array) -> Array:
        return self.backprop(x, self.params.T)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        return self.backprop(x, self.params.K)
