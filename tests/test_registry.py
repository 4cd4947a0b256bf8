"""make_sampler / make_pruner: building from a name, a mapping or an instance, with clear errors."""

from __future__ import annotations

import re
import sys

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import MedianPruner, NopPruner, make_pruner, pruner_name
from tunelab.registry import module_of
from tunelab.samplers import (
    SAMPLERS,
    AutoSampler,
    GridSampler,
    QMCSampler,
    RandomSampler,
    make_sampler,
)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        (None, AutoSampler),
        ("random", RandomSampler),
        ("Random", RandomSampler),
        ("grid", GridSampler),
        ("qmc", QMCSampler),
        ({"name": "halton", "scramble": False}, QMCSampler),
    ],
)
def test_make_sampler_builds_by_name(spec, kind):
    assert isinstance(make_sampler(spec, seed=0), kind)


def test_make_sampler_returns_an_instance_as_is():
    sampler = RandomSampler(seed=1)
    assert make_sampler(sampler, seed=2) is sampler and sampler.seed == 1


def test_study_seed_seeds_a_sampler_built_by_name():
    assert make_sampler("random", seed=42).seed == 42
    assert make_sampler({"name": "qmc", "seed": 1}, seed=42).seed == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "tpee",
            "sampler: unknown name 'tpee' \\(did you mean 'tpe'\\?\\); choose one of: annealing, "
            "auto, bohb, bruteforce, cmaes, genetic, gp, grid, halton, nsga2, nsga3, pso, qmc, "
            "quasi-random, random, reinforce, sobol, tabu, tpe",
        ),
        (
            {"name": "random", "sed": 1},
            r"sampler 'random' has no option 'sed' \(did you mean 'seed'\?\); "
            "its options are: seed",
        ),
        (
            {"name": "sobol", "qmc_type": "halton"},
            "sampler 'sobol' has no option 'qmc_type'; its options are: scramble, seed",
        ),
        ({"seed": 1}, "sampler: the name is missing"),
        (42, "sampler=42 must be a name"),
        ({"name": "grid", "float_points": -1}, "float_points=-1 must be a positive integer"),
    ],
)
def test_make_sampler_errors_name_the_problem(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_sampler(spec)


@pytest.mark.parametrize(
    ("spec", "field"),
    [("tpee", "name"), ({"seed": 1}, "name"), ({"name": "random", "sed": 1}, "sed")],
)
def test_make_sampler_errors_carry_the_field_at_fault(spec, field):
    with pytest.raises(ConfigError) as caught:
        make_sampler(spec)
    assert caught.value.field == field


def test_create_study_reports_sampler_errors():
    with pytest.raises(ConfigError, match="unknown name 'tpee'"):
        tunelab.create_study(sampler="tpee")


@pytest.mark.parametrize(
    ("spec", "kind"), [(None, NopPruner), ("none", NopPruner), ("median", MedianPruner)]
)
def test_make_pruner_builds_by_name(spec, kind):
    assert isinstance(make_pruner(spec), kind)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ashaa", r"pruner: unknown name 'ashaa' \(did you mean 'asha'\?\); choose one of: asha,"),
        (
            {"name": "none", "patience": 3},
            "pruner 'none' has no option 'patience'; its options are: none",
        ),
        (
            "pbt",
            r"pruner 'pbt' needs the option 'max_resource'; add it, e.g. "
            r"\{name: pbt, max_resource: ...\}",
        ),
    ],
)
def test_make_pruner_errors_name_the_problem(spec, message):
    with pytest.raises(ConfigError, match=message):
        make_pruner(spec)


def test_the_pruner_none_never_prunes():
    study = tunelab.create_study(pruner="none")
    for _ in range(6):
        trial = study.ask()
        trial.report(1.0, step=0)
        study.tell(trial, 1.0)
    trial = study.ask()
    trial.report(1e9, step=0)
    with pytest.warns(UserWarning, match="should_prune"):
        assert trial.should_prune() is False


# A user's own classes, named "package.module:Class" -------------------------------------------

USER_PACKAGE = {
    "__init__.py": "",
    "search.py": '''
from tunelab.pruners import BasePruner
from tunelab.samplers import BaseSampler


class LowestFirst(BaseSampler):
    """Every parameter at ``spread`` of the way up its range."""

    def __init__(self, spread: float = 0.0, seed: int | None = None) -> None:
        self.spread, self.seed = spread, seed

    def sample_independent(self, study, trial, name, distribution):
        return distribution.from_unit(self.spread)


class PruneEverything(BasePruner):
    def prune(self, study, trial):
        return True


NOT_A_SAMPLER = 42
''',
}


@pytest.fixture
def user_package(tmp_path, monkeypatch) -> str:
    """A package ``usersearch`` on the import path, with a sampler and a pruner."""
    root = tmp_path / "usersearch"
    root.mkdir()
    for name, text in USER_PACKAGE.items():
        (root / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "usersearch.search"


def test_a_user_sampler_is_built_from_its_class_path_with_checked_options(user_package):
    sampler = make_sampler({"name": f"{user_package}:LowestFirst", "spread": 0.25}, seed=7)
    assert type(sampler).__name__ == "LowestFirst" and sampler.seed == 7
    study = tunelab.create_study(sampler=sampler)
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 4.0), n_trials=2)
    assert [r.params["x"] for r in study.trials] == [1.0, 1.0]
    with pytest.raises(ConfigError, match="has no option 'sprad' \\(did you mean 'spread'\\?\\)"):
        make_sampler({"name": f"{user_package}:LowestFirst", "sprad": 0.5})


def test_a_user_pruner_is_built_from_its_class_path(user_package):
    study = tunelab.create_study(pruner=f"{user_package}:PruneEverything")
    trial = study.ask()
    trial.report(1.0, step=0)
    assert trial.should_prune() is True


def test_a_pruner_is_named_as_make_pruner_knows_it(user_package):
    assert pruner_name(make_pruner("median")) == "median"
    assert pruner_name(NopPruner()) == "none"
    assert pruner_name(make_pruner("asha")) == "asha"
    own = make_pruner(f"{user_package}:PruneEverything")
    assert pruner_name(own) == f"{user_package}:PruneEverything"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("usersearch.search:NOT_A_SAMPLER", "is 42, not a subclass of tunelab's BaseSampler"),
        ("usersearch.search:PruneEverything", "not a subclass of tunelab's BaseSampler"),
        ("usersearch.search:Missing", "module 'usersearch.search' has no attribute 'Missing'"),
        ("usersearch.nowhere:LowestFirst", "no module named 'usersearch.nowhere' can be imported"),
        ("usersearch.search:", "is not of the form 'package.module:Class'"),
    ],
)
def test_a_wrong_class_path_says_what_is_wrong(user_package, name, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as caught:
        make_sampler(name)
    assert caught.value.field == "name"


@pytest.mark.parametrize(("spec", "module"), [
    ("auto", "tunelab.samplers.auto"),
    ({"name": "TPE", "seed": 1}, "tunelab.samplers.tpe"),
    ("my_package.samplers:MySampler", "my_package.samplers"),
    ("no-such-sampler", None),
    ({"seed": 1}, None),
])
def test_the_module_a_sampler_name_imports_is_known_without_importing_it(spec, module):
    assert module_of(spec, SAMPLERS) == module
    assert "my_package" not in sys.modules
