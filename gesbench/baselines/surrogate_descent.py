"""First-order descent that follows the surrogate gradient as if it were the true gradient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from gesbench.core.optimizer import Optimizer
from gesbench.core.oracle import Oracle
from gesbench.core.params import param
from gesbench.core.problem import Array
from gesbench.ges.updates import UpdateParams, UpdateRule


@dataclass(frozen=True)
class SurrogateDescentParams(UpdateParams):
    """The update rule's parameters, with the paper's learning rate for gradient descent."""

    lr: float = param(5e-3, gt=0, doc="learning rate")


class SurrogateDescent(Optimizer):
    """SGD, heavy-ball or Nesterov momentum, or Adam (``update``) on the surrogate gradient.

    The baseline Guided ES must beat: it trusts the surrogate completely. Each iteration makes
    one surrogate call at the current point and no loss evaluation, and hands the surrogate to
    the same update rules Guided ES uses for its estimate (:mod:`gesbench.ges.updates`), so
    ``update``, ``lr``, ``momentum`` and ``adam_*`` mean the same for both. Its iterate is its
    recommendation. With a biased surrogate it converges to the wrong point (on the paper's
    Fig. 1 it stalls near excess loss 0.06). It never evaluates the loss, so it cannot run
    under an evaluation budget.

    Parameters
    ----------
    update : {"sgd", "momentum", "nesterov", "adam"}
        The first-order rule.
    lr : float
        Learning rate; the default 5e-3 is the paper's Fig. 1 setting for gradient descent.
    momentum, adam_beta1, adam_beta2, adam_eps
        The rules' other constants (see :mod:`gesbench.ges.updates`).
    """

    Params = SurrogateDescentParams
    params: SurrogateDescentParams
    uses_loss: ClassVar[bool | None] = False

    def start(self, x0: Array) -> None:
        super().start(x0)
        self._update = UpdateRule(self.params, self.x.size)

    def step(self, oracle: Oracle) -> None:
        self.x = self._update.apply(self.x, oracle.surrogate_grad(self.x))
