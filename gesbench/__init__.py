"""gesbench: Guided Evolutionary Strategies and a benchmark harness for surrogate-gradient
optimizers."""

from gesbench.core.budget import Budget
from gesbench.core.errors import (
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
from gesbench.core.problem import Problem
from gesbench.core.registry import register_optimizer, register_problem
from gesbench.ges.guided_es import GuidedES
from gesbench.run.trial import run_trial
from gesbench.spec.experiment import Experiment, load_experiment, parse_experiment
from gesbench.spec.trial import TrialSpec
from gesbench.store.reader import load_results
from gesbench.store.record import TrialResult

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
