"""Small real data sets shipped inside scikit-learn (no download at run time)."""

from __future__ import annotations

from functools import cache

import numpy as np

from gesbench.core.problem import Array, frozen

REAL_DATASETS = ("breast_cancer", "digits")
REAL_SIZES = {"breast_cancer": 569, "digits": 1797}
"""Examples in each data set, known without loading it (parameters are checked before)."""


@cache
def load_real(name: str) -> tuple[Array, np.ndarray]:
    """Features (read-only floats) and integer labels of a bundled scikit-learn data set."""
    from sklearn import datasets  # imported on first use: scikit-learn is slow to import

    loader = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits}[name]
    bunch = loader()
    labels = np.asarray(bunch.target, dtype=np.intp)
    labels.flags.writeable = False
    return frozen(bunch.data), labels


def standardize(features: Array) -> Array:
    """Zero mean, unit variance per column (constant columns are only centred)."""
    std = features.std(axis=0)
    return (features - features.mean(axis=0)) / np.where(std > 0, std, 1.0)
