"""The report's provenance names the distribution and version of every plugin a run used, read
from the run's stored components (so it needs the plugin no more than the rest of the report)."""

from __future__ import annotations

import textwrap
from importlib.metadata import Distribution, version
from typing import ClassVar

import numpy as np

from gesbench import parse_experiment
from gesbench.core.optimizer import Optimizer
from gesbench.core.registry import optimizers
from gesbench.report.build import build_report
from gesbench.report.origins import IN_PROCESS, component_origins
from gesbench.report.sections.provenance import SECTION
from gesbench.run.experiment import run_experiment
from gesbench.store.reader import read_meta

PLUGIN = '''
import numpy as np
from gesbench import Optimizer


class AcmeSignDescent(Optimizer):
    """Steps along the sign of the surrogate (an installed plugin)."""

    defaults = {"lr": 0.01}

    def step(self, oracle):
        self.x = self.x - self.params["lr"] * np.sign(oracle.surrogate_grad(self.x))
'''


class LocalDescent(Optimizer):
    """Follows the surrogate (registered in the test's process only)."""

    defaults: ClassVar[dict[str, float]] = {"lr": 0.01}

    def step(self, oracle):
        self.x = self.x - self.params["lr"] * oracle.surrogate_grad(self.x)


def install_plugin(tmp_path, monkeypatch):
    """A distribution 'acme-optimizers' 1.2.3 providing one optimizer through an entry point,
    on sys.path, and visible to the optimizer registry."""
    site = tmp_path / "site"
    (site / "acme_optimizers-1.2.3.dist-info").mkdir(parents=True)
    (site / "acme_plugin_mod.py").write_text(PLUGIN)
    info = site / "acme_optimizers-1.2.3.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-optimizers\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """
            [gesbench.optimizers]
            acme_sign_descent = acme_plugin_mod:AcmeSignDescent
            """
        )
    )
    monkeypatch.syspath_prepend(str(site))
    plugin = list(Distribution.at(info).entry_points)
    real = optimizers._entry_points()
    monkeypatch.setattr(optimizers, "_entry_points", lambda: [*real, *plugin])
    for cache in ("_loaded", "_origins", "_provided"):  # forgotten again after the test
        monkeypatch.setattr(optimizers, cache, dict(getattr(optimizers, cache)))


def test_the_report_lists_each_plugin_distribution_with_its_version(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch)
    run_dir = tmp_path / "run"
    with optimizers.registered("local_descent", LocalDescent):
        experiment = parse_experiment(
            {
                "name": "plugins",
                "repetitions": 1,
                "budget": {"kind": "iterations", "limit": 20},
                "problems": [{"name": "perturbed_quadratic", "params": {"n": 6, "m": 12}}],
                "optimizers": [
                    {"name": "acme_sign_descent", "label": "Acme"},
                    {"name": "local_descent", "label": "Local"},
                    {"name": "guided_es", "label": "GES"},
                ],
            }
        )
        assert run_experiment(experiment, run_dir, progress=False) == {"done": 3}

    origins = component_origins(read_meta(run_dir))
    rows = {r["distribution"]: r for r in origins.to_dict("records")}
    assert list(rows) == ["acme-optimizers", IN_PROCESS, "gesbench (built-in)"]
    assert rows["acme-optimizers"]["version"] == "1.2.3"
    assert rows["acme-optimizers"]["optimizers"] == "acme_sign_descent"
    assert rows[IN_PROCESS]["optimizers"] == "local_descent"
    assert rows["gesbench (built-in)"]["version"] == version("gesbench")
    assert rows["gesbench (built-in)"]["problems"] == "perturbed_quadratic"
    assert rows["gesbench (built-in)"]["optimizers"] == "guided_es"

    build_report(run_dir, sections=[SECTION])  # the plugins are not needed any more
    summary = (run_dir / "summary.md").read_text()
    provenance = summary[summary.index("Provenance") :]
    for text in ("acme-optimizers", "1.2.3", "acme_sign_descent", IN_PROCESS, "local_descent"):
        assert text in provenance, text
    assert "acme-optimizers" in (run_dir / "report.html").read_text()


def test_a_store_without_recorded_origins_shows_no_components_table():
    assert component_origins({}).empty
    older = {"components": {"optimizers": {"guided_es": {"summary": "Guided ES"}}}}
    assert component_origins(older)["distribution"].tolist() == ["(not recorded)"]
    assert np.array_equal(
        component_origins(older).columns, ["distribution", "version", "problems", "optimizers"]
    )
