"""Statistics across repetitions: seeded, vectorised bootstrap confidence intervals."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def bootstrap_median_ci(
    values: ArrayLike,
    *,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Median and percentile-bootstrap CI over axis 0 (repetitions), for every column at once.

    ``values`` has shape ``(repetitions,)`` or ``(repetitions, points)``; returns ``(median,
    low, high)`` with the trailing shape. Resampling indices are shared across columns, so a
    curve's band is the band of whole resampled curves' medians, point by point.
    """
    y = np.asarray(values, dtype=float)
    if y.ndim == 0 or len(y) == 0:
        raise ValueError("need at least one repetition")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    medians = np.median(y[idx], axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail], axis=0)
    return np.median(y, axis=0), low, high
