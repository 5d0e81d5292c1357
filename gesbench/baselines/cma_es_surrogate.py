"""CMA-ES that is shown the surrogate gradient: pycma's gradient injection (``ask(gradf=...)``)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array

from .cma_es import CMAES


class SurrogateCMAES(CMAES):
    """CMA-ES (pycma) injecting the surrogate: one surrogate call per generation, not per iteration.

    Guided ES calls the surrogate once per iteration, so under a ``gradient_calls`` or ``cost``
    budget the two spend differently: a generation here is ``lambda`` evaluations (4 + floor(3
    ln n)) and one surrogate call, an iteration of Guided ES 2P evaluations and one call. Full
    covariance, slow at n >= 5000.

    Each generation queries the surrogate once, at the mean ``m``, and hands it to pycma as
    ``ask(gradf=...)``: pycma replaces the third sampled candidate (index 2) with the
    Newton-like step ``m - sigma sqrt(n / q) C g`` (``q`` the squared Mahalanobis length of
    ``g``), i.e. a step of typical sample length along the surrogate direction seen through the
    learned covariance (Hansen, "Injecting external solutions into CMA-ES", 2011). If it helps,
    selection keeps it; if not, it is ranked out, so a poor surrogate costs one evaluation per
    generation. An all-zero surrogate is handed over too, and pycma then injects the mean
    ``m`` itself, as it does for any user. When the budget ends inside a generation with fewer
    than 3 candidates evaluated, the injected one was not among them. Full covariance only;
    other parameters, the budget handling and the recommendation (the mean) as
    :class:`~gesbench.baselines.cma_es.CMAES`.
    """

    uses_surrogate: ClassVar[bool] = True

    def _ask(self, oracle: Oracle) -> Array:
        from cma.warnings_and_exceptions import NeverTestedWarning

        g = oracle.surrogate_grad(np.array(self.es.mean, dtype=float))
        with warnings.catch_warnings():
            # pycma flags its gradient injection as little tested; it is the documented API.
            warnings.simplefilter("ignore", NeverTestedWarning)
            # pycma says so when it injects the mean for a zero gradient; that is intended.
            warnings.filterwarnings("ignore", message="gradient zero observed")
            return np.asarray(self.es.ask(gradf=lambda _x: g), dtype=float)
