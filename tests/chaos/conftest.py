"""Shared by the chaos suite: the misbehaving plugin of the fault tests, installed for real
(module on sys.path, dist-info with entry points) so that every subprocess, worker and Dask
worker finds it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "run"))

from test_faults import FRAGILE_SOURCE, install_distribution


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Iterator[Path]:
    """The fragile plugin (``fragile_es``, ``fragile_metrics``), visible to subprocesses."""
    root = install_distribution(
        tmp_path_factory.mktemp("chaos-plugins") / "site",
        "gesbench_fragile_plugin",
        FRAGILE_SOURCE,
        "[gesbench.optimizers]\nfragile_es = gesbench_fragile_plugin:FragileES\n"
        "[gesbench.problems]\nfragile_metrics = gesbench_fragile_plugin:MetricsQuadratic\n",
    )
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), old]))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))
    if old is None:
        del os.environ["PYTHONPATH"]
    else:
        os.environ["PYTHONPATH"] = old
