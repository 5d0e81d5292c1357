"""`gesbench runs`: the run folders under a directory and the state of their reports."""

from __future__ import annotations

import os

from gesbench import parse_experiment
from gesbench.cli import main
from gesbench.run.experiment import run_experiment
from gesbench.store.database import STORE_NAME
from gesbench.store.folders import list_runs

from spec_factory import small_spec


def test_each_run_folder_with_its_trials_and_report_state(tmp_path, capsys) -> None:
    spec = small_spec(repetitions=1)
    for name in ("current", "outdated", "unreported"):
        run_experiment(parse_experiment({**spec, "name": name}), tmp_path / name, progress=False)
    for name, age in (("current", +10), ("outdated", -10)):  # report newer / older than store
        report = tmp_path / name / "report.html"
        report.write_text("<html></html>")
        stamp = max(p.stat().st_mtime for p in (tmp_path / name).glob(f"{STORE_NAME}*"))
        os.utime(report, (stamp + age, stamp + age))
    (tmp_path / "nested" / "broken").mkdir(parents=True)
    (tmp_path / "nested" / "broken" / STORE_NAME).write_text("not a database" * 50)

    table = list_runs(tmp_path).set_index("experiment", drop=False)
    assert len(table) == 4
    assert table.loc["current", "report"] == "current"
    assert table.loc["outdated", "report"] == "outdated"
    assert table.loc["unreported", "report"] == "none"
    assert (table.loc[["current", "outdated", "unreported"], "done"] == 3).all()
    broken = table[table["run"].str.endswith("broken")]
    assert broken["experiment"].iloc[0].startswith("unreadable:")

    assert main(["runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "outdated" in out and "unreported" in out and "unreadable" in out
    assert main(["runs", str(tmp_path / "empty")]) == 0
    assert "no run folders" in capsys.readouterr().out
