"""Steering a running study through its storage: a stop requested from another process ends
the serial loop, the worker processes and a Dask run without cutting a running trial; a prune
request ends a running trial at its next should_prune(); enqueue_checked refuses parameters
the study's trials could not have had; notes on the study and on finished trials."""

from __future__ import annotations

import contextlib

import pytest

import tunelab
from tests.study import objectives
from tests.study.objectives import STOP_AT, returns_x, states
from tunelab._attrs import PRUNE_REQUEST_ATTR
from tunelab.exceptions import ConfigError, TrialFinishedError, TrialPruned
from tunelab.study import (
    enqueue_checked,
    notes,
    request_prune,
    request_stop,
    set_note,
    stop_is_requested,
)
from tunelab.study.steering import NOTE_MAX_CHARS, pruned_on_request
from tunelab.trial import TrialState

N_TRIALS = 40  # far more than a stopped run starts


# Stop ---------------------------------------------------------------------------------------


def assert_stopped_after_the_request(study: tunelab.Study, others_running: int) -> None:
    """The run ended long before its budget, every trial ran to its end (the one that asked
    for the stop too), and besides those the study held when the stop was requested, at most
    ``others_running`` trials started: those that other workers were starting at that moment."""
    trials = study.trials
    assert states(study) == [TrialState.COMPLETE] * len(trials)
    asker = trials[STOP_AT]
    assert asker.intermediate_values == {0: asker.params["x"]}  # it went on after the request
    at_stop = asker.user_attrs["trials_at_stop"]
    assert STOP_AT + 1 <= len(trials) <= at_stop + others_running < N_TRIALS


def test_a_stop_requested_from_another_process_ends_the_serial_loop(sqlite_url):
    study = tunelab.create_study(name="s", storage=sqlite_url, seed=0)
    study.optimize(objectives.stops_the_study_from_another_process, n_trials=N_TRIALS)
    assert len(study.trials) == STOP_AT + 1
    assert_stopped_after_the_request(study, others_running=0)
    assert not stop_is_requested(study)  # the run is over: nothing to stop


def test_a_stop_requested_before_a_run_does_not_stop_it(storage):
    study = tunelab.create_study(storage=storage, seed=0)
    request_stop(study)
    study.optimize(returns_x, n_trials=3)
    request_stop(tunelab.load_study(study.study_name, storage=storage))
    study.optimize(returns_x, n_trials=2)
    assert states(study) == [TrialState.COMPLETE] * 5


def test_a_stop_requested_while_threads_run_trials_ends_them():
    def asks_at_the_third(trial):
        if trial.number == STOP_AT:
            request_stop(trial.study)
            trial.set_user_attr("trials_at_stop", len(trial.study.trials))
        trial.report(trial.suggest_float("x", 0.0, 1.0), step=0)
        return trial.params["x"]

    study = tunelab.create_study(seed=0)  # in memory: n_jobs runs threads
    study.optimize(asks_at_the_third, n_trials=N_TRIALS, n_jobs=2)
    assert_stopped_after_the_request(study, others_running=1)


def test_study_stop_still_ends_a_run_from_a_callback(make_study):
    def stop_at_two(study, record):
        if record.number == 1:
            study.stop()

    study = make_study()
    study.optimize(returns_x, n_trials=N_TRIALS, callbacks=[stop_at_two])
    assert len(study.trials) == 2
    study.optimize(returns_x, n_trials=1)  # a stop is spent with its run
    assert len(study.trials) == 3


@pytest.mark.slow
def test_a_stop_requested_from_another_process_ends_worker_processes(sqlite_url):
    study = tunelab.create_study(name="p", storage=sqlite_url, seed=0)
    study.optimize(objectives.stops_the_study_from_another_process, n_trials=N_TRIALS, n_jobs=2)
    assert_stopped_after_the_request(study, others_running=1)


