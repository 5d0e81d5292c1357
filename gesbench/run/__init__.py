"""Running trials: one trial (:mod:`.trial`), an experiment into a run folder
(:mod:`.experiment`), and the executors that spread trials over processes or a Dask cluster."""

from gesbench.run.trial import run_trial
from gesbench.store.record import TRACE_COLUMNS, TrialResult

__all__ = ["TRACE_COLUMNS", "TrialResult", "run_trial"]
