"""First-order update rules (SGD, heavy-ball momentum, Adam) in plain numpy.

Guided ES hands its gradient estimate to one of these as if it were the gradient; the
surrogate-following baselines hand them the surrogate itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gesbench.params import require
from gesbench.problem import Array

UPDATE_RULES = ("sgd", "momentum", "adam")

UPDATE_DEFAULTS: Mapping[str, Any] = {
    "update": "sgd",
    "lr": 0.2,
    "momentum": 0.9,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_eps": 1e-8,
}
"""Parameters shared by every optimizer that takes a first-order step."""


def check_update_params(owner: str, p: Mapping[str, Any]) -> None:
    require(p["update"] in UPDATE_RULES, owner, f"update must be one of {UPDATE_RULES}")
    require(p["lr"] > 0, owner, f"lr must be > 0, got {p['lr']}")
    require(0 <= p["momentum"] < 1, owner, f"momentum must be in [0, 1), got {p['momentum']}")
    for name in ("adam_beta1", "adam_beta2"):
        require(0 <= p[name] < 1, owner, f"{name} must be in [0, 1), got {p[name]}")
    require(p["adam_eps"] > 0, owner, f"adam_eps must be > 0, got {p['adam_eps']}")


class UpdateRule:
    """Stateful first-order step ``x <- x - lr * direction(g)`` for one optimizer run."""

    def __init__(self, p: Mapping[str, Any], dim: int) -> None:
        self.rule = p["update"]
        self.lr = p["lr"]
        self.mu = p["momentum"]
        self.b1, self.b2, self.eps = p["adam_beta1"], p["adam_beta2"], p["adam_eps"]
        self.t = 0
        self.m = np.zeros(dim)
        self.v = np.zeros(dim)

    def apply(self, x: Array, g: Array) -> Array:
        """Return the new point after one step along the estimate ``g``."""
        if self.rule == "sgd":
            return x - self.lr * g
        if self.rule == "momentum":
            self.m = self.mu * self.m + g
            return x - self.lr * self.m
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1**self.t)
        v_hat = self.v / (1 - self.b2**self.t)
        return x - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
