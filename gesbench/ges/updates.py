"""First-order update rules (SGD, heavy-ball and Nesterov momentum, Adam) in plain numpy.

Guided ES hands its gradient estimate to one of these as if it were the gradient; the
surrogate-following baselines hand them the surrogate itself. Both declare their parameters by
extending :class:`UpdateParams`, so a rule means the same thing wherever it is used.

With ``g`` the direction handed in at step ``t`` (from 1) and ``lr`` the learning rate:

- ``sgd``:       ``x <- x - lr g``
- ``momentum``:  ``m <- mu m + g;  x <- x - lr m``                      (heavy ball)
- ``nesterov``:  ``m <- mu m + g;  x <- x - lr (g + mu m)``             (look-ahead form)
- ``adam``:      ``m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
  x <- x - lr m_hat / (sqrt(v_hat) + eps)`` with bias-corrected ``m_hat = m / (1 - b1^t)``,
  ``v_hat = v / (1 - b2^t)`` (Kingma and Ba, 2015).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from gesbench.core.params import Params, param
from gesbench.core.problem import Array

UPDATE_RULES = ("sgd", "momentum", "nesterov", "adam")


@dataclass(frozen=True)
class UpdateParams(Params):
    """Parameters shared by every optimizer that takes a first-order step (``momentum`` is
    used by the two momentum rules, ``adam_*`` by Adam)."""

    update: str = param("sgd", choices=UPDATE_RULES, doc="the first-order rule")
    lr: float = param(0.2, gt=0, doc="learning rate")
    momentum: float = param(0.9, ge=0, lt=1, doc="momentum coefficient (momentum, nesterov)")
    adam_beta1: float = param(0.9, ge=0, lt=1, doc="Adam's first-moment decay")
    adam_beta2: float = param(0.999, ge=0, lt=1, doc="Adam's second-moment decay")
    adam_eps: float = param(1e-8, gt=0, doc="Adam's denominator offset")


UPDATE_DEFAULTS: Mapping[str, Any] = MappingProxyType(UpdateParams.default_values())
"""The defaults of :class:`UpdateParams`, as a plain mapping."""


class UpdateRule:
    """Stateful first-order step for one optimizer run (state starts at zero).

    The state and the scratch the step is formed in are preallocated (in ``dtype``), so a
    step allocates only the new point; the direction handed in is never modified.
    """

    def __init__(self, p: UpdateParams, dim: int, dtype: DTypeLike = np.float64) -> None:
        self.rule = p.update
        self.lr = np.array(p.lr, dtype)  # 0-d: a ufunc takes it faster than a float
        self.mu = p.momentum
        self.b1, self.b2, self.eps = p.adam_beta1, p.adam_beta2, p.adam_eps
        self.t = 0
        self.m = np.zeros(dim, dtype)
        self.v = np.zeros(dim, dtype)
        self._step = np.empty(dim, dtype)
        self._work = np.empty(dim, dtype)

    def apply(self, x: Array, g: Array) -> Array:
        """Return the new point after one step along the direction ``g``."""
        step, work = self._step, self._work
        if self.rule == "sgd":
            np.multiply(g, self.lr, out=step)
            return x - step
        if self.rule in ("momentum", "nesterov"):
            m = self.m
            m *= self.mu
            m += g
            if self.rule == "momentum":
                np.multiply(m, self.lr, out=step)
            else:  # g + mu m
                np.multiply(m, self.mu, out=step)
                step += g
                step *= self.lr
            return x - step
        self.t += 1
        m, v = self.m, self.v
        m *= self.b1
        np.multiply(g, 1 - self.b1, out=work)
        m += work
        v *= self.b2
        np.multiply(g, 1 - self.b2, out=work)
        work *= g
        v += work
        # x - lr m_hat / (sqrt(v_hat) + eps), in that order of operations
        np.divide(v, 1 - self.b2**self.t, out=work)
        np.sqrt(work, out=work)
        work += self.eps
        np.divide(m, 1 - self.b1**self.t, out=step)
        step *= self.lr
        step /= work
        return x - step
