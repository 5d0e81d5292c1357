"""Comparison metrics: one metric per module, each a function from DataFrame to DataFrame.

- :mod:`~gesbench.analysis.final_values`: each trial's final value (diverged runs count as +inf).
- :mod:`~gesbench.analysis.final_table`: per-problem median with CI, mean rank, paired tests.
- :mod:`~gesbench.analysis.runtime_ecdf`: COCO-style ECDF of the budget needed to reach targets.
- :mod:`~gesbench.analysis.performance_profile`: Dolan-More performance profiles.
- :mod:`~gesbench.analysis.win_rate`: pairwise win rates with bootstrap CIs.
- :mod:`~gesbench.analysis.sweep`: median final value per swept hyperparameter setting.
"""

from gesbench.analysis.final_table import final_table
from gesbench.analysis.final_values import final_values
from gesbench.analysis.performance_profile import performance_profile, solve_costs
from gesbench.analysis.runtime_ecdf import best_logged, hitting_times, runtime_ecdf, targets
from gesbench.analysis.sweep import sweep_grid
from gesbench.analysis.win_rate import win_rate

__all__ = [
    "best_logged",
    "final_table",
    "final_values",
    "hitting_times",
    "performance_profile",
    "runtime_ecdf",
    "solve_costs",
    "sweep_grid",
    "targets",
    "win_rate",
]
