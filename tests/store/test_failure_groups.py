"""failure_groups lists failed trials as load_results does: a shared evaluation trial under
each of its labels, and the first error of a group is its lowest repetition's."""

from __future__ import annotations

import numpy as np
from report_fixtures import trial_result, trial_spec, write_store

from gesbench.store.database import ResultStore
from gesbench.store.reader import failure_groups, load_results

NO_TRACE = {
    name: np.empty(0)
    for name in (
        "iteration", "evaluations", "gradient_calls", "cost", "wall_time", "loss",
        "excess_loss", "alignment",
    )
}  # fmt: skip


def test_a_failed_shared_trial_counts_under_each_label(tmp_path) -> None:
    specs = [trial_spec("P", "GES", "guided_es", r) for r in range(2)]
    write_store(
        tmp_path,
        [
            trial_result(specs[0], "failed", NO_TRACE, error="shared fail\ndetail"),
            trial_result(specs[1], "failed", NO_TRACE, error="alone"),
        ],
    )
    with ResultStore(
        tmp_path
    ) as store:  # GES (tuned) selected GES's setting: one trial, two labels
        store.set_meta(
            "tuning", {"shared_trials": {specs[0].id: [["P", "GES"], ["P", "GES (tuned)"]]}}
        )
    groups = {(g.label, g.count, g.error) for g in failure_groups(tmp_path)}
    assert groups == {("GES", 2, "shared fail"), ("GES (tuned)", 1, "shared fail")}
    listed = load_results(tmp_path).trials  # the same rows the report counts
    assert sorted(listed["label"]) == ["GES", "GES", "GES (tuned)"]


def test_the_first_error_is_the_lowest_repetitions_whatever_order_trials_were_stored_in(
    tmp_path,
) -> None:
    specs = [trial_spec("P", "A", "guided_es", r) for r in (2, 0, 1)]  # finished in this order
    write_store(
        tmp_path,
        [trial_result(s, "failed", NO_TRACE, error=f"error of rep {s.repetition}") for s in specs],
    )
    (group,) = failure_groups(tmp_path)
    assert (group.count, group.error) == (3, "error of rep 0")
