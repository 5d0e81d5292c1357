"""Vanilla (isotropic, antithetic) evolution strategies: Guided ES with alpha = 1."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from gesbench.ges.guided_es import GES_DEFAULTS, GuidedES


class VanillaES(GuidedES):
    """Antithetic ES with ``eps ~ N(0, sigma^2 / n I)``; never queries the surrogate.

    Exactly :class:`~gesbench.ges.GuidedES` with ``alpha = 1`` (so the same seed gives the same
    trajectory), with the paper's vanilla-ES defaults: sigma 0.1, beta 1, SGD lr 0.2, P = 1.
    """

    defaults: ClassVar[Mapping[str, Any]] = {
        **{k: v for k, v in GES_DEFAULTS.items() if k not in ("alpha", "k")},
        "beta": 1.0,
    }
    uses_surrogate: ClassVar[bool] = False

    def check_params(self) -> None:
        self.params = {**self.params, "alpha": 1.0, "k": 1}
        super().check_params()
