"""The README's recorded-results tables come from run folders (``gesbench readme-tables``):
the generator writes the README's format, and where the run folders exist the README says
what they say."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from report_fixtures import synthetic_meta, synthetic_trace, trial_result, trial_spec, write_store

from gesbench.cli import main
from gesbench.report.model import load_run
from gesbench.report.readme_tables import (
    family_cell,
    family_table,
    paper_table,
    readme_tables,
    two_figures,
)
from gesbench.reproduce.published import REPRODUCTIONS, Published

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def readme_table(header_start: str, after: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows (cells) of the first README table whose header starts with
    ``header_start`` after the text ``after``."""
    text = README.read_text()
    text = text[text.index(after) :]
    lines = text[text.index(header_start) :].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return cells(lines[0]), rows


def test_number_formats_are_the_readmes():
    assert [two_figures(v) for v in (0.0044, 0.0040, 0.035, 0.030, 0.0028)] == [
        "0.0044", "0.0040", "0.035", "0.030", "0.0028",
    ]  # fmt: skip
    assert family_cell(0.00036) == "0.00036" and family_cell(math.inf) == "diverged"
    assert family_cell(8.8e180, start=0.3) == "9e+180 (diverging)"
    assert family_cell(0.34, start=0.7, accuracy=0.9) == "0.34 (90%)"
    assert family_cell(9.1e-34) == "9.1e-34" and family_cell(0.0003) == "0.0003"


FAMILIES = [n for n in REPRODUCTIONS if n != "fig1"]


def parse_cell(cell: str) -> tuple[float, float | None]:
    """A family cell's value and accuracy, checking that the generator would write it so."""
    match = re.fullmatch(r"(.+?)(?: \((\d+)%\))?", cell.strip("*"))
    assert match, cell
    text, accuracy = match.group(1), match.group(2)
    if text == "diverged":
        value = math.inf
    elif text.endswith(" (diverging)"):
        value = float(text.removesuffix(" (diverging)"))
        assert family_cell(value, start=0.0) == text, cell
    else:
        value = float(text)
        assert family_cell(value) == text, cell
    return value, None if accuracy is None else int(accuracy) / 100


@pytest.mark.parametrize("name", FAMILIES)
def test_family_tables_in_the_readme_are_in_the_generators_format(name):
    """Every cell as family_cell writes it, one bold cell per row on the lowest value, rows
    sorted by problem label, the methods those the family's spec runs."""
    header, rows = readme_table("| problem |", f"`{name}` (")
    reproduction = REPRODUCTIONS[name]
    recorded = {p.label for p in reproduction.published}
    if "gesbench's own recorded run" in reproduction.source:
        assert set(header[1:]) == recorded
    else:  # another source (an authors' code) need not have every method the spec runs
        assert recorded <= set(header[1:])
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    for row in rows:
        values = [parse_cell(cell)[0] for cell in row[1:]]
        bold = [i for i, cell in enumerate(row[1:]) if cell.startswith("**")]
        assert len(bold) == 1 and values[bold[0]] == min(values), row


def test_fig1_rows_follow_the_published_values():
    _, rows = readme_table("| method | gesbench |", "## Fig. 1, reproduced")
    published = REPRODUCTIONS["fig1"].published
    assert [r[0] for r in rows] == [p.label for p in published]
    for row, pub in zip(rows, published, strict=True):
        assert row[2] == f"~{pub.final:g}"
        assert re.fullmatch(r"[0-9.]+ \[[0-9.]+, [0-9.]+\]", row[1])
        assert row[3].split(" / ")[1].startswith("~")


def family_run(run_dir: Path) -> Path:
    """Two problems, three methods: one diverges on a problem, one reports accuracies."""
    rng = np.random.default_rng(0)
    labels = ["Guided ES", "Vanilla ES", "Gradient descent"]
    results = []
    for p, problem in enumerate(["Zeta problem", "Alpha problem"]):
        for label, rate in zip(labels, (3e-2, 1e-2, 2e-2), strict=True):
            optimizer = {"Guided ES": "guided_es", "Vanilla ES": "vanilla_es"}.get(
                label, "surrogate_descent"
            )
            for rep in range(3):
                diverges = label == "Gradient descent" and p == 0
                trace = synthetic_trace(rng, rate, points=30, diverge_at=0.5 if diverges else None)
                status = "diverged" if diverges else "done"
                spec = trial_spec(problem, label, optimizer, rep)
                accuracy = {"accuracy": 0.8 + 0.05 * rep} if p == 1 else {}
                results.append(trial_result(spec, status, trace, metrics=accuracy))
    experiment, components = synthetic_meta(labels)
    return write_store(run_dir, results, experiment=experiment, components=components)


def test_family_table_from_a_run_folder(tmp_path):
    table = family_table(load_run(family_run(tmp_path)))
    lines = table.splitlines()
    assert lines[0] == "| problem | Guided ES | Vanilla ES | Gradient descent |"
    assert lines[2].startswith("| Alpha problem | **")  # sorted; Guided ES is lowest
    assert lines[2].endswith("(85%) |")  # the median accuracy of 80, 85 and 90%
    assert lines[3].startswith("| Zeta problem | **") and lines[3].endswith("| diverged |")


def test_paper_table_and_the_command(tmp_path, capsys):
    run_dir = family_run(tmp_path)
    published = [
        Published("Guided ES", "guided_es", 0.003, 0.02),
        Published("Vanilla ES", "vanilla_es", 0.036, 0.49),
        Published("Absent", "nothing", 0.1, 0.0),
    ]
    table = paper_table(load_run(run_dir), published)
    lines = table.splitlines()
    assert lines[0] == (
        "| method | gesbench | paper (read off its figure) | final alignment (gesbench / paper) |"
    )
    number = r"[0-9.]+"
    ci = rf"{number} \[{number}, {number}\]"
    assert re.fullmatch(rf"\| Guided ES \| {ci} \| ~0.003 \| {number} / ~0.02 \|", lines[2])
    assert lines[3].endswith("/ ~0.48-0.50 |") and "(not run)" in lines[4]
    assert readme_tables([run_dir])[0] == ("synthetic", family_table(load_run(run_dir)))
    assert main(["readme-tables", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("<!-- gesbench readme-tables: synthetic -->\n| problem |")


RUN_FOLDERS = ["fig1", "biased_quadratic", "logistic_regression", "truncated_unroll",
               "binary_network"]  # fmt: skip


@pytest.mark.slow
def test_readme_tables_are_what_the_run_folders_say(capsys):
    """After ``gesbench run NAME --workers 2`` for each spec (into reports/NAME), every
    recorded-results table in the README is exactly what ``gesbench readme-tables`` prints."""
    folders = [ROOT / "reports" / name for name in RUN_FOLDERS]
    missing = [str(f) for f in folders if not (f / "results.sqlite").is_file()]
    if missing:
        pytest.skip(f"run folders not there (gesbench run NAME --workers 2): {missing}")
    assert main(["readme-tables", *map(str, folders)]) == 0
    printed = capsys.readouterr().out
    readme = README.read_text()
    for block in printed.split("\n\n"):
        table = "\n".join(line for line in block.splitlines() if line.startswith("|"))
        assert table in readme, f"README differs from the run folders:\n{block}"
