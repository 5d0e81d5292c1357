"""Expected running time (ERT, as in COCO) and success rates per target.

For a method, problem and target, every trial is a run: it succeeds if it reached the target
(:func:`gesbench.analysis.runtime_ecdf.hitting_times`); failed and diverged trials are
unsuccessful and stay in the denominator. With ``spent_i`` the budget run
``i`` used until it succeeded or stopped,

    ERT = sum_i spent_i / successes,

the expected budget of a strategy that restarts independently until a run succeeds
("simulated restarts"; infinite when nothing succeeded). Its interval is a seeded bootstrap
over runs: resampled sets of runs, each giving an ERT, and the percentiles of those.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gesbench.analysis.stats import clopper_pearson

ERT_COLUMNS = [
    "problem_label", "label", "relative", "target", "runs", "successes", "success_rate",
    "success_low", "success_high", "ert", "ert_low", "ert_high",
]  # fmt: skip


def expected_running_time(
    hits: pd.DataFrame, *, level: float = 0.95, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """ERT and success rate (Clopper-Pearson CI) per (problem, method, target).

    ``hits`` is :func:`~gesbench.analysis.runtime_ecdf.hitting_times` output (one row per
    trial and target, with ``hit`` and ``spent``). Returns :data:`ERT_COLUMNS`.
    """
    rng = np.random.default_rng(seed)
    tail = (1 - level) / 2
    frames = []
    for (problem, label), group in hits.groupby(["problem_label", "label"], sort=False):
        wide_hit = group.pivot_table(
            index="trial_id", columns="relative", values="hit", aggfunc="first", sort=False
        )
        spent_by_trial = group.groupby("trial_id", sort=False)["spent"].first()
        spent_total = spent_by_trial.reindex(wide_hit.index).to_numpy(dtype=float)
        relative = wide_hit.columns.to_numpy(dtype=float)
        hit = wide_hit.to_numpy(dtype=float)
        success = np.isfinite(hit)
        spent = np.where(success, hit, spent_total[:, None])  # runs x targets
        runs = len(hit)
        successes = success.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ert = np.where(successes > 0, spent.sum(axis=0) / successes, np.inf)
        # Bootstrap: the same resampled runs for every target (no BLAS: many small products
        # are slower through it than plain sums).
        pick = rng.integers(0, runs, size=(n_boot, runs))
        boot_spent = spent[pick].sum(axis=1)
        boot_success = success[pick].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            boot = np.where(boot_success > 0, boot_spent / boot_success, np.inf)
        low = np.quantile(boot, tail, axis=0, method="lower")
        high = np.quantile(boot, 1 - tail, axis=0, method="higher")
        s_low, s_high = clopper_pearson(successes, np.full(len(relative), runs), level)
        targets = group.drop_duplicates("relative").set_index("relative")["target"]
        frames.append(
            pd.DataFrame(
                {
                    "problem_label": problem,
                    "label": label,
                    "relative": relative,
                    "target": targets.reindex(relative).to_numpy(dtype=float),
                    "runs": runs,
                    "successes": successes,
                    "success_rate": successes / runs,
                    "success_low": s_low,
                    "success_high": s_high,
                    "ert": ert,
                    "ert_low": low,
                    "ert_high": high,
                }
            )
        )
    if not frames:
        text = {"problem_label", "label"}
        return pd.DataFrame({c: pd.Series(dtype=object if c in text else float)
                             for c in ERT_COLUMNS})  # fmt: skip
    return pd.concat(frames, ignore_index=True)[ERT_COLUMNS]
