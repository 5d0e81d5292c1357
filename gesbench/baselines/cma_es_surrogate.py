"""CMA-ES that is shown the surrogate gradient: pycma's gradient injection (``ask(gradf=...)``)."""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np

from gesbench.core.oracle import Oracle
from gesbench.core.problem import Array

from .cma_es import CMAES


class SurrogateCMAES(CMAES):
    """CMA-ES via pycma plus a candidate along the surrogate; full covariance, slow at n >= 5000.

    Each generation queries the surrogate once, at the mean ``m``, and pycma replaces one
    sampled candidate with the Newton-like step ``m - sigma sqrt(n / q) C g`` (``q`` the
    squared Mahalanobis length of ``g``), i.e. a step of typical sample length along the
    surrogate direction seen through the learned covariance (Hansen, "Injecting external
    solutions into CMA-ES", 2011). If it helps, selection keeps it; if not, it is ranked out,
    so a poor surrogate costs one evaluation per generation. An all-zero surrogate is not
    injected. Full covariance only; other parameters as :class:`~gesbench.baselines.cma_es.CMAES`.
    """

    uses_surrogate: ClassVar[bool] = True

    def _ask(self, oracle: Oracle) -> Array:
        from cma.warnings_and_exceptions import NeverTestedWarning

        g = oracle.surrogate_grad(np.array(self.es.mean, dtype=float))
        if not g.any():
            return super()._ask(oracle)
        with warnings.catch_warnings():
            # pycma flags its gradient injection as little tested; it is the documented API.
            warnings.simplefilter("ignore", NeverTestedWarning)
            return np.asarray(self.es.ask(gradf=lambda _x: g), dtype=float)
