"""When a trace first reaches each of a set of targets (best-so-far), shared by the metrics."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def first_hits(
    x: NDArray[np.float64], y: NDArray[np.float64], targets: NDArray[np.float64]
) -> NDArray[np.float64]:
    """The first logged ``x`` at which the best-so-far ``y`` is at or below each target.

    ``x`` and ``y`` are one trial's logged points in order; the result has the shape of
    ``targets``, with ``inf`` where a target is never reached. Resolution is that of the
    trace schedule: a target reached between two logged points counts at the later one.
    """
    # NaN (e.g. a non-finite loss at divergence) never counts as progress.
    best = np.minimum.accumulate(np.where(np.isnan(y), np.inf, y))
    pos = np.searchsorted(-best, -np.asarray(targets, dtype=float), side="left")
    padded = np.append(np.asarray(x, dtype=float), np.inf)
    return padded[pos]
