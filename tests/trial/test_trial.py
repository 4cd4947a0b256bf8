"""Trial: define-by-run suggestions, reports, pruning questions, and the frozen TrialRecord."""

from __future__ import annotations

import dataclasses
import math
import os
import socket
import warnings
from datetime import timedelta

import pytest

from tunelab._attrs import PRUNER_CONSULTED_ATTR, WORKER_ATTR
from tunelab.exceptions import (
    ConfigError,
    ParameterConflictError,
    SearchSpaceError,
    TrialFinishedError,
    TunelabError,
)
from tunelab.pruners import MedianPruner
from tunelab.trial import TrialState, worker_name


def test_suggesting_the_same_name_twice_returns_the_same_value(make_study):
    trial = make_study().ask()
    assert trial.suggest_float("lr", 1e-4, 1e-1, log=True) == trial.suggest_float(
        "lr", 1e-4, 1e-1, log=True
    )
    assert trial.suggest_int("units", 8, 512) == trial.suggest_int("units", 8, 512)
    assert trial.suggest_categorical("opt", ["sgd", "adam"]) == trial.suggest_categorical(
        "opt", ("sgd", "adam")
    )


def test_equal_bounds_written_differently_are_the_same_distribution(make_study):
    trial = make_study().ask()
    assert trial.suggest_float("x", 0, 1) == trial.suggest_float("x", 0.0, 1.0)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (lambda t: t.suggest_float("x", 0.0, 1.0), lambda t: t.suggest_float("x", 0.0, 2.0)),
        (
            lambda t: t.suggest_float("x", 1e-3, 1.0),
            lambda t: t.suggest_float("x", 1e-3, 1.0, log=True),
        ),
        (
            lambda t: t.suggest_float("x", 0.0, 1.0),
            lambda t: t.suggest_float("x", 0.0, 1.0, step=0.5),
        ),
        (lambda t: t.suggest_int("x", 0, 10), lambda t: t.suggest_float("x", 0.0, 10.0)),
        (lambda t: t.suggest_int("x", 0, 10), lambda t: t.suggest_int("x", 0, 10, step=2)),
        (
            lambda t: t.suggest_categorical("x", ["a", "b"]),
            lambda t: t.suggest_categorical("x", ["a", "c"]),
        ),
    ],
)
def test_redefining_a_parameter_differently_raises_parameter_conflict(make_study, first, second):
    trial = make_study().ask()
    first(trial)
    with pytest.raises(ParameterConflictError, match="'x' was first suggested as"):
        second(trial)


def test_parameter_name_must_be_a_non_empty_string(make_study):
    with pytest.raises(TunelabError, match="non-empty string"):
        make_study().ask().suggest_float("", 0.0, 1.0)


def test_impossible_range_in_suggest_raises_search_space_error(make_study):
    with pytest.raises(SearchSpaceError, match="low must be <= high"):
        make_study().ask().suggest_int("units", 10, 1)


def test_suggest_categorical_refuses_a_string_as_choices(make_study):
    with pytest.raises(SearchSpaceError, match="not a single string"):
        make_study().ask().suggest_categorical("opt", "sgd")


def test_conditional_space_records_only_the_parameters_used(make_study):
    def objective(trial):
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
        if optimizer == "sgd":
            trial.suggest_float("momentum", 0.0, 0.99)
        return 0.0

    study = make_study()
    study.optimize(objective, n_trials=20)
    branches = set()
    for record in study.trials:
        expected = (
            {"optimizer", "momentum"} if record.params["optimizer"] == "sgd" else {"optimizer"}
        )
        assert set(record.params) == expected
        assert set(record.distributions) == expected
        branches.add(record.params["optimizer"])
    assert branches == {"sgd", "adam"}


def test_reported_values_are_visible_while_running_and_after(make_study):
    study = make_study()
    trial = study.ask()
    for step, value in enumerate([0.9, 0.7, 0.4]):
        trial.report(value, step=step)
    assert dict(study.trials[0].intermediate_values) == {0: 0.9, 1: 0.7, 2: 0.4}
    study.tell(trial, 0.4)
    record = study.trials[0]
    assert dict(record.intermediate_values) == {0: 0.9, 1: 0.7, 2: 0.4}
    assert record.last_step == 2


def test_reporting_a_step_twice_warns_and_keeps_the_first_value(make_study):
    study = make_study()
    trial = study.ask()
    trial.report(1.0, step=3)
    with pytest.warns(UserWarning, match="already reported a value at step 3"):
        trial.report(2.0, step=3)
    assert dict(study.trials[0].intermediate_values) == {3: 1.0}


@pytest.mark.parametrize("step", [-1, 1.5, True, "1", None])
def test_report_step_must_be_a_non_negative_integer(make_study, step):
    with pytest.raises(TunelabError, match="must be a non-negative integer"):
        make_study().ask().report(0.5, step=step)


