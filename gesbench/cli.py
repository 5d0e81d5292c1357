"""The ``gesbench`` command line."""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gesbench.core.errors import GesbenchError
from gesbench.reproduce.published import REPRODUCTIONS
from gesbench.run.executors import EXECUTORS
from gesbench.spec.experiment import DEFAULT_MAX_TRIALS
from gesbench.spec.filters import Selection


def _list(args: argparse.Namespace) -> int:
    from gesbench.core.registry import optimizers, problems
    from gesbench.spec.experiment import builtin_experiments

    if args.json:
        print(json.dumps(_catalog(), indent=2, default=repr))
        return 0
    for title, registry in (("Problems", problems), ("Optimizers", optimizers)):
        print(f"{title}:")
        loaded, broken = registry.load_all()
        for name, cls in loaded.items():
            defaults = ", ".join(f"{k}={v!r}" for k, v in cls.defaults.items())
            summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
            print(f"  {name:<22} {summary}")
            print(f"  {'':<22} defaults: {defaults}")
            if cls.fixed:  # a preset: these are set for it and cannot be changed
                fixed = ", ".join(f"{k}={v!r}" for k, v in cls.fixed.items())
                print(f"  {'':<22} fixed: {fixed}")
        for name, error in broken.items():
            print(f"  {name:<22} BROKEN PLUGIN: {error}")
    print("Experiments:")
    for name, description in builtin_experiments().items():
        print(f"  {name:<22} {description}")
    print("Reproductions (gesbench reproduce NAME):")
    for name, reproduction in REPRODUCTIONS.items():
        print(f"  {name:<22} {reproduction.source}")
    return 0


def _catalog() -> dict[str, Any]:
    """Everything ``gesbench list`` shows, as data: components with their declared parameters
    and origin, broken plugins apart, built-in experiments and reproductions."""
    from gesbench.core.registry import optimizers, problems
    from gesbench.spec.experiment import builtin_experiments

    catalog: dict[str, Any] = {"gesbench": _version(), "broken_plugins": {}}
    for kind, registry in (("problems", problems), ("optimizers", optimizers)):
        loaded, broken = registry.load_all()
        catalog[kind] = {name: registry.describe(name) for name in loaded}
        catalog["broken_plugins"][kind] = broken
    catalog["experiments"] = builtin_experiments()
    catalog["reproductions"] = {
        name: {"spec": r.spec, "source": r.source, "at": r.at} for name, r in REPRODUCTIONS.items()
    }
    return catalog


def _completion(args: argparse.Namespace) -> int:
    import shtab

    print(shtab.complete(build_parser(), shell=args.shell))
    return 0


def _runs(args: argparse.Namespace) -> int:
    from gesbench.store.folders import list_runs

    table = list_runs(args.dir)
    if table.empty:
        print(f"no run folders under {args.dir}")
        return 0
    print(table.astype(object).where(table.notna(), "").to_string(index=False))
    return 0


def _version() -> str:
    from importlib.metadata import version

    return version("gesbench")


