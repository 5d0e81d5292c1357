"""The SGES black-box reproduction: its recorded values, and the check on a quick run."""

from __future__ import annotations

import math

import pytest

from gesbench.reproduce.check import REPRODUCTIONS, format_check, reproduce
from gesbench.spec.experiment import load_experiment

ENTRY = REPRODUCTIONS["sges_blackbox"]
PROBLEMS = ("Sphere (n=1000)", "Rosenbrock (n=1000)", "Rastrigin (n=1000)", "Lunacek (n=1000)")


def test_values_come_from_the_authors_code_and_match_the_spec() -> None:
    assert "IJCAI2020-SGES/SGES" in ENTRY.source and "run here" in ENTRY.source
    spec = load_experiment(ENTRY.spec)
    assert spec.budget.limit == 50_000 and ENTRY.at == "50,000 evaluations"
    assert {p.problem for p in ENTRY.published} == set(PROBLEMS)
    for problem in PROBLEMS:
        rows = {p.label: p for p in ENTRY.published if p.problem == problem}
        assert {"Vanilla ES", "Guided ES", "SGES", "CMA-ES (diagonal)"} <= set(rows)
        # Guided ES is another algorithm in their code (guided by its own past estimates, not
        # by a surrogate): shown beside the run, never ordered. Their CMA-ES is the lowest.
        assert not rows["Guided ES"].ordered
        assert rows["CMA-ES (diagonal)"].ordered
        assert rows["CMA-ES (diagonal)"].final == min(p.final for p in rows.values())
        # two methods that diverged in the authors' code tie: at most one of them is ordered
        diverged = [p for p in rows.values() if p.final == math.inf]
        assert sum(p.ordered for p in diverged) <= 1


def test_the_authors_code_puts_sges_ahead_of_vanilla_es_on_sphere() -> None:
    rows = {p.label: p for p in ENTRY.published if p.problem == "Sphere (n=1000)"}
    assert rows["SGES"].ordered and rows["Vanilla ES"].ordered
    assert rows["SGES"].final * 10 < rows["Vanilla ES"].final


def test_quick_run_checks_every_problem(tmp_path) -> None:
    # 2,000 evaluations, 1 seed: too short to reproduce anything, but every problem and method
    # must be run, matched and checked problem by problem.
    result, paths = reproduce(
        "sges_blackbox", tmp_path, repetitions=1, budget=2000, workers=1, progress=False
    )
    table = result.table
    assert set(table["problem"]) == set(PROBLEMS)
    assert "(not run)" not in set(table["run label"])
    assert set(table["method"]) >= {"Vanilla ES", "Guided ES", "SGES", "ASEBO"}
    assert (table["n"] == 1).all()
    text = format_check(result, ENTRY)
    assert text.splitlines()[0].startswith("problem ")
    assert all(o.split(":")[0] in PROBLEMS for o in result.orderings)
    assert tmp_path / "reproduction_check.csv" in paths


@pytest.mark.slow
def test_full_run_reproduces_the_orderings_of_the_authors_code(tmp_path) -> None:
    result, _ = reproduce("sges_blackbox", tmp_path, workers=2, progress=False)
    assert result.ordering_holds, format_check(result, ENTRY)
