"""Partly fixed search: fixed parameters keep their values, the base sampler chooses the rest
(leaving the fixed ones out of its joint space) and keeps its hooks and its end."""

from __future__ import annotations

import pytest

import tunelab as optuna
from tests.samplers.objectives import RecordingSampler
from tunelab.exceptions import ConfigError
from tunelab.samplers.partial_fixed import PartialFixedSampler


def objective(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    y = trial.suggest_int("y", -1, 1)
    return x**2 + y


def test_a_second_phase_fixes_the_best_value_and_searches_the_rest():
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    study.optimize(objective, n_trials=10)
    fixed = {"y": study.best_params["y"]}
    study.sampler = optuna.samplers.PartialFixedSampler(fixed, study.sampler)
    assert study.sampler.infer_relative_search_space(study).keys() == {"x"}
    study.optimize(objective, n_trials=10)
    later = study.trials[10:]
    assert all(t.params["y"] == fixed["y"] for t in later)
    assert len({t.params["x"] for t in later}) == 10


def test_the_base_sampler_sees_every_hook_and_chooses_only_the_free_parameters():
    base = RecordingSampler(seed=0)
    study = optuna.create_study(sampler=PartialFixedSampler({"y": 0}, base))
    study.optimize(objective, n_trials=3)
    assert base.independent() == {(n, "x") for n in range(3)}
    assert [c[0] for c in base.calls if c[0] != "independent"] == ["before", "after"] * 3


def test_the_study_stops_when_the_base_sampler_is_done():
    grid = optuna.samplers.GridSampler({"x": [-0.5, 0.0, 0.5]})
    study = optuna.create_study(sampler=PartialFixedSampler({"y": 1}, grid))
    study.optimize(objective, n_trials=20)
    assert sorted((t.params["x"], t.params["y"]) for t in study.trials) == [
        (-0.5, 1), (0.0, 1), (0.5, 1)
    ]


def test_a_fixed_value_outside_the_range_is_refused_naming_it():
    study = optuna.create_study(sampler=PartialFixedSampler({"y": 5}, RecordingSampler()))
    with pytest.raises(ConfigError, match=r"fixed_params\['y'\]=5") as error:
        study.optimize(objective, n_trials=1, catch=())
    assert error.value.field == "fixed_params"


@pytest.mark.parametrize(
    ("args", "field"),
    [((["y"], RecordingSampler()), "fixed_params"), (({"y": 0}, "tpe"), "base_sampler")],
)
def test_bad_arguments_name_their_field(args, field):
    with pytest.raises(ConfigError) as error:
        PartialFixedSampler(*args)
    assert error.value.field == field