def _run(args: argparse.Namespace) -> int:
    from gesbench.run.executors import prepare
    from gesbench.run.experiment import run_experiment
    from gesbench.spec.experiment import load_experiment
    from gesbench.spec.tuning import UnequalTuningBudget, tuning_summary
    from gesbench.store.reader import legacy_trials

    if not args.dry_run:  # workers' fork server first: its imports overlap what follows
        prepare(args.executor, args.workers, args.scheduler)
    experiment = load_experiment(args.spec, max_trials=args.max_trials).with_overrides(
        args.repetitions, args.budget
    )
    experiment.check_size(args.max_trials)
    out = Path(args.out) if args.out else Path("reports") / experiment.name
    print(f"{experiment.name}: {experiment.trial_count} trials -> {out}")
    for line in tuning_summary(experiment):  # tuning costs per method; unequal ones warned
        print(line)
    warnings.filterwarnings("ignore", category=UnequalTuningBudget)  # printed just above
    only = _selection(args)
    if args.dry_run:  # before anything reads the store in place: a dry run writes nothing
        from gesbench.run.plan import format_plan, plan_run

        print(format_plan(plan_run(experiment, out, only=only, rerun=args.rerun), args.workers))
        return 0
    legacy = legacy_trials(out)
    if legacy:
        print(
            f"note: {out} holds {legacy} trial(s) from an older gesbench whose seeds were "
            "derived differently; they stay readable (gesbench export, "
            "load_results(..., all_trials=True)) but are not re-used: their trials run anew."
        )
    if args.rerun:
        from gesbench.run.plan import discard, plan_run

        removed = discard(out, plan_run(experiment, out, only=only, rerun=True).rerun_ids())
        print(f"--rerun: discarded {removed} stored trial(s) of {only.describe()}; they run again")
    try:
        counts = run_experiment(
            experiment,
            out,
            workers=args.workers,
            executor=args.executor,
            scheduler=args.scheduler,
            trial_timeout=args.trial_timeout,
            progress=not args.no_progress,
            max_trials=args.max_trials,
            memory_check=not args.no_memory_check,
            only=only,
        )
    except KeyboardInterrupt:
        command = _command("run", args.spec, "--out", out, *_overrides(args))
        print(
            "\ninterrupted; finished trials are stored and will not run again. Resume with "
            f"the same command, e.g.: {command}",
            file=sys.stderr,
        )
        return 130
    print("trials: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if counts.get("failed", 0):
        _print_failures(out)
    if not args.no_report:
        from gesbench.report.build import build_report  # a second of imports: only when used

        for path in build_report(out):
            print(f"wrote {path}")
    return 0 if counts.get("failed", 0) == 0 else 1


def _overrides(args: argparse.Namespace) -> list[str]:
    """The options that change which trials a run has, exactly as given: a resume command must
    repeat them (``--budget 1234567``, never a rounded ``1.23457e+06``)."""
    out = []
    for option, value in (("--repetitions", args.repetitions), ("--budget", args.budget)):
        if value is not None:
            out += [option, repr(value)]  # ints print whole; floats round-trip exactly
    if getattr(args, "max_trials", DEFAULT_MAX_TRIALS) != DEFAULT_MAX_TRIALS:
        out += ["--max-trials", "none" if args.max_trials is None else str(args.max_trials)]
    for option in ("problems", "optimizers"):  # a filtered run resumes filtered
        if getattr(args, option, None):
            out += [f"--{option}", *getattr(args, option)]
    return out


def _selection(args: argparse.Namespace) -> Selection:
    """The --problems / --optimizers patterns (:mod:`gesbench.spec.filters`); --rerun needs
    one, since it discards stored trials."""
    only = Selection.of(args.problems, args.optimizers)
    if getattr(args, "rerun", False) and not only.active:
        raise GesbenchError(
            "--rerun discards the stored trials it runs again: choose them with --problems "
            "and/or --optimizers (to run a whole spec afresh, use a new --out folder)"
        )
    return only


def _command(*words: object) -> str:
    """A ``gesbench`` command line a shell reads back as these words."""
    return " ".join(["gesbench", *(shlex.quote(str(w)) for w in words)])


def _print_failures(run_dir: Path) -> None:
    """Each group of failed trials (problem x method), its size and its first error line."""
    from gesbench.store.reader import failure_groups

    print("failed trials (re-running the command retries them):")
    for g in failure_groups(run_dir):
        error = g.error if len(g.error) <= 160 else g.error[:157] + "..."
        print(f"  {g.problem_label} x {g.label}: {g.count} failed: {error}")


def _report(args: argparse.Namespace) -> int:
    from gesbench.report.build import build_report

    only = _selection(args)
    out_dir = Path(args.run_dir) / "subsets" / only.slug() if only.active else None
    folder = Path(args.run_dir)
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):  # e.g. read-only media
        raise GesbenchError(
            f"cannot write the report into {args.run_dir!r} (read-only); it is written into the "
            "run folder, so copy the folder somewhere writable to report it"
        )
    try:
        paths = build_report(args.run_dir, reference=args.reference, only=only, out_dir=out_dir)
    except OSError as exc:  # e.g. a run folder on read-only media
        raise GesbenchError(
            f"cannot write the report into {args.run_dir!r}: {exc}; it is written into the "
            "run folder, so copy the folder somewhere writable to report it"
        ) from None
    for path in paths:
        print(f"wrote {path}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from gesbench.reproduce.check import format_check, reproduce

    try:
        result, paths = reproduce(
            args.name,
            args.out,
            workers=args.workers,
            repetitions=args.repetitions,
            budget=args.budget,
            progress=not args.no_progress,
        )
    except KeyboardInterrupt:
        out = ["--out", args.out] if args.out else []
        command = _command("reproduce", args.name, *out, *_overrides(args))
        print(
            "\ninterrupted; finished trials are stored and will not run again. Resume with "
            f"the same command, e.g.: {command}",
            file=sys.stderr,
        )
        return 130
    for path in paths:
        print(f"wrote {path}")
    print(format_check(result, REPRODUCTIONS[args.name]))
    return 0 if result.ordering_holds else 1


def _export(args: argparse.Namespace) -> int:
    from gesbench.store.ioh import export_ioh
    from gesbench.store.reader import export

    if args.format == "ioh":
        ioh = export_ioh(args.run_dir, all_trials=args.all)
        for method, reason in ioh.skipped.items():
            print(f"not exported: {method} {reason}")
        paths = ioh.written
    else:
        paths = export(args.run_dir, args.format, all_trials=args.all)
    for path in paths:
        print(f"wrote {path}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from gesbench.analysis.compare_runs import compare_runs, format_comparison

    result = compare_runs(args.run_a, args.run_b, level=args.level)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(format_comparison(result))
    return 1 if len(result.worse) else 0


def _bench_compare(args: argparse.Namespace) -> int:
    from gesbench.analysis.bench_compare import bench_compare, format_findings, summary

    findings, warnings = bench_compare(
        args.new,
        args.baseline,
        speed_threshold=args.speed_threshold,
        stat=args.stat,
        noise_factor=args.noise_factor,
        alpha=args.alpha,
        min_rounds=args.min_rounds,
        quality_tolerance=args.quality_tolerance,
        ratio_tolerance=args.ratio_tolerance,
        allow_missing=args.allow_missing,
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(format_findings(findings))
    print(summary(findings))
    return 1 if any(f.failed for f in findings) else 0


def _readme_tables(args: argparse.Namespace) -> int:
    from gesbench.report.readme_tables import format_tables, readme_tables

    # Paper comparisons (published alignments too) get the Fig. 1 format, the rest a family's.
    papers = {
        r.spec: r.published
        for r in REPRODUCTIONS.values()
        if any(p.alignment is not None for p in r.published)
    }
    print(format_tables(readme_tables(args.run_dirs, papers)))
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _positive_number(text: str) -> float:
    """A positive finite number; whole numbers become ints, so ``--budget 1000`` and
    ``--budget 1e3`` are the same trials as ``limit = 1000`` in a spec."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return int(value) if value.is_integer() else value


def _timeout(text: str) -> float | None:
    """Seconds (positive), or 'inf' / 'none' for no limit."""
    if text.strip().lower() in ("inf", "+inf", "infinity", "none"):
        return None
    return _positive_number(text)


def _max_trials(text: str) -> int | None:
    """A trial count, or 'none' for no limit."""
    return None if text.strip().lower() in ("none", "inf") else _positive_int(text)


def _filter_options(p: argparse.ArgumentParser, problems: str, optimizers: str) -> None:
    """--problems and --optimizers: names or labels, wildcards allowed, several at once."""
    for option, text in (("--problems", problems), ("--optimizers", optimizers)):
        p.add_argument(
            option,
            nargs="+",
            action="extend",
            metavar="PATTERN",
            help=f"{text}: names or labels, * and ? as wildcards, case ignored",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gesbench",
        description="Benchmark Guided ES and other surrogate-gradient optimizers.",
    )
    parser.add_argument("--version", action="version", version=f"gesbench {_version()}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show libraries' warnings (matplotlib, nevergrad, ...), hidden by default",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="list problems, optimizers and built-in experiments")
    p.add_argument(
        "--json",
        action="store_true",
        help="everything as JSON: declared parameters, defaults, origin, broken plugins",
    )
    p.set_defaults(func=_list)

    p = sub.add_parser(
        "runs", help="the run folders under DIR: experiment, last change, trials, report state"
    )
    p.add_argument("dir", nargs="?", default="reports", help="where to look (default: reports)")
    p.set_defaults(func=_runs)

    p = sub.add_parser(
        "completion",
        help="print a shell completion script, e.g. gesbench completion bash > ~/.gesbench.bash",
    )
    p.add_argument("shell", choices=("bash", "zsh", "tcsh"))
    p.set_defaults(func=_completion)

    p = sub.add_parser("run", help="run (or resume) an experiment and build its report")
    p.add_argument("spec", help="built-in experiment name (see `gesbench list`) or a TOML path")
    p.add_argument("--out", help="run folder (default: reports/NAME)")
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        help="how trials run (default: dask with --scheduler, else processes when --workers > 1)",
    )
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="Dask scheduler address (without it, --executor dask starts a local cluster)",
    )
    p.add_argument(
        "--trial-timeout",
        type=_timeout,
        metavar="SECONDS",
        help="stop a trial after this long and record it failed (retried on resume; "
        "'inf': no limit)",
    )
    p.add_argument("--repetitions", type=_positive_int, help="override the spec's repetitions")
    p.add_argument("--budget", type=_positive_number, help="override the spec's budget limit")
    p.add_argument(
        "--max-trials",
        type=_max_trials,
        default=DEFAULT_MAX_TRIALS,
        metavar="N",
        help=f"refuse a spec of more trials than this (default {DEFAULT_MAX_TRIALS:,}; 'none')",
    )
    p.add_argument(
        "--no-memory-check",
        action="store_true",
        help="run even when the problems' memory estimates exceed this machine's memory",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--no-report", action="store_true", help="skip building the report")
    _filter_options(p, "run only these problems' trials", "run only these methods' trials")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would run (per stage, problem and method: done, retried, new) and how "
        "long it may take, from the folder's own timings; runs and writes nothing",
    )
    p.add_argument(
        "--rerun",
        action="store_true",
        help="discard the stored trials of the chosen --problems/--optimizers and run them "
        "again (e.g. after changing an optimizer's code)",
    )
    p.set_defaults(func=_run)

    p = sub.add_parser("report", help="re-draw a run folder's figures and CSVs from its store")
    p.add_argument("run_dir")
    p.add_argument("--reference", help="method label others are tested against (default: GES)")
    _filter_options(
        p,
        "report only these problems (written to RUN_DIR/subsets/..., the full report untouched)",
        "report only these methods (written to RUN_DIR/subsets/..., the full report untouched)",
    )
    p.set_defaults(func=_report)

    p = sub.add_parser(
        "reproduce", help="run (or resume) a published comparison and check it (e.g. fig1)"
    )
    p.add_argument("name", help="reproduction name: " + ", ".join(REPRODUCTIONS))
    p.add_argument("--out", help="run folder (default: reports/NAME)")
    p.add_argument("--workers", type=_positive_int, default=1, help="local worker processes")
    p.add_argument("--repetitions", type=_positive_int, help="override (quick looks only)")
    p.add_argument("--budget", type=_positive_number, help="override (quick looks only)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("export", help="export a run folder's trials and traces")
    p.add_argument("run_dir")
    p.add_argument(
        "--format",
        choices=("csv", "parquet", "ioh"),
        default="csv",
        help="tables (csv, parquet), or IOHprofiler data for IOHanalyzer (ioh: RUN_DIR/ioh)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="every trial stored in the folder (default: the experiment last run into it)",
    )
    p.set_defaults(func=_export)

    p = sub.add_parser(
        "compare",
        help="compare two run folders of the same spec trial by trial (B against A); "
        "exit 1 when a method got significantly worse in B",
    )
    p.add_argument("run_a", help="the run folder compared against (e.g. before a change)")
    p.add_argument("run_b", help="the run folder compared (e.g. after the change)")
    p.add_argument(
        "--level",
        type=float,
        default=0.05,
        help="significance level after Holm's correction across the comparisons (default 0.05)",
    )
    p.add_argument("--json", action="store_true", help="the comparison as JSON")
    p.set_defaults(func=_compare)

    p = sub.add_parser(
        "bench-compare",
        help="compare pytest-benchmark JSON files; exit 1 on a speed or quality regression",
    )
    p.add_argument("new", help="JSON written by pytest --benchmark-json")
    p.add_argument("baseline", help="the saved baseline JSON")
    p.add_argument(
        "--speed-threshold",
        type=float,
        default=0.2,
        help="allowed slowdown as a fraction, before the noise allowance (default 0.2: 20%%)",
    )
    p.add_argument(
        "--noise-factor",
        type=float,
        default=1.0,
        help="noise allowance added to the threshold, in combined relative IQRs of the two "
        "runs' rounds (default 1)",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=0.01,
        help="a slowdown must also be significant by a one-sided Mann-Whitney U test on the "
        "rounds at this level, when both files store them (default 0.01)",
    )
    p.add_argument(
        "--min-rounds",
        type=int,
        default=5,
        help="benchmarks timed fewer rounds get no speed verdict (default 5)",
    )
    p.add_argument("--stat", choices=("min", "median", "mean"), default="min")
    p.add_argument(
        "--quality-tolerance",
        type=float,
        default=1.0,
        help="allowed worsening of a quality median, in baseline spreads (IQR; default 1)",
    )
    p.add_argument(
        "--ratio-tolerance",
        type=float,
        default=0.25,
        help="allowed worsening of a tracked ratio (extra_info.ratios), as a fraction of its "
        "baseline value (default 0.25)",
    )
    p.add_argument(
        "--allow-missing", action="store_true", help="don't fail on benchmarks not in NEW"
    )
    p.set_defaults(func=_bench_compare)

    p = sub.add_parser(
        "readme-tables", help="print the README's recorded-results tables from run folders"
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="e.g. reports/fig1")
    p.set_defaults(func=_readme_tables)
    for command in sub.choices.values():  # -v also after the command: gesbench run X -v
        command.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="as gesbench -v"
        )
    return parser


def _dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; libraries' warnings stay off the terminal unless -v
    (:mod:`gesbench.run.quiet`), with a note of how many were hidden."""
    from gesbench.run.quiet import hidden_note, library_warnings_hidden

    if args.verbose:
        return _command_result(args)
    with library_warnings_hidden() as hidden:
        try:
            return _command_result(args)
        finally:
            note = hidden_note(hidden)
            if note:
                print(note, file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    return _dispatch(build_parser().parse_args(argv))


def _command_result(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except GesbenchError as exc:
        print(f"gesbench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
