"""First-order descent that follows the surrogate gradient as if it were the true gradient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gesbench.optimizer import Optimizer
from gesbench.oracle import Oracle
from gesbench.problem import Array
from gesbench.updates import UPDATE_DEFAULTS, UpdateRule, check_update_params


class SurrogateDescent(Optimizer):
    """SGD, heavy-ball momentum or Adam (``update``) on the surrogate gradient.

    One surrogate call and no loss evaluation per iteration. The default learning rate
    (5e-3) is the paper's Fig. 1 setting for gradient descent.
    """

    defaults: ClassVar[Mapping[str, Any]] = {**UPDATE_DEFAULTS, "lr": 5e-3}

    def check_params(self) -> None:
        check_update_params(self.name, self.params)

    def start(self, x0: Array) -> None:
        super().start(x0)
        self._update = UpdateRule(self.params, self.x.size)

    def step(self, oracle: Oracle) -> None:
        self.x = self._update.apply(self.x, oracle.surrogate_grad(self.x))
