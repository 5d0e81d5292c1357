"""The paper's Fig. 1 at full budget (slow: about 4 minutes with two workers)."""

from __future__ import annotations

import pytest

from gesbench import load_experiment, load_results
from gesbench.run.experiment import run_experiment


@pytest.mark.slow
def test_fig1_final_excess_loss_ordering_and_levels(tmp_path):
    experiment = load_experiment("fig1")
    counts = run_experiment(experiment, tmp_path, workers=2, progress=False)
    assert counts["done"] == len(experiment.trials())
    traces = load_results(tmp_path).traces
    final = traces.sort_values("iteration").groupby("trial_id").tail(1)
    assert (final["iteration"] == 10_000).all()
    median = final.groupby("label")["excess_loss"].median()
    # Paper (read off its figure): Guided ES ~0.003, vanilla ES ~0.036, gradient descent ~0.063.
    assert median["Guided ES"] < median["Vanilla ES"] < median["Gradient descent"]
    assert median["Guided ES"] < 0.01
    assert 0.02 < median["Vanilla ES"] < 0.06
    alignment = final.groupby("label")["alignment"].median()
    assert alignment["Vanilla ES"] > 0.4 and alignment["Guided ES"] < 0.1
