"""Contract checks that every registered problem and optimizer must pass.

Third-party plugins can call them from their own test suites::

    from gesbench.testing import check_problem, check_optimizer
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_optimizer", "check_problem"]


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import gesbench.testing` stays cheap.
    if name == "check_problem":
        from gesbench.testing.problem_contract import check_problem

        return check_problem
    if name == "check_optimizer":
        from gesbench.testing.optimizer_contract import check_optimizer

        return check_optimizer
    raise AttributeError(name)
