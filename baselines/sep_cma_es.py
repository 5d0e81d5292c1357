"""Separable CMA-ES: pycma with a diagonal covariance (``CMA_diagonal``)."""

from __future__ import annotations

from typing import ClassVar

from gesbench.baselines.cma_es import CMAES


class SepCMAES(CMAES):
    """Separable CMA-ES via pycma (diagonal covariance): O(n) per sample, usable at large n.

    Same parameters, seeding, budget handling and recommendation (the mean) as
    :class:`~gesbench.baselines.cma_es.CMAES`; pycma raises its learning rates for the
    diagonal model (Ros and Hansen, 2008), so it adapts faster but cannot learn rotations.
    """

    diagonal: ClassVar[bool] = True
