"""The public core: what problems, optimizers and plugins build on.

Problem, Optimizer and the Oracle between them; budgets; parameter checks; the registries;
the errors gesbench raises. Nothing here knows about specs, runs, stores or reports.
"""

from gesbench.core.budget import Budget
from gesbench.core.errors import (
    BudgetExhausted,
    Diverged,
    GesbenchError,
    HyperparameterError,
    PluginError,
    SpecError,
    StoreError,
    UnknownNameError,
)
from gesbench.core.optimizer import Optimizer, OptimizeResult
from gesbench.core.oracle import Oracle
from gesbench.core.params import ParameterError, Params, invalid, param
from gesbench.core.problem import Array, FunctionProblem, Problem, frozen
from gesbench.core.registry import (
    Preset,
    optimizers,
    problems,
    register_optimizer,
    register_problem,
)

__all__ = [
    "Array",
    "Budget",
    "BudgetExhausted",
    "Diverged",
    "FunctionProblem",
    "GesbenchError",
    "HyperparameterError",
    "OptimizeResult",
    "Optimizer",
    "Oracle",
    "ParameterError",
    "Params",
    "PluginError",
    "Preset",
    "Problem",
    "SpecError",
    "StoreError",
    "UnknownNameError",
    "frozen",
    "invalid",
    "optimizers",
    "param",
    "problems",
    "register_optimizer",
    "register_problem",
]
