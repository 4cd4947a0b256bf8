"""Study: create/load/delete, optimize, ask/tell, enqueued trials, best trials, dataframes."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

import tunelab
from tunelab.exceptions import (
    ConfigError,
    DuplicatedStudyError,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
    TrialPruned,
    TunelabError,
)
from tunelab.storage import InMemoryStorage
from tunelab.trial import TrialState


def returns_x(trial):
    return trial.suggest_float("x", -10.0, 10.0)


def states(study):
    return [record.state for record in study.trials]


# Create, load, delete, list ----------------------------------------------------------------


def test_load_study_returns_the_created_study(storage):
    created = tunelab.create_study(
        name="digits", storage=storage, direction="maximize", metric_names=["acc"]
    )
    loaded = tunelab.load_study("digits", storage)
    assert (loaded.study_name, loaded.study_id) == ("digits", created.study_id)
    assert loaded.directions == ("maximize",)
    assert loaded.metric_names == ("acc",)


def test_load_if_exists_returns_the_existing_study_with_its_trials(storage):
    first = tunelab.create_study(name="s", storage=storage, seed=0)
    first.optimize(returns_x, n_trials=2)
    again = tunelab.create_study(name="s", storage=storage, load_if_exists=True)
    assert again.study_id == first.study_id
    assert len(again.trials) == 2


def test_load_if_exists_creates_the_study_when_missing(storage):
    study = tunelab.create_study(name="new", storage=storage, load_if_exists=True)
    assert tunelab.load_study("new", storage).study_id == study.study_id


def test_load_if_exists_with_other_directions_raises(storage):
    tunelab.create_study(name="s", storage=storage, direction="minimize")
    with pytest.raises(ConfigError, match=r"exists with directions \['minimize'\]"):
        tunelab.create_study(name="s", storage=storage, direction="maximize", load_if_exists=True)


def test_creating_a_duplicate_name_raises(storage):
    tunelab.create_study(name="s", storage=storage)
    with pytest.raises(DuplicatedStudyError, match="'s' already exists.*load_if_exists=True"):
        tunelab.create_study(name="s", storage=storage)


def test_loading_a_missing_study_raises_study_not_found(storage):
    with pytest.raises(StudyNotFoundError, match="no study named 'ghost'"):
        tunelab.load_study("ghost", storage)


@pytest.mark.parametrize("name", ["has space", "-leading-dash", "x" * 129, "naïve"])
def test_invalid_study_name_raises_storage_error(storage, name):
    with pytest.raises(StorageError, match="is not valid"):
        tunelab.create_study(name=name, storage=storage)


def test_delete_study_removes_it_and_its_trials(storage):
    study = tunelab.create_study(name="gone", storage=storage, seed=0)
    study.optimize(returns_x, n_trials=3)
    tunelab.create_study(name="kept", storage=storage)
    tunelab.delete_study("gone", storage)
    with pytest.raises(StudyNotFoundError):
        tunelab.load_study("gone", storage)
    assert [s.name for s in tunelab.list_studies(storage)] == ["kept"]


def test_delete_missing_study_raises_study_not_found(storage):
    with pytest.raises(StudyNotFoundError):
        tunelab.delete_study("ghost", storage)


def test_list_studies_counts_trials_per_state_and_gives_the_best_value(storage):
    low = tunelab.create_study(name="low", storage=storage, direction="minimize")
    for value in (3.0, 1.0, 2.0):
        low.tell(low.ask(), value)
    low.tell(low.ask(), state=TrialState.PRUNED)
    low.tell(low.ask(), state=TrialState.FAIL)
    low.ask()
    high = tunelab.create_study(name="high", storage=storage, direction="maximize")
    for value in (3.0, 1.0):
        high.tell(high.ask(), value)
    tunelab.create_study(name="empty", storage=storage)

    summaries = {s.name: s for s in tunelab.list_studies(storage)}
    assert list(summaries) == ["low", "high", "empty"]
    counts = summaries["low"].counts
    assert (counts[TrialState.COMPLETE], counts[TrialState.PRUNED], counts[TrialState.FAIL]) == (
        3,
        1,
        1,
    )
    assert counts[TrialState.RUNNING] == 1
    assert summaries["low"].n_trials == 6
    assert summaries["low"].best_value == 1.0
    assert summaries["high"].best_value == 3.0
    assert summaries["high"].directions == ("maximize",)
    assert summaries["empty"].n_trials == 0 and summaries["empty"].best_value is None


# Directions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"direction": "up"}, "'up' is not a direction; use 'minimize' or 'maximize'"),
        ({"directions": ["minimize", "best"]}, "'best' is not a direction"),
        (
            {"direction": "minimize", "directions": ["minimize"]},
            "either direction or directions, not both",
        ),
        ({"directions": []}, "directions must be a non-empty list"),
        ({"directions": "minimize"}, "directions must be a non-empty list"),
        (
            {"directions": ["minimize", "maximize"], "metric_names": ["loss"]},
            r"one name per objective \(2\)",
        ),
        ({"direction": "minimize", "metric_names": "loss"}, r"one name per objective \(1\)"),
    ],
)
def test_invalid_directions_raise_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        tunelab.create_study(**options)


def test_duplicate_metric_names_raise_config_error():
    with pytest.raises(ConfigError, match="metric_names"):
        tunelab.create_study(directions=["minimize", "maximize"], metric_names=["score", "score"])


def test_direction_is_case_insensitive_and_minimize_by_default():
    assert tunelab.create_study(direction="MAXIMIZE").direction == "maximize"
    assert tunelab.create_study().direction == "minimize"


def test_direction_of_a_multi_objective_study_raises():
    study = tunelab.create_study(directions=["minimize", "maximize"])
    assert study.directions == ("minimize", "maximize")
    with pytest.raises(TunelabError, match="use .directions"):
        _ = study.direction


# Optimize --------------------------------------------------------------------------------


def test_optimize_runs_n_trials(make_study):
    study = make_study()
    study.optimize(returns_x, n_trials=5)
    assert [r.number for r in study.trials] == [0, 1, 2, 3, 4]
    assert states(study) == [TrialState.COMPLETE] * 5
    assert all(r.value == r.params["x"] for r in study.trials)


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ({"n_trials": -1}, "n_trials=-1 must be a non-negative integer"),
        ({"n_trials": 2.5}, "n_trials=2.5"),
        ({"n_trials": True}, "n_trials=True"),
        ({"timeout": 0}, "timeout=0 must be a positive number"),
        ({"timeout": -1.0}, "timeout=-1.0"),
    ],
)
def test_invalid_budget_raises_config_error(budget, message):
    with pytest.raises(ConfigError, match=message):
        tunelab.create_study().optimize(returns_x, **budget)


def test_optimize_with_zero_trials_runs_nothing():
    study = tunelab.create_study()
    study.optimize(returns_x, n_trials=0)
    assert study.trials == []


def test_timeout_stops_optimize():
    def slow(trial):
        time.sleep(0.02)
        return 0.0

    study = tunelab.create_study()
    started = time.monotonic()
    study.optimize(slow, timeout=0.15)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 0.6
    assert 2 <= len(study.trials) <= 8


def test_callbacks_are_called_with_each_finished_record(make_study):
    seen = []

    def objective(trial):
        if trial.number == 1:
            raise TrialPruned()
        return float(trial.number)

    study = make_study()
    study.optimize(objective, n_trials=3, callbacks=[lambda s, r: seen.append((s, r))])
    assert [s for s, _ in seen] == [study] * 3
    assert [(r.number, r.state) for _, r in seen] == [
        (0, TrialState.COMPLETE),
        (1, TrialState.PRUNED),
        (2, TrialState.COMPLETE),
    ]


def test_stop_from_a_callback_stops_optimize_and_the_next_call_runs_again(make_study):
    def stop_at_three(study, record):
        if record.number == 2:
            study.stop()

    study = make_study()
    study.optimize(returns_x, n_trials=100, callbacks=[stop_at_three])
    assert len(study.trials) == 3
    study.optimize(returns_x, n_trials=2)
    assert len(study.trials) == 5


def _raise(error):
    raise error


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        pytest.param(lambda: _raise(ValueError("boom")), "ValueError: boom", id="raises"),
        pytest.param(
            lambda: float("nan"), "returned nan; it must return a finite number", id="nan"
        ),
        pytest.param(
            lambda: float("inf"), "returned inf; it must return a finite number", id="inf"
        ),
        pytest.param(
            lambda: "0.5", r"returned '0.5' \(str\); it must return a number", id="string"
        ),
        pytest.param(lambda: None, r"returned None \(NoneType\)", id="none"),
        pytest.param(lambda: True, r"returned True \(bool\)", id="bool"),
        pytest.param(
            lambda: [1.0, 2.0],
            r"returned 2 value\(s\) but the study has 1 objective",
            id="too-many",
        ),
        pytest.param(lambda: np.array([1.0]), r"\(ndarray\)", id="array"),
    ],
)
def test_bad_objective_outcome_fails_the_trial_and_the_study_goes_on(make_study, outcome, reason):
    def objective(trial):
        return outcome() if trial.number == 1 else 1.0

    study = make_study()
    study.optimize(objective, n_trials=3)
    assert states(study) == [TrialState.COMPLETE, TrialState.FAIL, TrialState.COMPLETE]
    failed = study.trials[1]
    assert failed.values is None
    assert failed.fail_reason is not None
    assert re.search(reason, failed.fail_reason), failed.fail_reason


def test_wrong_number_of_values_in_a_multi_objective_study_fails(make_study):
    study = make_study(directions=["minimize", "maximize"])
    study.optimize(lambda t: 1.0, n_trials=1)
    assert study.trials[0].state is TrialState.FAIL
    assert "returned 1 value(s) but the study has 2 objective(s)" in study.trials[0].fail_reason


@pytest.mark.parametrize("value", [np.float64(0.25), np.float32(0.25), np.int64(3), 7])
def test_numpy_and_int_results_are_stored_as_floats(make_study, value):
    study = make_study()
    study.optimize(lambda t: value, n_trials=1)
    record = study.trials[0]
    assert record.state is TrialState.COMPLETE
    assert record.value == float(value) and type(record.value) is float


def test_catch_nothing_reraises_after_marking_the_trial_failed(make_study):
    study = make_study()
    with pytest.raises(ValueError, match="boom"):
        study.optimize(lambda t: _raise(ValueError("boom")), n_trials=5, catch=())
    assert states(study) == [TrialState.FAIL]
    assert study.trials[0].fail_reason == "ValueError: boom"


def test_exception_outside_catch_reraises(make_study):
    study = make_study()
    with pytest.raises(KeyError):
        study.optimize(lambda t: _raise(KeyError("k")), n_trials=5, catch=(ValueError,))
    assert states(study) == [TrialState.FAIL]


def test_keyboard_interrupt_fails_the_trial_keeps_the_others_and_numbering_continues(make_study):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number == 2:
            raise KeyboardInterrupt
        return x

    study = make_study()
    with pytest.raises(KeyboardInterrupt):
        study.optimize(objective, n_trials=10)
    assert states(study) == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert "interrupted" in study.trials[2].fail_reason
    assert "x" in study.trials[2].params
    study.optimize(returns_x, n_trials=2)
    assert [r.number for r in study.trials] == [0, 1, 2, 3, 4]
    assert states(study)[3:] == [TrialState.COMPLETE] * 2


def test_trial_pruned_marks_the_trial_pruned(make_study):
    def objective(trial):
        trial.report(1.0, step=0)
        raise TrialPruned()

    study = make_study()
    study.optimize(objective, n_trials=2)
    assert states(study) == [TrialState.PRUNED] * 2
    assert study.trials[0].values is None and study.trials[0].fail_reason is None
    assert dict(study.trials[0].intermediate_values) == {0: 1.0}


# Ask and tell ------------------------------------------------------------------------------


def test_ask_then_tell_completes_the_trial(make_study):
    study = make_study()
    trial = study.ask()
    x = trial.suggest_float("x", 0.0, 1.0)
    assert study.trials[0].state is TrialState.RUNNING
    record = study.tell(trial, x * 2)
    assert record.state is TrialState.COMPLETE
    assert record.value == pytest.approx(x * 2)
    assert study.trials[0].params == {"x": x}


def test_ask_n_starts_n_distinct_running_trials(make_study):
    study = make_study()
    trials = study.ask(4)
    assert len(trials) == 4
    assert len({id(t) for t in trials}) == 4
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert study.storage.count_trials(study.study_id, [TrialState.RUNNING]) == 4


@pytest.mark.parametrize("n", [0, -1, True, 1.5])
def test_ask_n_must_be_a_positive_integer(n):
    with pytest.raises(TunelabError, match="n must be a positive integer"):
        tunelab.create_study().ask(n)


def test_tell_by_number_keeps_the_parameters_suggested(make_study):
    study = make_study()
    first, second = study.ask(2)
    x = second.suggest_int("units", 1, 64)
    record = study.tell(second.number, 5.0)
    assert (record.number, record.state, record.value) == (1, TrialState.COMPLETE, 5.0)
    assert record.params == {"units": x}
    assert study.trials[0].state is TrialState.RUNNING


@pytest.mark.parametrize(
    ("by", "error", "message"),
    [
        (lambda t: t, TrialFinishedError, "not RUNNING"),
        (lambda t: t.number, TunelabError, "trial number 0 is not a running trial"),
    ],
    ids=["trial", "number"],
)
def test_telling_a_trial_twice_raises(make_study, by, error, message):
    study = make_study()
    trial = study.ask()
    study.tell(by(trial), 1.0)
    with pytest.raises(error, match=message):
        study.tell(by(trial), 2.0)
    assert study.trials[0].value == 1.0


def test_tell_unknown_number_raises(make_study):
    with pytest.raises(TunelabError, match="trial number 7 is not a running trial"):
        make_study().tell(7, 1.0)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        (float("nan"), "finite"),
        ("abc", "must return a number"),
        ([1.0, 2.0], r"2 value\(s\)"),
        (None, "NoneType"),
    ],
)
def test_tell_with_bad_values_fails_the_trial_with_the_reason(make_study, values, reason):
    study = make_study()
    record = study.tell(study.ask(), values)
    assert record.state is TrialState.FAIL
    assert re.search(reason, record.fail_reason)


@pytest.mark.parametrize("state", [TrialState.PRUNED, "FAIL"])
def test_tell_with_a_finished_state(make_study, state):
    study = make_study()
    record = study.tell(
        study.ask(), state=state, fail_reason="out of memory" if state == "FAIL" else None
    )
    assert record.state is TrialState(state)
    assert record.values is None


def test_tell_with_running_state_raises(make_study):
    study = make_study()
    with pytest.raises(TunelabError, match="use COMPLETE, PRUNED or FAIL"):
        study.tell(study.ask(), 1.0, state=TrialState.RUNNING)


def test_tell_multi_objective_values(make_study):
    study = make_study(directions=["minimize", "maximize"])
    record = study.tell(study.ask(), (0.5, 0.9))
    assert record.values == (0.5, 0.9)


# Enqueued trials ---------------------------------------------------------------------------


def _lr_and_units(trial):
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_int("units", 8, 256)
    return 0.0


def test_enqueued_params_are_used_first_each_once(make_study):
    study = make_study()
    assert study.enqueue_trial({"lr": 0.01, "units": 32}) == 0
    assert study.enqueue_trial({"lr": 0.001, "units": 64}, user_attrs={"source": "paper"}) == 1
    study.optimize(_lr_and_units, n_trials=4)
    trials = study.trials
    assert [dict(r.params) for r in trials[:2]] == [
        {"lr": 0.01, "units": 32},
        {"lr": 0.001, "units": 64},
    ]
    assert trials[1].user_attrs["source"] == "paper"
    assert all(
        r.params not in ({"lr": 0.01, "units": 32}, {"lr": 0.001, "units": 64}) for r in trials[2:]
    )
    assert [r.number for r in trials] == [0, 1, 2, 3]


def test_partly_enqueued_trial_samples_the_other_params(make_study):
    study = make_study()
    study.enqueue_trial({"units": 16})
    study.optimize(_lr_and_units, n_trials=1)
    record = study.trials[0]
    assert record.params["units"] == 16
    assert 1e-4 <= record.params["lr"] <= 1e-1


def test_an_enqueued_trial_is_handed_to_exactly_one_asker(make_study):
    study = make_study()
    study.enqueue_trial({"units": 100})
    trials = study.ask(3)
    fixed = [t for t in trials if t.fixed_params]
    assert len(fixed) == 1 and fixed[0].fixed_params == {"units": 100}
    assert fixed[0].suggest_int("units", 8, 256) == 100
    assert study.storage.count_trials(study.study_id, [TrialState.WAITING]) == 0


def test_enqueued_value_outside_the_range_raises_a_clear_error(make_study):
    study = make_study()
    study.enqueue_trial({"units": 1000})
    trial = study.ask()
    with pytest.raises(
        TunelabError, match=r"enqueued value units=1000 is outside its distribution"
    ):
        trial.suggest_int("units", 8, 256)


def test_enqueued_value_outside_the_range_fails_the_trial_in_optimize(make_study):
    study = make_study()
    study.enqueue_trial({"units": 1000})
    study.optimize(_lr_and_units, n_trials=2)
    assert states(study) == [TrialState.FAIL, TrialState.COMPLETE]
    assert "enqueued value units=1000 is outside" in study.trials[0].fail_reason


def test_enqueuing_a_non_json_value_raises(make_study):
    with pytest.raises(
        TunelabError, match="units=\\[8, 16\\] is a list; parameters are JSON scalars"
    ):
        make_study().enqueue_trial({"units": [8, 16]})


def test_enqueued_int_for_a_float_parameter_is_returned_as_a_float(make_study):
    study = make_study()
    study.enqueue_trial({"x": 1})
    value = study.ask().suggest_float("x", 0.0, 2.0)
    assert type(value) is float and value == 1.0


# Best trials -----------------------------------------------------------------------------


@pytest.mark.parametrize(("direction", "best"), [("minimize", -3.0), ("maximize", 4.0)])
def test_best_trial_value_and_params(make_study, direction, best):
    study = make_study(direction=direction)
    for x in (1.0, -3.0, 4.0, 0.5):
        study.enqueue_trial({"x": x})
    study.optimize(returns_x, n_trials=4)
    assert study.best_value == best
    assert study.best_params == {"x": best}
    assert study.best_trial.params["x"] == best


def test_best_trial_ignores_failed_and_pruned_trials(make_study):
    study = make_study()
    study.tell(study.ask(), 5.0)
    study.tell(study.ask(), float("nan"))
    study.tell(study.ask(), state=TrialState.PRUNED)
    assert study.best_value == 5.0


def test_best_trial_without_a_completed_trial_raises(make_study):
    study = make_study()
    study.tell(study.ask(), state=TrialState.FAIL)
    with pytest.raises(TunelabError, match="has no completed trial that satisfies"):
        _ = study.best_trial


def test_best_trials_is_the_pareto_front(make_study):
    # (loss to minimize, accuracy to maximize)
    points = [(1.0, 0.5), (2.0, 0.9), (2.0, 0.6), (0.5, 0.4), (3.0, 0.9), (1.0, 0.5), (1.5, 0.45)]
    study = make_study(directions=["minimize", "maximize"])
    for point in points:
        study.tell(study.ask(), point)
    study.tell(study.ask(), state=TrialState.FAIL)
    # 2 is dominated by 1; 4 by 1 (same accuracy, higher loss); 6 by 0 and 5; 0 and 5 tie.
    assert [r.number for r in study.best_trials] == [0, 1, 3, 5]


def _tell_constrained(study, values, constraints):
    trial = study.ask()
    if constraints is not None:
        trial.set_constraints(constraints)
    study.tell(trial, values)


def test_best_trials_leave_out_trials_that_violate_a_constraint(make_study):
    study = make_study(directions=["minimize", "minimize"])
    _tell_constrained(study, (0.0, 0.0), [0.1])  # dominates all, but infeasible
    _tell_constrained(study, (1.0, 2.0), [0.0, -1.0])  # on the boundary: feasible
    _tell_constrained(study, (2.0, 1.0), None)  # no constraints: feasible
    _tell_constrained(study, (3.0, 3.0), [-5.0])  # feasible but dominated
    assert [r.number for r in study.best_trials] == [1, 2]


def test_best_trial_is_the_best_feasible_one(make_study):
    study = make_study()
    _tell_constrained(study, 0.0, [float("nan")])  # a constraint that is not a number fails
    _tell_constrained(study, 1.0, [2.0])
    _tell_constrained(study, 3.0, [-1.0])
    assert study.best_value == 3.0
    assert [r.number for r in study.best_trials] == [2]


def test_best_trial_when_no_trial_is_feasible_raises(make_study):
    study = make_study()
    _tell_constrained(study, 1.0, [1.0])
    assert study.best_trials == []
    with pytest.raises(TunelabError, match="satisfies its constraints"):
        _ = study.best_trial


def test_best_trials_of_a_single_objective_study_are_the_ties_for_best(make_study):
    study = make_study()
    for value in (2.0, 1.0, 1.0, 3.0):
        study.tell(study.ask(), value)
    assert [r.number for r in study.best_trials] == [1, 2]


# Dataframe ---------------------------------------------------------------------------------


def test_trials_dataframe_has_one_row_per_trial_with_flat_columns(make_study):
    def objective(trial):
        trial.suggest_float("lr", 1e-3, 1e-1, log=True)
        if trial.number == 0:
            trial.suggest_categorical("opt", ["sgd"])
        trial.set_user_attr("epochs", trial.number + 1)
        if trial.number == 2:
            raise ValueError("diverged")
        return float(trial.number)

    study = make_study()
    study.optimize(objective, n_trials=3)
    frame = study.trials_dataframe()
    assert len(frame) == 3
    for column in (
        "number",
        "state",
        "value",
        "params_lr",
        "params_opt",
        "user_attrs_epochs",
        "fail_reason",
    ):
        assert column in frame.columns
    assert list(frame["number"]) == [0, 1, 2]
    assert list(frame["state"]) == ["COMPLETE", "COMPLETE", "FAIL"]
    assert list(frame["value"][:2]) == [0.0, 1.0]
    assert list(frame["user_attrs_epochs"]) == [1, 2, 3]
    assert frame["params_opt"][0] == "sgd"
    assert frame["fail_reason"][2] == "ValueError: diverged"


@pytest.mark.parametrize(
    ("metric_names", "columns"),
    [(None, ["value_0", "value_1"]), (["loss", "acc"], ["value_loss", "value_acc"])],
)
def test_multi_objective_dataframe_names_value_columns(make_study, metric_names, columns):
    study = make_study(directions=["minimize", "maximize"], metric_names=metric_names)
    study.tell(study.ask(), (0.3, 0.8))
    frame = study.trials_dataframe()
    assert [frame[c][0] for c in columns] == [0.3, 0.8]


# Storage choice and resuming ---------------------------------------------------------------


def test_a_second_study_object_on_the_same_sqlite_file_continues_numbering(sqlite_url):
    first = tunelab.create_study(name="resume", storage=sqlite_url, seed=0)
    first.optimize(returns_x, n_trials=3)
    second = tunelab.load_study("resume", sqlite_url, seed=1)
    second.optimize(returns_x, n_trials=2)
    third = tunelab.create_study(name="resume", storage=sqlite_url, load_if_exists=True, seed=2)
    third.optimize(returns_x, n_trials=1)
    assert [r.number for r in third.trials] == [0, 1, 2, 3, 4, 5]
    assert [r.number for r in first.trials] == [0, 1, 2, 3, 4, 5]


def test_tell_by_number_from_another_process_view(sqlite_url):
    worker = tunelab.create_study(name="s", storage=sqlite_url)
    trial = worker.ask()
    trial.report(0.5, step=0)
    other = tunelab.load_study("s", sqlite_url)
    record = other.tell(trial.number, 0.25)
    assert record.state is TrialState.COMPLETE and record.value == 0.25
    assert worker.trials[0].state is TrialState.COMPLETE


def test_storage_none_is_a_fresh_in_memory_storage():
    first = tunelab.create_study(name="same", storage=None)
    second = tunelab.create_study(name="same", storage=None)
    assert isinstance(first.storage, InMemoryStorage)
    assert first.storage is not second.storage


@pytest.mark.parametrize(
    ("storage", "hint"),
    [
        ("results.db", "sqlite:///results.db"),
        ("", "sqlite:///tunelab.db"),
        (42, "sqlite:///tunelab.db"),
    ],
)
def test_a_storage_that_is_not_a_url_raises_storage_error_suggesting_sqlite(storage, hint):
    with pytest.raises(StorageError, match=f"is not a storage URL; write a URL such as '{hint}'"):
        tunelab.create_study(storage=storage)


def test_show_progress_bar_runs(make_study):
    pytest.importorskip("rich")
    study = make_study()
    study.optimize(returns_x, n_trials=3, show_progress_bar=True)
    assert len(study.trials) == 3
