"""The registries: entry points naming one component or a table, presets, lazy loading."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import EntryPoint
from typing import Any

import numpy as np
import pytest

from gesbench.baselines.cma_es import CMAES
from gesbench.core.errors import HyperparameterError, PluginError, UnknownNameError
from gesbench.core.optimizer import Optimizer
from gesbench.core.registry import Preset, Registry, optimizers
from gesbench.ges.guided_es import GuidedES

TABLE = {
    "tbl_ges": GuidedES,
    "tbl_iso": Preset(
        GuidedES,
        "Isotropic search.\n\nMore text.",
        fixed={"alpha": 1, "k": 1},
        defaults={"beta": 1},
        attrs={"uses_surrogate": False},
    ),
}
NOT_A_TABLE = 42


def registry_with(monkeypatch: pytest.MonkeyPatch, *eps: tuple[str, str]) -> Registry[Any]:
    registry: Registry[Any] = Registry("optimizer", "test.optimizers", Optimizer)
    points = [EntryPoint(name, value, "test.optimizers") for name, value in eps]
    monkeypatch.setattr(registry, "_entry_points", lambda: points)
    return registry


def test_a_table_entry_point_registers_every_row(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = registry_with(
        monkeypatch,
        ("tables", f"{__name__}:TABLE"),
        ("single", "gesbench.ges.guided_es:GuidedES"),
    )
    assert registry.names() == ["single", "tbl_ges", "tbl_iso"]
    assert registry.get("tbl_ges") is GuidedES and registry.get("single") is GuidedES
    iso = registry.get("tbl_iso")
    assert registry.get("tbl_iso") is iso  # built once
    assert issubclass(iso, GuidedES) and iso.preset is TABLE["tbl_iso"]
    assert iso.__doc__.splitlines()[0] == "Isotropic search."
    assert "alpha = 1.0, k = 1 fixed" in iso.__doc__
    assert iso.fixed == {"alpha": 1.0, "k": 1} and iso.uses_surrogate is False
    assert "alpha" not in iso.defaults and iso.defaults["beta"] == 1.0
    assert iso.defaults["sigma"] == GuidedES.defaults["sigma"]


def test_a_preset_runs_as_its_base_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = registry_with(monkeypatch, ("tables", f"{__name__}:TABLE"))
    iso = registry.create("tbl_iso", {"sigma": 0.3}, rng=5)
    twin = GuidedES(rng=5, sigma=0.3, alpha=1.0, k=1, beta=1.0)
    assert iso.params.as_dict() == twin.params.as_dict()
    for opt in (iso, twin):
        opt.start(np.zeros(6))
    np.testing.assert_array_equal(iso.sample(4), twin.sample(4))


def test_fixed_parameters_cannot_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = registry_with(monkeypatch, ("tables", f"{__name__}:TABLE"))
    iso = registry.get("tbl_iso")
    with pytest.raises(HyperparameterError, match=r"'alpha' is fixed to 1.0 in tbl_iso"):
        iso(alpha=0.5)
    with pytest.raises(HyperparameterError, match="'k' is fixed"):
        iso.params_dict({"k": 2}, owner="tbl_iso")
    # every user-settable parameter, but dtype only once set away from float64 (trial ids)
    assert set(iso.params_dict({})) == set(iso.defaults) - {"dtype"}
    assert iso.params_dict({"dtype": "float32"})["dtype"] == "float32"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (Preset(GuidedES, "x", fixed={"alpah": 1.0}), "no parameter 'alpah'"),
        (Preset(GuidedES, "x", defaults={"sigma": -1.0}), "sigma must be > 0"),
        (Preset(GuidedES, "x", attrs={"diagonal": True}), "no attribute"),
        (Preset(GuidedES, "x", fixed={"k": 1}, defaults={"k": 2}), "both fixed and defaulted"),
    ],
)
def test_a_bad_preset_row_is_refused_clearly(row: Preset, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        row.build("bad")


def test_broken_plugins_are_reported_and_do_not_hide_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = registry_with(
        monkeypatch,
        ("tables", f"{__name__}:TABLE"),
        ("missing", "no_such_module_xyz:Thing"),
        ("number", f"{__name__}:NOT_A_TABLE"),
    )
    loaded, broken = registry.load_all()
    assert set(loaded) == {"tbl_ges", "tbl_iso"}
    assert set(broken) == {"missing", "number"}
    assert "failed to load" in broken["missing"] and "not a subclass" in broken["number"]
    with pytest.raises(PluginError, match="failed to load"):
        registry.get("missing")
    assert registry.get("tbl_iso").preset is TABLE["tbl_iso"]
    with pytest.raises(UnknownNameError, match="Did you mean 'tbl_iso'"):
        registry.get("tbl_isso")


def test_asking_for_one_optimizer_imports_neither_nevergrad_nor_cma() -> None:
    code = (
        "import sys\n"
        "from gesbench.core.registry import optimizers\n"
        "for name in ('guided_es', 'vanilla_es', 'sep_cma_es', 'ng_cma'):\n"
        "    optimizers.create(name, {}, rng=0)\n"
        "print('nevergrad' in sys.modules, 'cma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_built_in_presets_keep_their_stored_parameters() -> None:
    """Presets store exactly the parameters their classes used to (trial ids hash them)."""
    ges = dict(GuidedES.defaults)
    assert dict(optimizers.get("vanilla_es").defaults) == {
        **{k: v for k, v in ges.items() if k not in ("alpha", "k")},
        "beta": 1.0,
    }
    cma = {"sigma0": 0.1, "popsize": 0, "evaluations_per_step": 0}
    for name in ("cma_es", "sep_cma_es", "cma_es_surrogate"):
        assert dict(optimizers.get(name).defaults) == cma
    sep, full = optimizers.get("sep_cma_es"), optimizers.get("cma_es")
    assert issubclass(sep, CMAES) and issubclass(full, CMAES)
    assert sep.diagonal and not full.diagonal
