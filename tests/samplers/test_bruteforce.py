"""Brute-force search: every path of a finite define-by-run space once, conditional and
dependent ranges included, in a seeded random order, then the study stops; running trials."""

from __future__ import annotations

import pytest

import tunelab as optuna
from tests.samplers.objectives import params_of
from tunelab.exceptions import ConfigError
from tunelab.samplers.bruteforce import BruteForceSampler


def branches(trial):
    """A categorical choosing between a stepped float and two ints, the second ranging from the
    first: 5 + (3 + 2 + 1) = 11 paths."""
    kind = trial.suggest_categorical("kind", ["float", "int"])
    if kind == "float":
        return trial.suggest_float("x", 1.0, 3.0, step=0.5)
    a = trial.suggest_int("a", 1, 3)
    b = trial.suggest_int("b", a, 3)
    return a + b


EVERY_PATH = {
    *(("float", x) for x in (1.0, 1.5, 2.0, 2.5, 3.0)),
    *(("int", a, b) for a in (1, 2, 3) for b in range(a, 4)),
}


def path(record):
    params = record.params
    if params["kind"] == "float":
        return ("float", params["x"])
    return ("int", params["a"], params["b"])


def test_every_path_once_then_the_study_stops():
    study = optuna.create_study(sampler=optuna.samplers.BruteForceSampler(seed=0))
    study.optimize(branches)
    assert sorted(map(path, study.trials), key=str) == sorted(EVERY_PATH, key=str)
    study.optimize(branches, n_trials=5)
    assert len(study.trials) == len(EVERY_PATH)


def test_the_seed_sets_the_order():
    def order(seed):
        study = optuna.create_study(sampler=BruteForceSampler(seed=seed))
        study.optimize(branches, n_trials=30)
        return params_of(study)

    assert order(4) == order(4)
    assert order(4) != order(5)


def test_a_float_without_step_takes_float_points_values():
    study = optuna.create_study(sampler=BruteForceSampler(seed=0, float_points=3))
    study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-2, log=True), n_trials=10)
    assert sorted(t.params["lr"] for t in study.trials) == pytest.approx([1e-4, 1e-3, 1e-2])


def test_a_failed_trial_covers_its_path():
    def objective(trial):
        n = trial.suggest_int("n", 0, 2)
        if n == 1:
            raise RuntimeError("diverged")
        return n

    study = optuna.create_study(sampler=BruteForceSampler(seed=0))
    study.optimize(objective, catch=(RuntimeError,))
    assert sorted(t.params["n"] for t in study.trials) == [0, 1, 2]


@pytest.mark.parametrize("avoid_premature_stop", [False, True])
def test_running_trials_cover_their_paths_unless_asked_not_to(avoid_premature_stop):
    sampler = BruteForceSampler(seed=0, avoid_premature_stop=avoid_premature_stop)
    study = optuna.create_study(sampler=sampler)
    first, second = study.ask(2)
    values = {first.suggest_int("n", 0, 1), second.suggest_int("n", 0, 1)}
    assert values == {0, 1}
    study.tell(first, 0.0)
    assert sampler.is_exhausted(study) is not avoid_premature_stop
    study.tell(second, 0.0)
    assert sampler.is_exhausted(study)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"avoid_premature_stop": "yes"}, "avoid_premature_stop"), ({"float_points": 0},
     "float_points"), ({"seed": "x"}, "seed")],
)
def test_bad_options_name_their_field(options, field):
    with pytest.raises(ConfigError) as error:
        BruteForceSampler(**options)
    assert error.value.field == field
