"""gesbench: Guided Evolutionary Strategies and a benchmark harness for surrogate-gradient
optimizers."""

from gesbench.budget import Budget
from gesbench.errors import (
    Diverged,
    GesbenchError,
    HyperparameterError,
    PluginError,
    SpecError,
    StoreError,
    UnknownNameError,
)
from gesbench.experiment import Experiment, load_experiment, parse_experiment
from gesbench.ges import GuidedES
from gesbench.optimizer import Optimizer, OptimizeResult
from gesbench.oracle import Oracle
from gesbench.problem import Problem
from gesbench.registry import register_optimizer, register_problem
from gesbench.results import load_results
from gesbench.runner import TrialResult, run_trial
from gesbench.trial import TrialSpec

__all__ = [
    "Budget",
    "Diverged",
    "Experiment",
    "GesbenchError",
    "GuidedES",
    "HyperparameterError",
    "OptimizeResult",
    "Optimizer",
    "Oracle",
    "PluginError",
    "Problem",
    "SpecError",
    "StoreError",
    "TrialResult",
    "TrialSpec",
    "UnknownNameError",
    "load_experiment",
    "load_results",
    "parse_experiment",
    "register_optimizer",
    "register_problem",
    "run_trial",
]
