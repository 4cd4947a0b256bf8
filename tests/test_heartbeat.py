"""Heartbeats: settings kept with the study, a silent trial failed once and queued again with
its parameters (from its checkpoint where it left one), also while optimize runs without
starting trials, retries bounded, a slow but alive trial never failed, the trials of a worker
known to be dead failed at once."""

from __future__ import annotations

import threading
import time

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.heartbeat import fail_trials_of_dead_worker
from tunelab.trial import Resume, TrialState


def silent_trial(study, x=0.25, checkpoint_step=None):
    """A RUNNING trial whose worker 'died': parameters written, no heartbeat after this."""
    study.enqueue_trial({"x": x})
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    trial.report(x, step=1)  # writes the parameters
    if checkpoint_step is not None:
        trial.set_system_attr("checkpoint_step", checkpoint_step)
    return trial


def test_settings_are_stored_with_the_study_and_loaded_by_every_process(storage_url):
    study = tunelab.create_study(name="h", storage=storage_url, heartbeat_interval=5,
                                 max_retries=2)
    assert study.heartbeat.to_json() == {"interval": 5.0, "grace_period": 10.0, "max_retries": 2}
    if storage_url != "memory":
        assert tunelab.load_study("h", storage_url).heartbeat == study.heartbeat


@pytest.mark.parametrize(
    ("options", "field"),
    [({"grace_period": 10}, "heartbeat_interval"),
     ({"heartbeat_interval": 0}, "heartbeat_interval"),
     ({"heartbeat_interval": 5, "grace_period": 2}, "grace_period"),
     ({"heartbeat_interval": 5, "max_retries": -1}, "max_retries")],
)
def test_bad_settings_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        tunelab.create_study(**options)
    assert caught.value.field == field


def test_a_silent_trial_is_failed_with_the_reason_and_queued_again_with_its_parameters(
    storage_url,
):
    study = tunelab.create_study(storage=storage_url, heartbeat_interval=0.05, grace_period=0.2,
                                 max_retries=1)
    dead = silent_trial(study, x=0.25)
    time.sleep(0.3)
    retry = study.ask()
    first = study.storage.get_trial(dead.trial_id)
    assert first.state is TrialState.FAIL
    assert "stopped sending heartbeats" in first.fail_reason
    assert retry.suggest_float("x", 0.0, 1.0) == 0.25
    assert study.storage.get_trial(retry.trial_id).system_attrs["retry"] == {"of": 0, "count": 1}
    assert retry.resume is None  # no checkpoint: the retry starts from the beginning


def test_a_trial_is_retried_at_most_max_retries_times(storage_url):
    study = tunelab.create_study(storage=storage_url, heartbeat_interval=0.05, grace_period=0.2,
                                 max_retries=1)
    silent_trial(study)
    time.sleep(0.3)
    retry = study.ask()  # fails trial 0, claims its retry
    study.storage.record_heartbeat(retry.trial_id)
    time.sleep(0.3)  # the retry dies too
    third = study.ask()
    states = [r.state for r in study.trials]
    assert states == [TrialState.FAIL, TrialState.FAIL, TrialState.RUNNING]
    assert third.fixed_params == {}  # a fresh trial: the retries are spent


def test_a_retry_continues_from_the_checkpoint_the_trial_left(storage_url):
    study = tunelab.create_study(storage=storage_url, heartbeat_interval=0.05, grace_period=0.2,
                                 max_retries=1)
    dead = silent_trial(study, checkpoint_step=1)
    time.sleep(0.3)
    retry = study.ask()
    assert retry.resume == Resume(0, dead.trial_id, 1, 0, 0)
    assert dict(study.storage.get_trial(retry.trial_id).intermediate_values) == {1: 0.25}


def test_only_one_of_several_processes_fails_a_silent_trial(sqlite_url):
    study = tunelab.create_study(name="h", storage=sqlite_url, heartbeat_interval=0.05,
                                 grace_period=0.2)
    silent_trial(study)
    time.sleep(0.3)
    others = [tunelab.load_study("h", sqlite_url) for _ in range(3)]
    failed = [len(o.storage.fail_stale_trials(o.study_id, 0.2)) for o in others]
    assert sorted(failed) == [0, 0, 1]


def test_a_slow_but_alive_trial_is_never_failed(sqlite_url):
    study = tunelab.create_study(name="slow", storage=sqlite_url, heartbeat_interval=0.05,
                                 grace_period=0.3)

    def slow(trial):
        time.sleep(1.2)  # four grace periods without a report
        return 1.0

    runner = threading.Thread(target=study.optimize, args=(slow,), kwargs={"n_trials": 1})
    runner.start()
    watcher = tunelab.load_study("slow", sqlite_url)
    failed = []
    while runner.is_alive():
        failed += watcher.storage.fail_stale_trials(watcher.study_id, 0.3)
        time.sleep(0.05)
    runner.join()
    assert failed == []
    assert study.trials[0].state is TrialState.COMPLETE


def test_while_optimize_runs_a_silent_trial_is_failed_even_if_no_trial_starts(storage_url):
    study = tunelab.create_study(storage=storage_url, heartbeat_interval=0.05, grace_period=0.2,
                                 max_retries=1)
    dead = silent_trial(study)

    def waits_for_the_recovery(trial):  # started before the silent trial was stale
        deadline = time.monotonic() + 10
        while study.storage.get_trial(dead.trial_id).state is TrialState.RUNNING:
            if time.monotonic() > deadline:
                return 0.0
            time.sleep(0.05)
        return 1.0

    study.optimize(waits_for_the_recovery, n_trials=1)
    first, running, retry = study.trials
    assert first.state is TrialState.FAIL and "stopped sending heartbeats" in first.fail_reason
    assert running.value == 1.0
    assert retry.state is TrialState.WAITING and retry.system_attrs["retry"]["of"] == 0


def test_the_trials_of_a_dead_worker_fail_at_once_with_the_reason_and_are_retried(storage_url):
    study = tunelab.create_study(storage=storage_url, heartbeat_interval=60, max_retries=1)
    dead = silent_trial(study, x=0.75)
    finished = study.ask()
    study.tell(finished, 1.0)
    records = [study.storage.get_trial(t.trial_id) for t in (dead, finished)]
    retries = fail_trials_of_dead_worker(study, records, "its worker process 7 was killed")
    first = study.storage.get_trial(dead.trial_id)
    assert first.state is TrialState.FAIL and first.fail_reason == "its worker process 7 was killed"
    assert study.storage.get_trial(finished.trial_id).state is TrialState.COMPLETE
    assert [r.system_attrs["fixed_params"] for r in retries] == [{"x": 0.75}]