def test_report_value_must_be_a_number(make_study):
    with pytest.raises(TunelabError, match="must be a number"):
        make_study().ask().report("high", step=0)


def test_report_in_a_multi_objective_study_raises(make_study):
    trial = make_study(directions=["minimize", "maximize"]).ask()
    with pytest.raises(TunelabError, match="single-objective"):
        trial.report(1.0, step=0)


def _complete_with_history(study, history):
    trial = study.ask()
    for step, value in enumerate(history):
        trial.report(value, step=step)
    study.tell(trial, history[-1])


def test_should_prune_with_the_median_pruner_stops_a_clearly_bad_trial(make_study):
    study = make_study(pruner=MedianPruner(n_startup_trials=3))
    for _ in range(3):
        _complete_with_history(study, [1.0, 0.8, 0.6])
    bad, good = study.ask(), study.ask()
    assert bad.should_prune() is False  # nothing reported yet
    bad.report(10.0, step=0)
    good.report(0.5, step=0)
    assert bad.should_prune() is True
    assert good.should_prune() is False


def test_should_prune_is_false_before_enough_trials_completed(make_study):
    study = make_study(pruner=MedianPruner(n_startup_trials=3))
    for _ in range(2):
        _complete_with_history(study, [1.0])
    trial = study.ask()
    trial.report(10.0, step=0)
    assert trial.should_prune() is False


def test_the_first_should_prune_notes_the_pruner_asked_in_one_write(make_study, monkeypatch):
    study = make_study(pruner=MedianPruner(n_startup_trials=3))
    trial, untouched = study.ask(), study.ask()
    writes = []
    write = study.storage.set_trial_system_attr
    monkeypatch.setattr(
        study.storage, "set_trial_system_attr",
        lambda *args: writes.append(args[1:]) or write(*args),
    )
    assert trial.should_prune() is False  # asked before any report: still noted
    trial.report(1.0, step=0)
    for _ in range(3):
        trial.should_prune()
    assert writes == [(PRUNER_CONSULTED_ATTR, "median")]
    assert study.storage.get_trial(trial.trial_id).system_attrs[PRUNER_CONSULTED_ATTR] == "median"
    assert PRUNER_CONSULTED_ATTR not in study.storage.get_trial(untouched.trial_id).system_attrs


def test_user_attrs_are_stored(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_user_attr("epochs_run", 7)
    trial.set_user_attr("notes", {"device": "cpu", "tags": ["a", "b"]})
    assert study.trials[0].user_attrs["epochs_run"] == 7
    study.tell(trial, 1.0)
    record = study.trials[0]
    assert dict(record.user_attrs) == {
        "epochs_run": 7,
        "notes": {"device": "cpu", "tags": ["a", "b"]},
    }


def test_system_attrs_are_stored_apart_from_user_attrs(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_system_attr("telemetry", [{"epoch": 1, "loss": 0.5}])
    study.tell(trial, 1.0)
    record = study.trials[0]
    assert dict(record.system_attrs) == {
        "telemetry": [{"epoch": 1, "loss": 0.5}],
        WORKER_ATTR: worker_name(),
    }
    assert dict(record.user_attrs) == {}


def test_a_trial_records_the_process_that_ran_it(make_study):
    study = make_study()
    study.enqueue_trial({"x": 1.0})
    enqueued, new = study.ask(2)
    claimed = study.storage.get_trial(enqueued.trial_id)
    assert claimed.system_attrs[WORKER_ATTR] == worker_name()  # added to the enqueued trial's
    host, pid = claimed.system_attrs[WORKER_ATTR].rsplit(":", 1)
    assert (host, int(pid)) == (socket.gethostname(), os.getpid())
    assert study.storage.get_trial(new.trial_id).system_attrs[WORKER_ATTR] == worker_name()


def test_constraints_are_stored_as_floats_in_the_constraints_attribute(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_constraints((1, -0.5))
    study.tell(trial, 1.0)
    assert study.trials[0].system_attrs["constraints"] == [1.0, -0.5]


@pytest.mark.parametrize("values", [0.5, "abc", [1.0, "x"], [True]])
def test_constraints_that_are_not_numbers_raise_a_config_error(make_study, values):
    trial = make_study().ask()
    with pytest.raises(ConfigError, match="constraint") as caught:
        trial.set_constraints(values)
    assert caught.value.field == "constraints"


def test_named_constraints_are_stored_one_by_one_after_the_list(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_constraints([0.5])
    trial.set_constraint("memory", -1)
    trial.set_constraint("latency", 2.0)
    assert trial.constraints == {"0": 0.5, "memory": -1.0, "latency": 2.0}
    study.tell(trial, 1.0)
    (stored,) = study.trials
    assert stored.constraints == {"0": 0.5, "memory": -1.0, "latency": 2.0}
    assert stored.system_attrs["constraints:latency"] == 2.0


def test_a_named_constraint_set_twice_keeps_its_first_value(make_study):
    study = make_study()
    trial = study.ask()
    trial.set_constraint("memory", -1.0)
    with pytest.warns(UserWarning, match="'memory' is already set to -1.0; the value 3.0"):
        trial.set_constraint("memory", 3.0)
    study.tell(trial, 1.0)
    assert study.trials[0].constraints == {"memory": -1.0}


def test_one_violated_named_constraint_makes_a_trial_infeasible(make_study):
    study = make_study()
    for violation in (1.0, -1.0):
        trial = study.ask()
        trial.set_constraint("a", -5.0)
        trial.set_constraint("b", violation)
        study.tell(trial, violation)  # the infeasible trial has the better value
    assert study.best_trial.number == 1


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("", 1.0, "trial 0: constraint name '' is not a non-empty string"),
        (3, 1.0, "constraint name 3"),
        ("memory", "high", "constraint 'memory' is 'high' \\(str\\); give a number"),
        ("memory", True, "constraint 'memory' is True"),
        ("memory", float("nan"), "constraint 'memory' is NaN"),
    ],
)
def test_a_named_constraint_that_is_not_a_number_is_refused(make_study, name, value, message):
    trial = make_study().ask()
    with pytest.raises(ConfigError, match=message) as caught:
        trial.set_constraint(name, value)
    assert caught.value.field == "constraints"


def test_non_json_system_attr_raises_a_tunelab_error(make_study):
    trial = make_study().ask()
    with pytest.raises(TunelabError, match="'weights'"):
        trial.set_system_attr("weights", object())


def test_non_json_user_attr_raises_a_tunelab_error_on_every_backend(make_study):
    trial = make_study().ask()
    with pytest.raises(TunelabError, match="'model'"):
        trial.set_user_attr("model", object())


def test_changing_a_list_after_set_user_attr_does_not_change_the_stored_value(make_study):
    study = make_study()
    trial = study.ask()
    history = [1.0]
    trial.set_user_attr("history", history)
    study.tell(trial, 1.0)
    history.append(2.0)
    assert study.trials[0].user_attrs["history"] == [1.0]


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.report(1.0, step=5),
        lambda t: t.should_prune(),
        lambda t: t.set_user_attr("late", 1),
        lambda t: t.set_system_attr("late", 1),
    ],
    ids=["report", "should_prune", "set_user_attr", "set_system_attr"],
)
def test_a_finished_trial_refuses_changes(make_study, call):
    study = make_study()
    trial = study.ask()
    trial.report(1.0, step=0)
    study.tell(trial, 1.0)
    with pytest.raises(TrialFinishedError, match=f"trial {trial.number} is finished"):
        call(trial)


