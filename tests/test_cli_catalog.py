"""`gesbench --version` and `gesbench list --json`: the catalogue as data."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.metadata import EntryPoint, version

import pytest

from gesbench.cli import main
from gesbench.core.registry import optimizers, problems
from gesbench.ges.guided_es import GuidedES
from gesbench.spec.experiment import builtin_experiments


class LocalES(GuidedES):
    """An optimizer registered in this process only."""


def catalog(capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["list", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_version_is_the_installed_distribution_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"gesbench {version('gesbench')}"


def test_json_lists_every_component_with_its_declared_parameters_and_origin(capsys) -> None:
    data = catalog(capsys)
    assert data["gesbench"] == version("gesbench")
    assert set(data["problems"]) == set(problems.names())
    assert set(data["optimizers"]) == set(optimizers.names())
    for kind, registry in (("problems", problems), ("optimizers", optimizers)):
        for name in registry.installed():  # other tests may register in-process components
            entry, cls = data[kind][name], registry.get(name)
            assert entry["defaults"] == json.loads(json.dumps(dict(cls.defaults)))
            assert set(entry["parameters"]) == set(cls.defaults)
            assert entry["origin"] == {
                "distribution": "gesbench",
                "version": version("gesbench"),
                "entry_point": entry["origin"]["entry_point"],
                "builtin": True,
            }
    es = data["optimizers"]["vanilla_es"]
    assert es["fixed"] == {"alpha": 1.0, "k": 1} and "alpha" not in es["parameters"]
    assert es["parameters"]["sigma"] == {
        "type": "float",
        "default": 0.1,
        "constraint": "> 0",
        "doc": "perturbation scale",
    }
    assert data["experiments"] == builtin_experiments()
    assert data["reproductions"]["fig1"]["spec"] == "fig1"


def test_plugins_registered_here_and_broken_plugins_are_told_apart(capsys, monkeypatch) -> None:
    real = optimizers._entry_points()
    broken = EntryPoint("half_finished", "no_such_module_xyz:Thing", optimizers.group)
    monkeypatch.setattr(optimizers, "_entry_points", lambda: [*real, broken])
    with optimizers.registered("local_es", LocalES):
        data = catalog(capsys)
    assert data["optimizers"]["local_es"]["origin"]["distribution"] is None
    assert data["optimizers"]["local_es"]["origin"]["builtin"] is False
    assert "half_finished" not in data["optimizers"]
    assert "failed to load" in data["broken_plugins"]["optimizers"]["half_finished"]
    assert data["broken_plugins"]["problems"] == {}


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_subcommands_and_options(tmp_path, capsys) -> None:
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "gesbench.bash"
    script.write_text(capsys.readouterr().out)
    complete = (
        f"source {script}; COMP_WORDS=({{words}}); COMP_CWORD={{index}}; "
        '_shtab_gesbench gesbench "${{COMP_WORDS[{index}]}}"; echo "${{COMPREPLY[@]}}"'
    )

    def completions(*words: str) -> set[str]:
        command = complete.format(words=" ".join(words), index=len(words) - 1)
        out = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True)
        return set(out.stdout.split())

    subcommands = completions("gesbench", "re")
    assert {"report", "reproduce"} <= subcommands and all(c.startswith("re") for c in subcommands)
    assert completions("gesbench", "run", "--work") == {"--workers"}