@pytest.fixture(scope="module")
def client():
    """Two single-threaded Dask worker processes, started once for the module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster, distributed.Client(cluster) as dask_client:
        yield dask_client


@pytest.mark.slow
def test_a_stop_requested_from_another_process_ends_a_dask_run(client, sqlite_url):
    study = tunelab.create_study(name="d", storage=sqlite_url, seed=0)
    objective = objectives.stops_the_study_from_another_process
    study.optimize(objective, n_trials=N_TRIALS, executor=client)
    assert_stopped_after_the_request(study, others_running=1)
    study.optimize(objective, n_trials=2, executor=client)  # the next run is not stopped
    assert len(study.trials) == len(study.get_trials([TrialState.COMPLETE]))


# Prune --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pruner", ["none", "median"])
def test_a_prune_request_stops_a_running_trial_at_its_next_report(storage, pruner):
    study = tunelab.create_study(storage=storage, seed=0, pruner=pruner)
    elsewhere = tunelab.load_study(study.study_name, storage=storage)

    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        for step in range(4):
            if trial.number == 1 and step == 2:
                request_prune(elsewhere, trial.number)
            trial.report(x, step=step)
            if trial.should_prune():
                raise TrialPruned()
        return x

    warned = (
        pytest.warns(UserWarning, match="always False.*but for a prune requested")
        if pruner == "none"
        else contextlib.nullcontext()
    )
    with warned:
        study.optimize(objective, n_trials=3)
    assert states(study) == [TrialState.COMPLETE, TrialState.PRUNED, TrialState.COMPLETE]
    pruned = study.trials[1]
    assert max(pruned.intermediate_values) == 2  # pruned right after the report that followed
    assert PRUNE_REQUEST_ATTR in pruned.system_attrs
    assert [pruned_on_request(r) for r in study.trials] == [False, True, False]


def test_should_prune_answers_a_request_before_any_report_and_keeps_answering(make_study):
    study = make_study(pruner="median")
    trial = study.ask()
    assert not trial.should_prune()
    request_prune(study, trial.number)
    assert trial.should_prune() and trial.should_prune()


def test_a_prune_request_for_a_trial_that_does_not_run_is_refused(make_study):
    study = make_study()
    study.optimize(returns_x, n_trials=1)
    with pytest.raises(TrialFinishedError, match=r"trial 0 of study .* has finished \(COMPLETE\)"):
        request_prune(study, 0)
    with pytest.raises(ConfigError, match=r"has no trial 5; it has trials 0 to 0") as error:
        request_prune(study, 5)
    assert error.value.field == "number"
    waiting = study.enqueue_trial({"x": 1.0})
    with pytest.raises(ConfigError, match=f"trial {waiting} .* is WAITING, not running"):
        request_prune(study, waiting)


# Enqueue ------------------------------------------------------------------------------------


def uses_every_kind(trial):
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_float("dropout", 0.0, 0.5, step=0.25)
    trial.suggest_int("layers", 1, 10, step=3)
    trial.suggest_categorical("optimizer", ["sgd", "adam"])
    trial.suggest_categorical("width", [32, 64])
    trial.suggest_categorical("bn", [True, False])
    return 0.0


@pytest.fixture
def searched(make_study) -> tunelab.Study:
    study = make_study()
    study.optimize(uses_every_kind, n_trials=1)
    return study


def test_enqueue_checked_takes_good_parameters_given_as_text(searched):
    given = {"lr": "0.01", "dropout": "0.25", "layers": "7.0", "optimizer": "adam",
             "width": "64", "bn": "false"}
    number = enqueue_checked(searched, given)
    waiting = searched.trials[number]
    assert waiting.state is TrialState.WAITING
    fixed = waiting.system_attrs["fixed_params"]
    assert fixed == {"lr": 0.01, "dropout": 0.25, "layers": 7, "optimizer": "adam",
                     "width": 64, "bn": False}
    assert type(fixed["layers"]) is int and type(fixed["width"]) is int
    assert enqueue_checked(searched, {"layers": 4, "width": 32}) == number + 1  # a part


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"lrate": 0.1}, "lrate",
         "'lrate' is not a parameter of study .*; its parameters are 'bn', 'dropout', 'layers', "
         "'lr', 'optimizer', 'width'"),
        ({"lr": 0.5}, "lr", r"lr=0.5 is not in .* give a value in \[0.0001, 0.1\]"),
        ({"lr": "fast"}, "lr", "lr='fast' is not a number"),
        ({"layers": 5}, "layers", "layers=5 is not in .* multiple of step=3, e.g. 4 or 7"),
        ({"layers": "4.5"}, "layers", "layers='4.5' is not an integer"),
        ({"layers": True}, "layers", "layers=True is not an integer"),
        ({"dropout": 0.3}, "dropout", "multiple of step=0.25, e.g. 0.25 or 0.5"),
        ({"optimizer": "rmsprop"}, "optimizer",
         "optimizer='rmsprop' is not one of the parameter's choices; pick one of 'sgd', 'adam'"),
        ({"width": "48"}, "width", "pick one of 32, 64"),
    ],
)
def test_enqueue_checked_refuses_what_the_study_could_not_have_tried(
    searched, params, field, message
):
    with pytest.raises(ConfigError, match=message) as error:
        enqueue_checked(searched, params)
    assert error.value.field == field
    assert len(searched.trials) == 1  # nothing queued


def test_enqueue_checked_needs_a_search_space(make_study):
    with pytest.raises(ConfigError, match="has no search space yet"):
        enqueue_checked(make_study(), {"x": 1.0})


def test_the_latest_distribution_of_a_parameter_is_the_one_checked(make_study):
    study = make_study()
    study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=1)
    study.optimize(lambda trial: trial.suggest_float("x", 5.0, 6.0), n_trials=1)
    enqueue_checked(study, {"x": 5.5})
    with pytest.raises(ConfigError, match=r"give a value in \[5.0, 6.0\]"):
        enqueue_checked(study, {"x": 0.5})


def test_a_running_optimize_runs_a_trial_enqueued_checked_next(storage):
    study = tunelab.create_study(storage=storage, seed=0)
    elsewhere = tunelab.load_study(study.study_name, storage=storage)
    queued = []

    def objective(trial):
        x = trial.suggest_float("x", -10.0, 10.0)
        if trial.number == 1:
            queued.append(enqueue_checked(elsewhere, {"x": "2.5"}))
        return x

    study.optimize(objective, n_trials=4)
    assert queued == [2]
    assert study.trials[2].params == {"x": 2.5}
    assert states(study) == [TrialState.COMPLETE] * 4


# Notes --------------------------------------------------------------------------------------


def test_notes_on_the_study_and_its_finished_trials(storage):
    study = tunelab.create_study(storage=storage, seed=0)
    study.optimize(returns_x, n_trials=3)
    assert notes(study) == {}
    set_note(study, "baseline run")
    set_note(study, "diverged? check lr", number=2)
    set_note(study, "good", number=0)
    elsewhere = tunelab.load_study(study.study_name, storage=storage)
    assert notes(elsewhere) == {None: "baseline run", 0: "good", 2: "diverged? check lr"}
    set_note(elsewhere, "fine after all", number=2)
    set_note(elsewhere, "", number=0)  # cleared
    assert notes(study) == {None: "baseline run", 2: "fine after all"}
    assert states(study) == [TrialState.COMPLETE] * 3  # the trials themselves are untouched


def test_a_note_too_long_or_on_no_trial_is_refused(make_study):
    study = make_study()
    study.optimize(returns_x, n_trials=1)
    set_note(study, "x" * NOTE_MAX_CHARS, number=0)
    with pytest.raises(ConfigError, match="10,001 characters .* at most 10,000") as error:
        set_note(study, "x" * (NOTE_MAX_CHARS + 1), number=0)
    assert error.value.field == "text"
    with pytest.raises(ConfigError, match="has no trial 3; it has trials 0 to 0"):
        set_note(study, "lost", number=3)
    assert notes(study) == {0: "x" * NOTE_MAX_CHARS}
