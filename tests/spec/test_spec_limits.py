"""What a spec may not do: name a run folder outside reports/, expand to more trials than a
run can hold, need more memory than the machine has, or pair a method with a budget it never
spends. Each is refused when the spec loads (or the run starts), before anything is written."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from gesbench.cli import main
from gesbench.core.budget import Budget
from gesbench.core.errors import SpecError
from gesbench.core.optimizer import Optimizer
from gesbench.core.registry import optimizers
from gesbench.problems.biased_quadratic import BiasedQuadratic
from gesbench.problems.perturbed_quadratic import PerturbedQuadratic
from gesbench.run import experiment as run_module
from gesbench.run.experiment import check_memory, run_experiment
from gesbench.spec import trial as trial_module
from gesbench.spec.experiment import DEFAULT_MAX_TRIALS, Experiment, parse_experiment

from spec_factory import small_spec

# --- the run folder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../escaped", "contains a path separator"),
        ("/tmp/elsewhere", "contains a path separator"),
        ("sub/folder", "contains a path separator"),
        ("back\\slash", "contains a path separator"),
        ("..", "is not a folder name"),
        (".", "is not a folder name"),
        ("new\nline", "contains a control character"),
        ("x" * 256, "is longer than 255 bytes"),
        ("", "expected a non-empty string"),
    ],
)
def test_a_name_that_is_not_one_folder_name_is_refused(name, why):
    with pytest.raises(SpecError, match=f"^name: .*{why}"):
        parse_experiment(small_spec(name=name))


def test_names_that_are_one_folder_name_are_fine():
    for name in ("fig1", "my experiment", "café_2", "a.b-c", "..hidden"):
        assert parse_experiment(small_spec(name=name)).name == name


def test_the_default_run_folder_stays_under_reports(tmp_path, monkeypatch, capsys):
    """Without --out, a spec's name is the folder under reports/: one that climbs out (or is
    absolute) is refused before anything is written anywhere."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    spec = work / "escape.toml"
    for name in ("../../escaped", str(tmp_path / "absolute")):
        spec.write_text(
            f'name = "{name}"\nrepetitions = 1\n[budget]\nlimit = 5\n'
            '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 4, m = 8 }\n'
            '[[optimizers]]\nname = "guided_es"\n'
        )
        assert main(["run", str(spec), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert f"name: {name!r} contains a path separator" in err
        assert "use --out to write elsewhere" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["escape.toml", "work"]


# --- how many trials -----------------------------------------------------------------------


def test_a_huge_repetition_count_is_refused_with_its_size_before_expanding(monkeypatch):
    def no_expansion(self):
        raise AssertionError("the trials were expanded")

    monkeypatch.setattr(Experiment, "trials", no_expansion)
    with pytest.raises(SpecError) as error:
        parse_experiment(small_spec(repetitions=10**9))
    assert str(error.value).startswith(
        "the spec expands to 3,000,000,000 trials (repetitions 1,000,000,000 x 1 problem "
        "entries x 3 optimizer entries, sweeps expanded), more than the limit of 100,000"
    )
    assert "--max-trials" in str(error.value)


def test_a_huge_sweep_is_refused_before_its_entries_are_checked(monkeypatch):
    checked = []
    original = Optimizer.params_dict.__func__  # type: ignore[attr-defined]

    def counting(cls, given, **kwargs):
        checked.append(1)
        return original(cls, given, **kwargs)

    monkeypatch.setattr(Optimizer, "params_dict", classmethod(counting))
    spec = small_spec(repetitions=1)
    values = [0.1 + i / 1000 for i in range(1000)]
    spec["optimizers"][2]["sweep"] = {"sigma": values, "lr": values}
    with pytest.raises(SpecError, match=r"expands to 1,000,002 trials .* 1,000,002 optimizer"):
        parse_experiment(spec)
    assert checked == []


def test_the_trial_limit_is_configurable():
    spec = small_spec(repetitions=4)  # 12 trials
    with pytest.raises(SpecError, match=r"12 trials .* more than the limit of 11"):
        parse_experiment(spec, max_trials=11)
    assert parse_experiment(spec, max_trials=12).trial_count == 12
    assert parse_experiment(small_spec(repetitions=10**6), max_trials=None).trial_count == 3 * 10**6
    assert DEFAULT_MAX_TRIALS == 100_000


def test_the_command_line_refuses_a_run_over_its_trial_limit(tmp_path, capsys):
    spec = tmp_path / "six.toml"
    spec.write_text(
        'name = "six"\nrepetitions = 3\n[budget]\nlimit = 5\n'
        '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 4, m = 8 }\n'
        '[[optimizers]]\nname = "guided_es"\n[[optimizers]]\nname = "vanilla_es"\n'
    )
    out = tmp_path / "run"
    base = ["run", str(spec), "--out", str(out), "--no-progress", "--no-report"]
    assert main([*base, "--max-trials", "5"]) == 2
    assert "expands to 6 trials" in capsys.readouterr().err
    # --repetitions is applied before the check, and counted before expanding
    assert main([*base, "--repetitions", "1000000000"]) == 2
    assert "expands to 2,000,000,000 trials" in capsys.readouterr().err
    assert not out.exists()
    assert main([*base, "--max-trials", "6"]) == 0


def test_trial_ids_are_computed_once_per_trial_however_many_trials(tmp_path, monkeypatch):
    """Expanding and running a spec is linear: each trial's id is hashed once, whether the
    spec has 6 trials or 24 (resuming, relabelling and counting included)."""
    calls = []
    original = trial_module.digest

    def counting(data):
        calls.append(1)
        return original(data)

    monkeypatch.setattr(trial_module, "digest", counting)
    per_trial = []
    for repetitions in (2, 8):
        calls.clear()
        spec = small_spec(repetitions=repetitions, budget={"kind": "iterations", "limit": 2})
        experiment = parse_experiment(spec)
        run_dir = tmp_path / str(repetitions)
        run_experiment(experiment, run_dir, progress=False)
        run_experiment(experiment, run_dir, progress=False)  # the resume: nothing left to run
        per_trial.append(len(calls) / experiment.trial_count)
    # the id in each run, and the two seed streams of a trial that runs
    assert per_trial[0] == per_trial[1] == 4


# --- memory --------------------------------------------------------------------------------


def test_problems_estimate_their_memory_from_their_parameters():
    # n = 15000 with m = 10000 used 7.2 GB per worker
    estimate = PerturbedQuadratic.memory_estimate(
        PerturbedQuadratic.resolve_params({"n": 15000, "m": 10000})
    )
    assert 6e9 < estimate < 11e9
    small = PerturbedQuadratic.memory_estimate(PerturbedQuadratic.resolve_params({"n": 30}))
    assert small < estimate / 1000
    assert BiasedQuadratic.memory_estimate(BiasedQuadratic.resolve_params({"n": 3000})) > 4e8


def big_quadratic(**overrides: Any) -> Experiment:
    spec = small_spec(repetitions=4, **overrides)
    spec["problems"] = [
        {"name": "perturbed_quadratic", "label": "Big", "params": {"n": 15000, "m": 10000}}
    ]
    return parse_experiment(spec)


def test_a_run_that_needs_more_memory_than_the_machine_has_is_refused():
    experiment = big_quadratic()
    check_memory(experiment, at_once=4, available=32 * 10**9)
    with pytest.raises(SpecError) as error:
        check_memory(experiment, at_once=5, available=32 * 10**9)
    message = str(error.value)
    assert message.startswith("problems[0] (Big): one trial needs about 7.2 GB of memory")
    assert "5 at once about 36 GB, more than this machine's 32 GB" in message
    assert "run at most 4 at once (--workers 4)" in message
    with pytest.raises(SpecError, match="not even one trial fits: use smaller problem"):
        check_memory(experiment, at_once=1, available=4 * 10**9)
    check_memory(experiment, at_once=100, available=None)  # unknown memory: not checked


def test_the_command_line_checks_memory_before_anything_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_module, "physical_memory", lambda: 20_000)  # 20 kB
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\nrepetitions = 1\n[budget]\nlimit = 5\n'
        '[[problems]]\nname = "perturbed_quadratic"\nparams = { n = 30, m = 60 }\n'
        '[[optimizers]]\nname = "guided_es"\n'
    )
    out = tmp_path / "run"
    args = ["run", str(spec), "--out", str(out), "--no-progress", "--no-report"]
    assert main(args) == 2
    assert "one trial needs about 57.6 kB of memory" in capsys.readouterr().err
    assert not out.exists()
    assert main([*args, "--no-memory-check"]) == 0


