"""What :func:`gesbench.store.reader.load_results` adds for runs with a tuning stage.

- ``role``: each trial's stage, ``tuning`` or ``evaluation`` (every trial of a run without
  tuning is an evaluation trial).
- Evaluation trials shared by several methods: when a tuned method selects exactly the
  setting another entry of the spec runs (say "Guided ES (tuned)" selects the defaults that
  "Guided ES" runs), both are the same trials (a trial's identity is its science). The store
  keeps one row per trial; the run's meta (``tuning.shared_trials``) says which labels share
  it, and the trial is shown once under each.
- The selected settings (``tuning.selected``) as a table: one row per problem and tuned
  method, a column per tuned parameter, the score and the notes.

A store without this meta (no tuning, or written before it existed) gives ``role`` from the
stored stage and an empty selection; malformed meta never fails the reader.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where used: a worker process never needs it
    import pandas as pd

SELECTED_COLUMNS = ["problem_label", "label", "optimizer", "scope", "criterion", "score"]


def _tuning_meta(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def with_roles(trials: pd.DataFrame, tuning_meta: str | None) -> pd.DataFrame:
    """``trials`` with a ``role`` column and a row per label of each shared evaluation trial."""
    import pandas as pd

    trials = trials.assign(role=trials["stage"].where(trials["stage"] == "tuning", "evaluation"))
    shared = _tuning_meta(tuning_meta).get("shared_trials", {})
    if not isinstance(shared, dict) or not shared:
        return trials
    extra = []
    for trial_id, pairs in shared.items():
        rows = trials[trials["id"] == trial_id]
        if rows.empty or not isinstance(pairs, list):
            continue
        present = set(zip(rows["problem_label"], rows["label"], strict=True))
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2 and tuple(pair) not in present:
                extra.append(rows.iloc[[0]].assign(problem_label=pair[0], label=pair[1]))
    if not extra:
        return trials
    return pd.concat([trials, *extra], ignore_index=True)


def selected_settings(tuning_meta: str | None) -> pd.DataFrame:
    """The selected settings: per problem and tuned method, ``problem_label``, ``label``,
    ``optimizer``, ``scope``, ``criterion``, ``score``, one column per tuned parameter, and
    ``notes`` (edge of the search space, ties, divergence), joined by '; '."""
    import pandas as pd

    rows = _tuning_meta(tuning_meta).get("selected", [])
    records = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict):
            continue
        params = row.get("params")
        notes = row.get("notes")
        params = params if isinstance(params, dict) else {}
        notes = notes if isinstance(notes, list) else []
        records.append(
            {
                **{c: row.get(c) for c in SELECTED_COLUMNS},
                **params,
                "notes": "; ".join(str(n) for n in notes),
            }
        )
    frame = pd.DataFrame(records, columns=None if records else [*SELECTED_COLUMNS, "notes"])
    if "score" in frame:
        frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    return frame
