"""Hyperparameter sweeps: the median final value of each setting of a swept optimizer."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd


def _varying(params: list[dict[str, Any]]) -> list[str]:
    keys = list(dict.fromkeys(k for p in params for k in p))
    return [k for k in keys if len({json.dumps(p.get(k)) for p in params}) > 1]


def sweep_grid(trials: pd.DataFrame, finals: pd.DataFrame) -> pd.DataFrame:
    """One row per (problem, optimizer, setting) for optimizers run with several settings.

    An optimizer counts as swept when two or more labels use it with different parameters;
    the parameters that vary become columns (named after the parameter). Also returns
    ``optimizer, label, median, n, diverged`` (``median`` over finished repetitions;
    diverged runs count as +inf). Empty when nothing was swept.
    """
    specs = trials.drop_duplicates("label").set_index("label")["spec"].map(json.loads)
    medians = finals.groupby(["problem_label", "label"], sort=False)["final"].agg(
        median="median", n="size", diverged=lambda v: int((v == float("inf")).sum())
    )
    frames = []
    for optimizer, column in trials.groupby("optimizer", sort=False)["label"]:
        labels = list(dict.fromkeys(column))
        params = [specs[label]["optimizer_params"] for label in labels]
        keys = _varying(params)
        if len(labels) < 2 or not keys:
            continue
        settings = pd.DataFrame([{k: p.get(k) for k in keys} for p in params])
        settings.insert(0, "label", labels)
        settings.insert(0, "optimizer", optimizer)
        frames.append(settings.merge(medians.reset_index(), on="label"))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
