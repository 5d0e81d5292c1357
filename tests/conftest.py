"""Shared fixtures: small, real instances of the built-in components."""

from __future__ import annotations

import numpy as np
import pytest

from gesbench.spec.experiment import parse_experiment

from spec_factory import small_spec


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def small_experiment():
    return parse_experiment(small_spec())
