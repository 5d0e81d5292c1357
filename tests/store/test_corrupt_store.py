"""Stores that are garbage, truncated, damaged inside or not gesbench's: every command that
reads one (run, report, export, load_results) ends in a StoreError naming the file and what
to do, never a traceback, and never writes to it. A store on read-only media stays readable."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from gesbench import load_results, parse_experiment
from gesbench.cli import main
from gesbench.core.errors import StoreError
from gesbench.run.experiment import run_experiment
from gesbench.store.database import store_path

from spec_factory import small_spec

SPEC = """
name = "tiny"
repetitions = 1
[budget]
limit = 5
[[problems]]
name = "perturbed_quadratic"
params = { n = 4, m = 8 }
[[optimizers]]
name = "guided_es"
"""


@pytest.fixture(scope="module")
def good_store(tmp_path_factory) -> bytes:
    """The bytes of a real, intact store of a few trials."""
    run_dir = tmp_path_factory.mktemp("good")
    run_experiment(parse_experiment(small_spec(repetitions=2)), run_dir, progress=False)
    return store_path(run_dir).read_bytes()


def quick_check(path: Path) -> list[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return [row[0] for row in db.execute("PRAGMA quick_check")]


def damaged_inside(good: bytes, folder: Path) -> bytes:
    """A store whose schema reads fine but one of whose pages is garbage, so that only an
    integrity check (or an unlucky query) finds it."""
    page = int.from_bytes(good[16:18], "big")
    for start in range(2 * page, len(good), page):
        candidate = bytearray(good)
        candidate[start + 8 : start + 400] = b"\xff" * 392
        trial = folder / "candidate.sqlite"
        trial.write_bytes(bytes(candidate))
        try:
            with closing(sqlite3.connect(trial)) as db:
                db.execute("SELECT name FROM sqlite_master").fetchall()
            if quick_check(trial) != ["ok"]:
                return bytes(candidate)
        except sqlite3.DatabaseError:
            continue
        finally:
            trial.unlink()
    raise AssertionError("found no page whose damage only an integrity check sees")


def foreign(folder: Path, setup: Callable[[sqlite3.Connection], object]) -> bytes:
    path = folder / "foreign.sqlite"
    with closing(sqlite3.connect(path)) as db:
        setup(db)
        db.commit()
    data = path.read_bytes()
    path.unlink()
    return data


KINDS: dict[str, Callable[[bytes, Path], bytes]] = {
    "garbage": lambda good, folder: b"this is not a database\n" * 200,
    "truncated": lambda good, folder: good[: len(good) // 2],
    "truncated-header": lambda good, folder: good[:60],
    "damaged-inside": damaged_inside,
    "another-application": lambda good, folder: foreign(
        folder,
        lambda db: (
            db.execute("CREATE TABLE people (name TEXT)"),
            db.execute("INSERT INTO people VALUES ('Ada')"),
        ),
    ),
    "another-application-without-tables-yet": lambda good, folder: foreign(
        folder, lambda db: db.execute("PRAGMA user_version = 7")
    ),
    "another-application-with-an-id": lambda good, folder: foreign(
        folder, lambda db: db.execute("PRAGMA application_id = 1234")
    ),
}
MESSAGES = {
    "garbage": "is not a readable gesbench result store",
    "truncated": "is not a readable gesbench result store",
    "truncated-header": "is not a readable gesbench result store",
    "damaged-inside": "is damaged (SQLite integrity check",
    "another-application": "is an SQLite database but not a gesbench result store (tables: "
    "people); gesbench leaves it untouched",
    "another-application-without-tables-yet": "is an SQLite database but not a gesbench result "
    "store (tables: none)",
    "another-application-with-an-id": "is an SQLite database but not a gesbench result store",
}


@pytest.fixture(params=sorted(KINDS))
def bad_store(request, tmp_path, good_store) -> Iterator[tuple[str, Path]]:
    """A run folder whose results.sqlite is bad in the way the parameter names."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    store_path(run_dir).write_bytes(KINDS[request.param](good_store, tmp_path))
    yield request.param, run_dir


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_command_refuses_a_bad_store_naming_it_and_never_writes_to_it(
    bad_store, tmp_path, capsys
):
    kind, run_dir = bad_store
    path = store_path(run_dir)
    before = digest(path)
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    commands = [
        ["run", str(spec), "--out", str(run_dir), "--no-progress"],
        ["report", str(run_dir)],
        ["export", str(run_dir)],
        ["export", str(run_dir), "--all", "--format", "parquet"],
    ]
    for command in commands:
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"gesbench: error: {path} "), (command, err)
        assert MESSAGES[kind] in err, (command, err)
        assert "move it away" in err.lower() and "Traceback" not in err
    with pytest.raises(StoreError, match=MESSAGES[kind].split(" (")[0]):
        load_results(run_dir)
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists()
    assert not (run_dir / "trials.csv").exists() and not (run_dir / "report.html").exists()