# --- budgets a method never spends ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "entry", "what"),
    [
        ("evaluations", {"name": "surrogate_descent", "label": "GD"}, "evaluates the loss"),
        ("gradient_calls", {"name": "vanilla_es", "label": "ES"}, "calls the surrogate"),
        (
            "gradient_calls",
            {"name": "guided_es", "label": "GES a=1", "params": {"alpha": 1.0}},
            "calls the surrogate",
        ),
    ],
)
def test_a_method_that_never_spends_the_budget_kind_is_refused_at_load(kind, entry, what):
    spec = small_spec(budget={"kind": kind, "limit": 100})
    spec["optimizers"] = [{"name": "guided_es", "label": "GES"}, entry]
    with pytest.raises(SpecError) as error:
        parse_experiment(spec)
    assert str(error.value) == (
        f"budget.kind: {entry['label']!r} ({entry['name']}) never {what}, so its {kind!r} "
        "budget would never run out for it and every trial would fail; use another budget "
        "kind (e.g. 'iterations' or 'cost') or leave it out"
    )


def test_every_method_runs_under_budgets_that_count_what_it_spends():
    for kind in ("iterations", "cost"):
        parse_experiment(small_spec(budget={"kind": kind, "limit": 100}))
    spec = small_spec(budget={"kind": "evaluations", "limit": 100})
    spec["optimizers"] = spec["optimizers"][1:]  # without gradient descent
    parse_experiment(spec)


class DeclaredGradientOnly(Optimizer):
    """Declares that it never evaluates the loss (so it is not even tried)."""

    uses_loss: ClassVar[bool | None] = False

    def step(self, oracle):
        raise AssertionError("a declared optimizer is not tried at load")


def test_a_declaration_is_taken_at_its_word():
    with optimizers.registered("_declared_gradient_only", DeclaredGradientOnly):
        spec = small_spec(budget={"kind": "evaluations", "limit": 100})
        spec["optimizers"] = [{"name": "_declared_gradient_only", "label": "D"}]
        with pytest.raises(SpecError, match="'D' \\(_declared_gradient_only\\) never evaluates"):
            parse_experiment(spec)
        assert Budget("iterations", 5)  # the same optimizer is fine under other budgets
        spec["budget"] = {"kind": "iterations", "limit": 5}
        parse_experiment(spec)
