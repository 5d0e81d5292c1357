"""Small, fast experiment specs shared by the tests."""

from __future__ import annotations


def small_spec(**overrides: object) -> dict:
    """A fast experiment on a small Fig. 1-style quadratic (TOML-shaped dict)."""
    spec: dict = {
        "name": "small",
        "repetitions": 2,
        "budget": {"kind": "iterations", "limit": 150},
        "trace": {"dense": 10, "per_decade": 10},
        "problems": [{"name": "perturbed_quadratic", "params": {"n": 30, "m": 60}}],
        "optimizers": [
            {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.02}},
            {"name": "vanilla_es", "label": "ES"},
            {"name": "guided_es", "label": "GES"},
        ],
    }
    spec.update(overrides)
    return spec