def test_an_empty_store_file_says_the_run_stored_nothing(tmp_path, capsys):
    store_path(tmp_path).write_bytes(b"")
    assert main(["export", str(tmp_path)]) == 2
    assert "is an empty database: the run that created it stored nothing" in (
        capsys.readouterr().err
    )


READER = """
import sys, warnings
from gesbench import load_results
warnings.simplefilter("error")
results = load_results(sys.argv[1])
print(len(results.trials), len(results.traces))
"""


def read_only(folder: Path) -> list[str]:
    """A command prefix under which ``folder`` is read-only, as on read-only media: a
    read-only bind mount in a private mount namespace (root can write anywhere else), or
    plain permissions for other users; skips the test when neither is possible."""
    if os.geteuid() != 0:
        for item in (*folder.iterdir(), folder):
            item.chmod(0o555 if item.is_dir() else 0o444)
        return []
    prefix = [
        "unshare",
        "--mount",
        "sh",
        "-c",
        'mount --bind -o ro "$1" "$1" && shift && exec "$@"',
    ]
    prefix += ["sh", str(folder)]
    try:
        probe = subprocess.run(
            [*prefix, "touch", str(folder / "probe")], capture_output=True, timeout=30
        )
    except OSError:
        pytest.skip("no unshare to mount a folder read-only")
    if probe.returncode == 0 or b"Read-only file system" not in probe.stderr:
        pytest.skip(f"cannot mount a folder read-only here: {probe.stderr!r}")
    return prefix


def test_a_store_on_read_only_media_is_readable(good_store, tmp_path):
    """SQLite cannot create the lock files a WAL store needs in a read-only folder, so the
    store is opened immutable there; nothing is written."""
    run_dir = tmp_path / "run"
    run_experiment(parse_experiment(small_spec(repetitions=2)), run_dir, progress=False)
    expected = load_results(run_dir)
    with closing(sqlite3.connect(store_path(run_dir))) as db:  # as a finished run leaves it
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert not Path(f"{store_path(run_dir)}-shm").exists()
    prefix = read_only(run_dir)
    try:
        done = subprocess.run(
            [*prefix, sys.executable, "-c", READER, str(run_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        writers = [
            subprocess.run(
                [*prefix, sys.executable, "-m", "gesbench.cli", command, str(run_dir)],
                capture_output=True,
                text=True,
                timeout=120,
            )
            for command in ("report", "export")
        ]
    finally:
        for item in (*run_dir.iterdir(), run_dir):
            item.chmod(0o755 if item.is_dir() else 0o644)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(expected.trials)), str(len(expected.traces))]
    # what writes into the folder says so, and what to do
    for writer, what in zip(writers, ("the report into", "into"), strict=True):
        assert writer.returncode == 2
        assert writer.stderr.startswith(f"gesbench: error: cannot write {what} {str(run_dir)!r}")
        assert "(read-only)" in writer.stderr and "copy the folder somewhere writable" in (
            writer.stderr
        )
        assert "Traceback" not in writer.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == [".gesbench.lock", "results.sqlite"]
