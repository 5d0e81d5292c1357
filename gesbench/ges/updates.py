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
    """Stateful first-order step for one optimizer run (state starts at zero)."""

    def __init__(self, p: UpdateParams, dim: int) -> None:
        self.rule = p.update
        self.lr = p.lr
        self.mu = p.momentum
        self.b1, self.b2, self.eps = p.adam_beta1, p.adam_beta2, p.adam_eps
        self.t = 0
        self.m = np.zeros(dim)
        self.v = np.zeros(dim)

    def apply(self, x: Array, g: Array) -> Array:
        """Return the new point after one step along the direction ``g``."""
        if self.rule == "sgd":
            return x - self.lr * g
        if self.rule in ("momentum", "nesterov"):
            self.m = self.mu * self.m + g
            step = self.m if self.rule == "momentum" else g + self.mu * self.m
            return x - self.lr * step
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return x - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