@pytest.fixture
def finished_record(make_study):
    study = make_study()
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.report(0.5, step=0)
    trial.set_user_attr("k", "v")
    study.tell(trial, 1.0)
    return study.trials[0]


@pytest.mark.parametrize("attribute", ["state", "values", "params", "number", "fail_reason"])
def test_trial_record_attributes_cannot_be_assigned(finished_record, attribute):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(finished_record, attribute, None)


@pytest.mark.parametrize(
    "mapping", ["params", "distributions", "intermediate_values", "user_attrs", "system_attrs"]
)
def test_trial_record_mappings_cannot_be_changed(finished_record, mapping):
    with pytest.raises(TypeError):
        getattr(finished_record, mapping)["new"] = 1


def test_trial_record_values_is_a_tuple(finished_record):
    assert finished_record.values == (1.0,)
    with pytest.raises(TypeError):
        finished_record.values[0] = 2.0  # type: ignore[index]


def test_trial_record_derived_properties(finished_record):
    assert finished_record.state is TrialState.COMPLETE
    assert finished_record.value == 1.0
    assert finished_record.last_step == 0
    assert finished_record.duration is not None
    assert finished_record.duration >= timedelta(0)


def test_value_of_a_multi_objective_record_raises(make_study):
    study = make_study(directions=["minimize", "minimize"])
    study.tell(study.ask(), [1.0, 2.0])
    record = study.trials[0]
    assert record.values == (1.0, 2.0)
    with pytest.raises(TunelabError, match="use .values"):
        _ = record.value


def test_running_record_has_no_duration(make_study):
    study = make_study()
    study.ask()
    record = study.trials[0]
    assert record.state is TrialState.RUNNING
    assert record.duration is None and record.values is None


def test_nan_report_is_stored_as_nan(make_study):
    study = make_study()
    trial = study.ask()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trial.report(float("nan"), step=0)
    assert math.isnan(study.trials[0].intermediate_values[0])


def test_a_running_trial_reads_its_user_attrs_and_start(make_study):
    study = make_study()
    trial = study.ask()
    assert trial.user_attrs == {}
    trial.set_user_attr("fold", 2)
    copy = trial.user_attrs
    copy["fold"] = 3
    assert trial.user_attrs == {"fold": 2}
    assert trial.datetime_start == study.trials[0].datetime_start is not None
