"""The result store of a run folder (SQLite) and its one reader, which yields DataFrames."""

from gesbench.store.database import ResultStore, run_lock, store_path
from gesbench.store.reader import Results, export, load_results

__all__ = ["ResultStore", "Results", "export", "load_results", "run_lock", "store_path"]
