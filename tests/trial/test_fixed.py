"""FixedTrial: an objective run with given parameters, without a study."""

from __future__ import annotations

import warnings
from datetime import datetime

import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError, ParameterConflictError


def objective(trial: optuna.trial.BaseTrial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    layers = trial.suggest_int("layers", 1, 4)
    activation = trial.suggest_categorical("activation", ["relu", "tanh"])
    return x**2 + layers + (activation == "tanh")


def test_suggestions_return_the_given_values():
    trial = optuna.trial.FixedTrial({"x": 1.5, "layers": 2, "activation": "tanh"})
    assert objective(trial) == 1.5**2 + 2 + 1
    assert trial.params == {"x": 1.5, "layers": 2, "activation": "tanh"}
    assert trial.distributions["layers"] == optuna.IntDistribution(1, 4)


def test_params_hold_only_what_the_objective_suggested():
    trial = optuna.trial.FixedTrial({"x": 1.0, "unused": 3})
    trial.suggest_float("x", 0.0, 2.0)
    assert trial.params == {"x": 1.0}
    assert set(trial.distributions) == {"x"}


def test_int_suggestion_is_an_int_and_float_one_keeps_the_given_type():
    trial = optuna.trial.FixedTrial({"n": 3.0, "x": 2})
    n = trial.suggest_int("n", 0, 5)
    assert n == 3 and type(n) is int
    assert type(trial.suggest_float("x", 0.0, 5.0)) is int


def test_a_missing_parameter_names_it_and_what_the_trial_has():
    trial = optuna.trial.FixedTrial({"x": 1.0})
    with pytest.raises(ConfigError, match=r"no value for parameter 'y' \(it has \['x'\]\)") as info:
        trial.suggest_float("y", 0.0, 1.0)
    assert isinstance(info.value, ValueError) and info.value.field == "y"


def test_a_value_outside_the_range_is_returned_with_a_warning():
    trial = optuna.trial.FixedTrial({"x": 20.0})
    with pytest.warns(UserWarning, match="outside") as caught:
        assert trial.suggest_float("x", 0.0, 1.0) == 20.0
    assert caught[0].filename == __file__


def test_the_same_name_may_change_range_but_not_kind():
    trial = optuna.trial.FixedTrial({"x": 1, "c": "a"})
    trial.suggest_int("x", 0, 5)
    trial.suggest_int("x", 0, 10)
    trial.suggest_categorical("c", ["a", "b"])
    with pytest.raises(ParameterConflictError, match="'x' was suggested as IntDistribution"):
        trial.suggest_float("x", 0.0, 5.0)
    with pytest.raises(ParameterConflictError, match="log scale"):
        trial.suggest_int("x", 1, 5, log=True)
    with pytest.raises(ParameterConflictError, match="choices"):
        trial.suggest_categorical("c", ["a", "b", "c"])


def test_report_prune_and_user_attrs():
    trial = optuna.trial.FixedTrial({}, number=7)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trial.report(0.5, 0)
        trial.report(0.4, 0)
    assert trial.should_prune() is False
    trial.set_user_attr("note", {"a": 1})
    assert trial.user_attrs == {"note": {"a": 1}}
    assert trial.number == 7
    assert isinstance(trial.datetime_start, datetime)


def test_number_defaults_to_zero():
    assert optuna.trial.FixedTrial({"x": 1}).number == 0


def test_constraints_set_on_a_fixed_trial_are_kept_as_a_study_trial_keeps_them():
    trial = optuna.trial.FixedTrial({})
    trial.set_constraints([0.5])
    trial.set_constraint("memory", -1)
    with pytest.warns(UserWarning, match="'memory' is already set"):
        trial.set_constraint("memory", 3.0)
    assert trial.constraints == {"0": 0.5, "memory": -1.0}
