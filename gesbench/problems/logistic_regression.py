"""L2-regularised softmax regression with a minibatch (optionally biased) surrogate gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

from gesbench.core.params import Params, dtype_param, invalid, param
from gesbench.core.problem import Array, Problem, frozen

from .datasets import REAL_DATASETS, REAL_SIZES, load_real, standardize
from .perturbed_quadratic import frozen_as

DATASETS = (*REAL_DATASETS, "synthetic")
_SOLUTIONS: dict[tuple[str, float], tuple[Array, float]] = {}


@dataclass(frozen=True)
class LogisticRegressionParams(Params):
    """See :class:`LogisticRegression`; the synthetic data's sizes are ignored otherwise."""

    dataset: str = param("breast_cancer", choices=DATASETS, doc="the data set")
    l2: float = param(1e-3, gt=0, doc="L2 regularisation")
    batch_size: int = param(32, ge=1, doc="examples per surrogate minibatch")
    label_noise: float = param(0.0, ge=0, lt=1, doc="share of labels changed for the surrogate")
    n_samples: int = param(1000, ge=2, doc="synthetic: examples")
    n_features: int = param(20, ge=1, doc="synthetic: features")
    n_classes: int = param(2, ge=2, doc="synthetic: classes")
    dtype: str = dtype_param()

    def validate(self) -> None:
        size = REAL_SIZES.get(self.dataset, self.n_samples)
        if self.batch_size > size:
            invalid("batch_size", f"must be in [1, {size}], got {self.batch_size}")


class LogisticRegression(Problem):
    """Softmax regression trained on a full data set; the surrogate sees minibatches.

    True loss: mean cross-entropy over the whole data set plus ``l2 / 2 * ||x||^2``, where
    ``x`` holds the ``(features + 1) x classes`` weights (a constant feature of 1 carries the
    intercepts, which are regularised too, so the optimum is unique). Features are standardised.
    ``x0 = 0`` (loss ``log(classes)``); ``f*`` comes from L-BFGS run to a gradient norm of about
    1e-9 or less; the loss is strongly convex (modulus ``l2``), so ``f*`` is accurate to ~1e-14.

    Surrogate: the gradient on a fresh minibatch of ``batch_size`` examples (drawn without
    replacement), computed on a copy of the data in which a fraction ``label_noise`` of the
    labels (drawn with the instance) was changed to another class: a systematic bias that no
    amount of averaging removes.

    Data sets: ``breast_cancer`` (569 x 30, 2 classes) and ``digits`` (1797 x 64, 10 classes),
    both shipped inside scikit-learn; ``synthetic``: ``n_samples`` Gaussian points in
    ``n_features`` dimensions with labels drawn from a random softmax teacher (not separable,
    so the unregularised problem is well posed too). The synthetic parameters are ignored for
    the real data sets.

    ``dtype`` float32 computes on the features rounded to float32; the optimum and ``f*`` stay
    the float64 ones.
    """

    Params = LogisticRegressionParams
    params: LogisticRegressionParams

    def _build(self, rng: np.random.Generator) -> None:
        p = self.params
        if p.dataset == "synthetic":
            features, labels = _synthetic(p.n_samples, p.n_features, p.n_classes, rng)
        else:
            features, labels = load_real(p.dataset)
        n_samples = len(labels)
        self.dtype = np.dtype(np.float64)  # f* is solved in float64 whatever the dtype
        self.features = frozen(np.column_stack([standardize(features), np.ones(n_samples)]))
        self.labels = labels
        synthetic = p.dataset == "synthetic"
        self.n_classes = p.n_classes if synthetic else int(labels.max()) + 1
        self.shape = (self.features.shape[1], self.n_classes)
        self.dim = self.shape[0] * self.shape[1]
        self.noisy_labels = _corrupt(labels, self.n_classes, p.label_noise, rng)
        self.noisy_labels.flags.writeable = False
        self.x0 = frozen(np.zeros(self.dim))
        if synthetic:
            self.x_star, self.f_star = self._solve()
        else:  # the optimum depends only on (dataset, l2): solve once per process
            key = (p.dataset, p.l2)
            if key not in _SOLUTIONS:
                _SOLUTIONS[key] = self._solve()
            self.x_star, self.f_star = _SOLUTIONS[key]
        self.dtype = np.dtype(p.dtype)
        self.features = frozen_as(self.features, self.dtype)

    def _solve(self) -> tuple[Array, float]:
        """Minimise the true loss with L-BFGS to a tight tolerance."""
        result = minimize(
            lambda x: (float(self.loss(x[None, :])[0]), self.true_grad(x)),
            np.zeros(self.dim),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": 20000, "maxcor": 30, "gtol": 1e-10, "ftol": 1e-16},
        )
        return frozen(result.x), float(result.fun)

    def loss(self, X: Array) -> Array:
        X = np.asarray(X, dtype=self.dtype)
        d, c = self.shape
        # One GEMM for the whole batch: logits of every example under every parameter vector.
        weights = X.reshape(len(X), d, c).transpose(1, 0, 2).reshape(d, -1)
        logits = (self.features @ weights).reshape(-1, len(X), c)
        logp = log_softmax(logits, axis=2)
        nll = -logp[np.arange(len(self.labels)), :, self.labels].mean(axis=0)
        return nll + 0.5 * self.params.l2 * np.einsum("ij,ij->i", X, X)

    def _gradient(self, x: Array, rows: np.ndarray | slice, labels: np.ndarray) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        features = self.features[rows]
        probs = softmax(features @ x.reshape(self.shape), axis=1)
        probs[np.arange(len(features)), labels[rows]] -= 1
        return (features.T @ probs).ravel() / len(features) + self.params.l2 * x

    def true_grad(self, x: Array) -> Array:
        return self._gradient(x, slice(None), self.labels)

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        rows = rng.choice(len(self.labels), self.params.batch_size, replace=False)
        return self._gradient(x, rows, self.noisy_labels)

    def accuracy(self, X: Array) -> Array:
        """Training accuracy of each row of ``X`` (for reporting; not an objective)."""
        d, c = self.shape
        weights = X.reshape(len(X), d, c).transpose(1, 0, 2).reshape(d, -1)
        logits = (self.features @ weights).reshape(-1, len(X), c)
        return (logits.argmax(axis=2) == self.labels[:, None]).mean(axis=0)

    def final_metrics(self, x: Array) -> dict[str, float]:
        return {"accuracy": float(self.accuracy(x[None, :])[0])}


def _corrupt(
    labels: Array, n_classes: int, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """A copy of ``labels`` with ``fraction`` of them moved to a different, random class."""
    out = labels.copy()
    flip = rng.random(len(labels)) < fraction
    out[flip] = (labels[flip] + rng.integers(1, n_classes, flip.sum())) % n_classes
    return out


def _synthetic(
    n_samples: int, n_features: int, n_classes: int, rng: np.random.Generator
) -> tuple[Array, np.ndarray]:
    """Gaussian inputs; labels sampled from a random softmax teacher (so not separable)."""
    features = rng.standard_normal((n_samples, n_features))
    teacher = rng.standard_normal((n_features, n_classes)) * (3 / np.sqrt(n_features))
    probs = softmax(features @ teacher, axis=1)
    # Inverse-CDF sampling of one label per row, vectorised.
    labels = (rng.random((n_samples, 1)) > probs.cumsum(axis=1)).sum(axis=1)
    labels = np.minimum(labels, n_classes - 1)
    labels.flags.writeable = False
    return features, labels
