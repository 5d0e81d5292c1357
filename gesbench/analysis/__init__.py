"""Comparison metrics: one metric per module, each a function from DataFrame to DataFrame.

- :mod:`~gesbench.analysis.stats`: order-statistic CIs of medians with their actual coverage,
  exact paired tests and Hodges-Lehmann shifts, binomial intervals, Holm, Noether's n.
- :mod:`~gesbench.analysis.final_values`: each trial's final value (diverged runs count as +inf).
- :mod:`~gesbench.analysis.final_table`: per-problem median with CI, mean rank, paired
  comparisons with a reference (ratio, probability of ending lower, Holm across the run,
  repetitions needed).
- :mod:`~gesbench.analysis.curves`: median curves with order-statistic bands on fixed grids.
- :mod:`~gesbench.analysis.friedman`: Friedman test, Holm post-hoc, critical-difference groups.
- :mod:`~gesbench.analysis.runtime_ecdf`: COCO-style ECDF of the budget needed to reach
  targets, per problem and pooled, and the area under it.
- :mod:`~gesbench.analysis.ert`: expected running time and success rates per target.
- :mod:`~gesbench.analysis.performance_profile`: Dolan-More performance profiles.
- :mod:`~gesbench.analysis.win_rate`: pairwise win rates with exact or problem-bootstrap CIs.
- :mod:`~gesbench.analysis.sweep`: median final value per swept hyperparameter setting.
"""

from gesbench.analysis.curves import TrialTraces, summarize
from gesbench.analysis.ert import expected_running_time
from gesbench.analysis.final_table import final_table
from gesbench.analysis.final_values import final_values
from gesbench.analysis.friedman import friedman
from gesbench.analysis.performance_profile import performance_profile, solve_costs
from gesbench.analysis.runtime_ecdf import (
    best_logged,
    ecdf_area,
    hitting_times,
    runtime_ecdf,
    targets,
)
from gesbench.analysis.sweep import sweep_grid
from gesbench.analysis.win_rate import win_rate

__all__ = [
    "TrialTraces",
    "best_logged",
    "ecdf_area",
    "expected_running_time",
    "final_table",
    "final_values",
    "friedman",
    "hitting_times",
    "performance_profile",
    "runtime_ecdf",
    "solve_costs",
    "summarize",
    "sweep_grid",
    "targets",
    "win_rate",
]
