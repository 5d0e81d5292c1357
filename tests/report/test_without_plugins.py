"""The report needs no plugin and no registry: everything it uses is stored with the run."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from gesbench import parse_experiment
from gesbench.core.errors import GesbenchError
from gesbench.core.optimizer import Optimizer
from gesbench.core.params import Params, param
from gesbench.core.registry import Registry, optimizers
from gesbench.ges.guided_es import GuidedES, GuidedESParams
from gesbench.report.build import build_report
from gesbench.run.experiment import run_experiment


@dataclass(frozen=True)
class SignParams(Params):
    lr: float = param(0.01, gt=0, doc="step length")


class PluginSignDescent(Optimizer):
    """Steps along the sign of the surrogate (a plugin known only to this test)."""

    Params = SignParams
    params: SignParams

    def step(self, oracle):
        self.x = self.x - self.params.lr * np.sign(oracle.surrogate_grad(self.x))


@dataclass(frozen=True)
class WideParams(GuidedESParams):
    alpha: float = param(0.25, ge=0, le=1, doc="share of the search variance in the full space")


class PluginWideGES(GuidedES):
    """Guided ES configured by a third party: more of the search in the guiding subspace."""

    Params = WideParams
    params: WideParams


SPEC = {
    "name": "plugins",
    "repetitions": 2,
    "budget": {"kind": "iterations", "limit": 40},
    "trace": {"dense": 10, "per_decade": 10},
    "problems": [{"name": "perturbed_quadratic", "params": {"n": 12, "m": 24}}],
    "optimizers": [
        {"name": "surrogate_descent", "label": "GD", "params": {"lr": 0.05}},
        {"name": "plugin_sign_descent", "label": "Sign steps", "params": {"lr": 0.02}},
        # Not the reference: alpha 0.25 is not Guided ES's default ...
        {"name": "guided_es", "label": "Guided ES", "params": {"alpha": 0.25}},
        # ... but it is the plugin's, which only the store knows once the plugin is gone.
        {"name": "plugin_wide_ges", "label": "Wide GES"},
    ],
}


def test_report_of_a_run_whose_plugins_are_gone(tmp_path, monkeypatch):
    with (
        optimizers.registered("plugin_sign_descent", PluginSignDescent),
        optimizers.registered("plugin_wide_ges", PluginWideGES),
    ):
        counts = run_experiment(parse_experiment(SPEC), tmp_path, progress=False)
    assert counts == {"done": 8}
    with pytest.raises(GesbenchError):
        optimizers.get("plugin_sign_descent")

    def no_registry(*args, **kwargs):
        raise AssertionError("the report asked the registry")

    for name, attr in vars(Registry).items():
        if callable(attr) and not name.startswith("__"):
            monkeypatch.setattr(Registry, name, no_registry)

    names = {p.name for p in build_report(tmp_path)}
    assert {
        "final_results.csv",
        "theory_perturbed_quadratic.png",
        "report.html",
        "summary.md",
    } <= names
    table = pd.read_csv(tmp_path / "final_results.csv")
    assert set(table["label"]) == {"GD", "Sign steps", "Guided ES", "Wide GES"}
    assert set(table["reference"]) == {"Wide GES"}  # from the stored defaults and GES flag
    summary = (tmp_path / "summary.md").read_text()
    assert "| Sign steps |" in summary and "alignment rho of Wide GES" in summary
    assert "\n> " not in summary  # no section failed or was left undrawn
