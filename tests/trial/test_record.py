"""The stored record as Optuna's FrozenTrial: built by keyword, re-run by an objective, read."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from datetime import datetime, timedelta, timezone

import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError, ParameterConflictError

START = datetime(2025, 3, 1, 9, 30, tzinfo=timezone.utc)


def frozen(**changes) -> optuna.trial.FrozenTrial:
    """A finished trial built as Optuna scripts build one: every argument by keyword."""
    fields = dict(
        number=0,
        state=optuna.trial.TrialState.COMPLETE,
        value=0.25,
        datetime_start=START,
        datetime_complete=START + timedelta(seconds=3),
        params={"x": 0.5, "n": 2, "opt": "adam"},
        distributions={
            "x": optuna.FloatDistribution(0.0, 1.0),
            "n": optuna.IntDistribution(1, 4),
            "opt": optuna.CategoricalDistribution(["sgd", "adam"]),
        },
        user_attrs={"note": "kept"},
        system_attrs={},
        intermediate_values={0: 0.5, 4: 0.3},
        trial_id=12,
    )
    fields.update(changes)
    return optuna.trial.FrozenTrial(**fields)


def objective(trial: optuna.trial.BaseTrial) -> float:
    x = trial.suggest_float("x", 0.0, 1.0)
    n = trial.suggest_int("n", 1, 4)
    opt = trial.suggest_categorical("opt", ["sgd", "adam"])
    return x * n + (opt == "sgd")


def test_frozen_trial_is_the_stored_record():
    assert optuna.trial.FrozenTrial is optuna.TrialRecord


def test_optuna_keyword_constructor():
    trial = frozen()
    assert trial.value == 0.25 and trial.values == (0.25,)
    assert trial.trial_id == trial._trial_id == 12
    assert trial.duration == timedelta(seconds=3)
    assert trial.last_step == 4
    assert trial.user_attrs == {"note": "kept"}


def test_constructor_values_for_several_objectives_and_not_both():
    assert frozen(value=None, values=[1.0, 2.0]).values == (1.0, 2.0)
    with pytest.raises(ConfigError, match="either value= .* or values=") as info:
        frozen(values=[1.0])
    assert isinstance(info.value, ValueError)


def test_mappings_given_to_the_constructor_are_copied_and_read_only():
    params = {"x": 0.5, "n": 2, "opt": "adam"}
    trial = frozen(params=params)
    params["x"] = 0.9
    assert trial.params["x"] == 0.5
    with pytest.raises(TypeError):
        trial.params["x"] = 0.9  # type: ignore[index]


def test_replace_makes_a_changed_copy():
    trial = frozen()
    changed = dataclasses.replace(trial, user_attrs={"note": "new"})
    assert changed.user_attrs == {"note": "new"} and trial.user_attrs == {"note": "kept"}
    assert changed.values == trial.values and changed == dataclasses.replace(changed)


def test_suggestions_return_the_stored_values(make_study):
    study = make_study()
    study.optimize(objective, n_trials=5)
    best = study.best_trial
    assert objective(best) == study.best_value
    assert best.params == study.best_params


def test_suggesting_a_parameter_the_trial_did_not_have_names_it():
    with pytest.raises(ConfigError, match=r"trial 0 has no value for parameter 'lr'") as info:
        frozen().suggest_float("lr", 1e-4, 1.0, log=True)
    assert isinstance(info.value, ValueError)


def test_a_wider_range_is_allowed_but_another_kind_is_not():
    trial = frozen()
    assert trial.suggest_float("x", -5.0, 5.0) == 0.5
    with pytest.raises(ParameterConflictError, match="'n' was suggested as IntDistribution"):
        trial.suggest_float("n", 1.0, 4.0)
    with pytest.raises(ParameterConflictError):
        trial.suggest_categorical("opt", ["sgd", "adam", "adamw"])


def test_report_and_should_prune_do_nothing():
    trial = frozen()
    trial.report(0.1, step=9)
    assert trial.should_prune() is False
    assert trial.intermediate_values == {0: 0.5, 4: 0.3}


def test_set_user_attr_on_a_record_a_study_holds_warns_and_changes_nothing():
    trial = frozen()
    with pytest.warns(UserWarning, match="trial 0 is a record a study holds") as caught:
        trial.set_user_attr("note", "changed")
    assert caught[0].filename == __file__
    assert trial.user_attrs == {"note": "kept"}


def test_set_user_attr_adds_to_a_trial_not_yet_added():
    trial = optuna.trial.create_trial(value=1.0, user_attrs={"a": 1})
    trial.set_user_attr("source", ["paper", 2019])
    assert trial.user_attrs == {"a": 1, "source": ["paper", 2019]}
    with pytest.raises(TypeError):
        trial.user_attrs["b"] = 2  # type: ignore[index]
    with pytest.raises(optuna.TunelabError, match="must be JSON"):
        trial.set_user_attr("model", object())


def test_constraints_are_read_by_position():
    assert frozen().constraints == {}
    trial = frozen(system_attrs={"constraints": [0.5, -1.0]})
    assert trial.constraints == {"0": 0.5, "1": -1.0}
    named = frozen(system_attrs={"constraints:memory": 0.5, "constraints": [-1.0], "other": 1})
    assert named.constraints == {"0": -1.0, "memory": 0.5}


def test_stored_constraints_read_the_same(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_constraints([0.0, 2.0])
    study.tell(trial, 1.0)
    assert study.trials[0].constraints == {"0": 0.0, "1": 2.0}


def test_records_sort_by_number():
    late, early = frozen(number=5), frozen(number=2)
    assert sorted([late, early]) == [early, late]
    assert early < late and early <= early
    assert early.__lt__(3) is NotImplemented


def test_a_record_can_be_deep_copied_and_pickled():
    trial = frozen(user_attrs={"curve": [1, 2]})
    for copied in (copy.deepcopy(trial), pickle.loads(pickle.dumps(trial))):
        assert copied == trial and copied is not trial
        assert copied.user_attrs["curve"] is not trial.user_attrs["curve"]
        with pytest.raises(TypeError):
            copied.params["x"] = 0.9  # type: ignore[index]
