"""The layers contract (import-linter, configured in pyproject.toml) holds, and would catch a
lower layer importing a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports")
pytestmark = pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed")


def lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports with ``package_parent`` first on the path (so its gesbench is read)."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def copy_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "gesbench", tmp_path / "gesbench", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp_path


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    result = lint_imports(copy_package(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "contract"),
    [
        ("core/budget.py", "import gesbench.report.build", "Layers"),
        ("store/reader.py", "import gesbench.run.trial", "Layers"),
        ("run/experiment.py", "import gesbench.problems.perturbed_quadratic", "registry"),
        ("problems/datasets.py", "import gesbench.spec.trial", "Problems build on"),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    tmp_path: Path, module: str, bad_import: str, contract: str
) -> None:
    root = copy_package(tmp_path)
    target = root / "gesbench" / module
    target.write_text(target.read_text() + f"\n{bad_import}  # noqa\n")
    result = lint_imports(root)
    assert result.returncode != 0
    assert f"{contract}" in result.stdout and "BROKEN" in result.stdout
    assert f"gesbench.{module.removesuffix('.py').replace('/', '.')}" in result.stdout
