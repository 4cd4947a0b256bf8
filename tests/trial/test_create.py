"""create_trial: a trial made outside a study, checked as a study would have made it."""

from __future__ import annotations

import math
from datetime import datetime

import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError

TrialState = optuna.trial.TrialState
X = optuna.FloatDistribution(0.0, 10.0)


def test_a_complete_trial_with_its_parameters():
    trial = optuna.create_trial(params={"x": 2, "y": 0}, distributions={
        "x": X, "y": optuna.CategoricalDistribution([-1, 0, 1])}, value=5)
    assert isinstance(trial, optuna.trial.FrozenTrial)
    assert trial.state is TrialState.COMPLETE
    assert trial.value == 5.0 and type(trial.value) is float
    assert trial.params == {"x": 2.0, "y": 0} and type(trial.params["x"]) is float
    assert isinstance(trial.datetime_start, datetime)
    assert trial.datetime_complete == trial.datetime_start


def test_the_same_function_under_the_trial_module():
    assert optuna.trial.create_trial is optuna.create_trial


def test_a_waiting_trial_has_no_times_and_a_pruned_one_no_value():
    waiting = optuna.trial.create_trial(state=TrialState.WAITING)
    assert waiting.datetime_start is None and waiting.datetime_complete is None
    pruned = optuna.trial.create_trial(state=TrialState.PRUNED, intermediate_values={0: 0.5})
    assert pruned.values is None and pruned.last_step == 0
    assert pruned.datetime_complete is not None


def test_several_objectives_and_attributes():
    trial = optuna.trial.create_trial(
        values=[1, 2.5], user_attrs={"source": "paper"}, system_attrs={"origin": [1, 2]}
    )
    assert trial.values == (1.0, 2.5)
    assert trial.user_attrs == {"source": "paper"}
    assert trial.system_attrs == {"origin": [1, 2]}


def test_constraints_are_stored_by_name():
    trial = optuna.trial.create_trial(value=1.0, constraints={"memory": 0.5, "latency": -1})
    assert trial.constraints == {"memory": 0.5, "latency": -1.0}
    assert trial.system_attrs == {"constraints:memory": 0.5, "constraints:latency": -1.0}


def test_intermediate_values_may_be_nan():
    trial = optuna.trial.create_trial(value=1.0, intermediate_values={0: float("nan"), 1: 2})
    assert math.isnan(trial.intermediate_values[0]) and trial.intermediate_values[1] == 2.0


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({}, "value", "a COMPLETE trial needs its objective value"),
        ({"value": 1.0, "values": [1.0]}, "value", "not both"),
        ({"value": float("nan")}, "values", "finite"),
        ({"value": "high"}, "values", "'high' .* is not a number"),
        ({"state": TrialState.FAIL, "value": 1.0}, "values", "a FAIL trial has no values"),
        ({"state": "COMPLETE", "value": 1.0}, "state", "give a TrialState"),
        ({"value": 1.0, "params": {"x": 1.0}}, "distributions", "name the same parameters"),
        ({"value": 1.0, "params": {"x": 11.0}, "distributions": {"x": X}}, "params", "outside"),
        (
            {"value": 1.0, "params": {"x": 1.0}, "distributions": {"x": (0.0, 10.0)}},
            "distributions",
            "use tunelab's FloatDistribution",
        ),
        ({"value": 1.0, "intermediate_values": {-1: 0.5}}, "intermediate_values", "step -1"),
        ({"value": 1.0, "constraints": {"c": float("nan")}}, "constraints", "NaN"),
        ({"value": 1.0, "constraints": [0.5]}, "constraints", "give a dict"),
        ({"value": 1.0, "constraints": {"c": "low"}}, "constraints", "'low' .*give a number"),
    ],
)
def test_a_trial_no_study_could_have_made_is_refused(arguments, field, message):
    with pytest.raises(ConfigError, match=message) as info:
        optuna.trial.create_trial(**arguments)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


def test_attributes_must_be_json():
    with pytest.raises(optuna.TunelabError, match="'model'.* must be JSON"):
        optuna.trial.create_trial(value=1.0, user_attrs={"model": object()})


def test_a_trial_not_yet_added_says_so_when_asked_for_a_missing_parameter():
    trial = optuna.trial.create_trial(value=1.0)
    with pytest.raises(ConfigError, match="a trial not added to a study has no value"):
        trial.suggest_int("n", 0, 3)
