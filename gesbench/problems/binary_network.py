"""A one-hidden-layer network with binary (sign) hidden units, trained through a
straight-through surrogate gradient."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from gesbench.core.params import Params, dtype_param, invalid, param
from gesbench.core.problem import Array, Problem, frozen

from .datasets import REAL_SIZES, load_real, standardize
from .perturbed_quadratic import frozen_as

DATASETS = ("digits", "teacher")


@dataclass(frozen=True)
class BinaryNetworkParams(Params):
    """See :class:`BinaryNetwork`; the teacher's sizes are ignored for ``digits``."""

    dataset: str = param("digits", choices=DATASETS, doc="the data set")
    hidden: int = param(32, ge=1, doc="binary hidden units")
    batch_size: int = param(64, ge=1, doc="examples per surrogate minibatch")
    n_samples: int = param(1000, ge=1, doc="teacher: examples")
    n_features: int = param(20, ge=1, doc="teacher: input dimension")
    n_classes: int = param(4, ge=2, doc="teacher: classes")
    teacher_hidden: int = param(8, ge=1, doc="teacher: binary hidden units")
    dtype: str = dtype_param()

    def validate(self) -> None:
        size = REAL_SIZES.get(self.dataset, self.n_samples)
        if self.batch_size > size:
            invalid("batch_size", f"must be in [1, {size}], got {self.batch_size}")


def _sign(u: Array) -> Array:
    """Binary activation with values in {-1, +1} (0 maps to +1, so no unit is ever silent), in
    the precision of ``u``."""
    one = u.dtype.type(1)
    out: Array = np.where(u >= 0, one, -one)
    return out


class BinaryNetwork(Problem):
    """A classifier with binary (sign) hidden units and a straight-through surrogate gradient.

    The network is ``softmax(W2 sign(W1 a + b1) + b2)`` for an input ``a``; its loss is
    piecewise constant in the first layer.

    True loss: mean cross-entropy of the discrete network over the whole data set (no
    regularisation; ``f*`` unknown). ``x`` packs ``W1`` (hidden x inputs), ``b1``, ``W2``
    (classes x hidden) and ``b2``; ``x0`` is a scaled Gaussian initialisation drawn with the
    instance (pre-activations start near N(0, 1)).

    Surrogate: the straight-through estimator on a fresh minibatch of ``batch_size`` examples:
    exact backpropagation through the output layer, and ``sign`` treated as the identity
    where ``|pre-activation| <= 1`` (zero outside, the saturating variant of Hubara et al.).
    There is no true gradient (it is zero almost everywhere for the first layer), so the
    harness logs no alignment; the output-layer block of a full-batch surrogate is exact.

    Data: ``digits`` (1797 8x8 images, 10 classes, from scikit-learn, standardised) or
    ``teacher``: ``n_samples`` Gaussian inputs in ``n_features`` dimensions labelled by the
    arg-max of a random binary teacher network with ``teacher_hidden`` units and ``n_classes``
    outputs (so a student with enough hidden units can fit them exactly).

    ``dtype`` float32 computes on the inputs rounded to float32 (``x0`` is drawn in float64).
    """

    Params = BinaryNetworkParams
    params: BinaryNetworkParams

    def _build(self, rng: np.random.Generator) -> None:
        p = self.params
        if p.dataset == "teacher":
            inputs, labels, classes = self._teacher(rng)
        else:
            raw, labels = load_real("digits")
            inputs, classes = standardize(raw), int(labels.max()) + 1
        self.dtype = np.dtype(p.dtype)
        self.inputs, self.labels = frozen_as(inputs, self.dtype), labels
        d, h = inputs.shape[1], p.hidden
        self.sizes = (h * d, h, classes * h, classes)
        self.shapes = ((h, d), (h,), (classes, h), (classes,))
        self.dim = sum(self.sizes)
        init = np.concatenate(
            [
                rng.standard_normal(h * d) / np.sqrt(d),
                np.zeros(h),
                rng.standard_normal(classes * h) / np.sqrt(h),
                np.zeros(classes),
            ]
        )
        self.x0 = frozen(init)

    def _teacher(self, rng: np.random.Generator) -> tuple[Array, np.ndarray, int]:
        p = self.params
        n, d, c, th = p.n_samples, p.n_features, p.n_classes, p.teacher_hidden
        inputs = rng.standard_normal((n, d))
        hidden = _sign(inputs @ rng.standard_normal((d, th)))
        labels = (hidden @ rng.standard_normal((th, c))).argmax(axis=1)
        labels.flags.writeable = False
        return inputs, labels, c

    def unpack(self, X: Array) -> tuple[Array, Array, Array, Array]:
        """Split a batch of parameter vectors into ``(W1, b1, W2, b2)``, each with a batch axis."""
        cuts = np.cumsum(self.sizes)[:-1]
        parts = np.split(np.asarray(X, dtype=self.dtype), cuts, axis=1)
        w1, b1, w2, b2 = (
            part.reshape(len(X), *s) for part, s in zip(parts, self.shapes, strict=True)
        )
        return w1, b1, w2, b2

    def logits(self, X: Array) -> Array:
        """Output logits of every example under every parameter vector: ``(samples, batch, C)``."""
        w1, b1, w2, b2 = self.unpack(X)
        batch, h, d = w1.shape
        # The first layer of the whole batch is one GEMM; the layout (samples, batch, hidden)
        # keeps every later step contiguous.
        pre = self.inputs @ w1.reshape(batch * h, d).T + b1.reshape(-1)
        hidden = _sign(pre).reshape(-1, batch, h)
        return np.einsum("nbh,bch->nbc", hidden, w2, optimize=True) + b2

    def loss(self, X: Array) -> Array:
        z = self.logits(X)
        top = z.max(axis=2, keepdims=True)
        log_norm = np.log(np.exp(z - top).sum(axis=2)) + top[..., 0]
        picked = np.take_along_axis(z, self.labels[:, None, None], axis=2)[..., 0]
        return (log_norm - picked).mean(axis=0)

    def accuracy(self, X: Array) -> Array:
        """Training accuracy of each row of ``X`` (for reporting; not an objective)."""
        return (self.logits(X).argmax(axis=2) == self.labels[:, None]).mean(axis=0)

    def final_metrics(self, x: Array) -> dict[str, float]:
        return {"accuracy": float(self.accuracy(x[None, :])[0])}

    def straight_through_grad(self, x: Array, rows: np.ndarray | slice) -> Array:
        """Straight-through gradient of the mean cross-entropy over ``rows``."""
        w1, b1, w2, b2 = (part[0] for part in self.unpack(x[None, :]))
        inputs, labels = self.inputs[rows], self.labels[rows]
        pre = inputs @ w1.T + b1
        hidden = _sign(pre)
        probs = softmax(hidden @ w2.T + b2, axis=1)
        probs[np.arange(len(labels)), labels] -= 1
        d_out = probs / len(labels)
        d_pre = (d_out @ w2) * (np.abs(pre) <= 1)
        return np.concatenate(
            [
                (d_pre.T @ inputs).ravel(),
                d_pre.sum(axis=0),
                (d_out.T @ hidden).ravel(),
                d_out.sum(axis=0),
            ]
        )

    def surrogate_grad(self, x: Array, rng: np.random.Generator) -> Array:
        rows = rng.choice(len(self.labels), self.params.batch_size, replace=False)
        return self.straight_through_grad(x, rows)
