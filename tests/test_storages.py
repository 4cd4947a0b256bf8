"""tunelab.storages: Optuna's RDBStorage and InMemoryStorage wherever a storage goes, its
heartbeat options kept with each study, and RetryFailedTrialCallback as max_retries."""

from __future__ import annotations

import sys
import time

import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError
from tunelab.heartbeat import HeartbeatSettings
from tunelab.storage.sql import SQLStorage
from tunelab.trial import TrialState


def test_an_rdb_storage_is_tunelabs_sql_storage_and_goes_where_a_url_goes(sqlite_url):
    storage = optuna.storages.RDBStorage(sqlite_url, engine_kwargs={"pool_pre_ping": True},
                                         skip_compatibility_check=True)
    assert isinstance(storage, SQLStorage)
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 1.0)
    assert len(optuna.load_study(study_name="s", storage=sqlite_url).trials) == 1
    assert study.heartbeat is None


def test_an_in_memory_storage_keeps_its_studies_for_the_script():
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(study_name="s", storage=storage)
    assert isinstance(storage, optuna.storages.BaseStorage)
    assert optuna.get_all_study_names(storage) == ["s"]


@pytest.mark.parametrize(
    ("callback", "max_retries"),
    [
        (None, 0),
        (optuna.storages.RetryFailedTrialCallback(max_retry=2), 2),
        (optuna.storages.RetryHeartbeatStaleTrialCallback(), sys.maxsize),
    ],
)
def test_heartbeat_options_are_stored_with_each_study_made_through_the_storage(
    sqlite_url, callback, max_retries
):
    storage = optuna.storages.RDBStorage(sqlite_url, heartbeat_interval=60, grace_period=120,
                                         failed_trial_callback=callback)
    created = optuna.create_study(study_name="s", storage=storage)
    expected = HeartbeatSettings(60.0, 120.0, max_retries)
    assert created.heartbeat == expected
    assert optuna.load_study(study_name="s", storage=sqlite_url).heartbeat == expected


def test_a_study_loaded_through_a_storage_with_heartbeats_takes_them(sqlite_url):
    optuna.create_study(study_name="s", storage=sqlite_url)
    storage = optuna.storages.RDBStorage(sqlite_url, heartbeat_interval=30)
    assert optuna.load_study(study_name="s", storage=storage).heartbeat == HeartbeatSettings(
        30.0, 60.0, 0
    )


def test_create_studys_own_heartbeat_options_win(sqlite_url):
    storage = optuna.storages.RDBStorage(sqlite_url, heartbeat_interval=30)
    study = optuna.create_study(storage=storage, heartbeat_interval=5)
    assert study.heartbeat.interval == 5.0


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"failed_trial_callback": lambda study, trial: None}, "failed_trial_callback",
         "a function of your own"),
        ({"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(1)},
         "heartbeat_interval", "give heartbeat_interval too"),
        ({"grace_period": 10}, "heartbeat_interval", "RDBStorage: grace_period"),
        ({"heartbeat_interval": 60, "grace_period": 30}, "grace_period",
         "RDBStorage: grace_period=30"),
    ],
)
def test_heartbeat_options_that_do_not_map_are_refused(sqlite_url, options, field, words):
    with pytest.raises(ConfigError, match=words) as caught:
        optuna.storages.RDBStorage(sqlite_url, **options)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("options", "field"),
    [({"max_retry": -1}, "max_retry"), ({"inherit_intermediate_values": True},
                                        "inherit_intermediate_values")],
)
def test_retry_options_that_do_not_map_are_refused(options, field):
    with pytest.raises(ConfigError) as caught:
        optuna.storages.RetryFailedTrialCallback(**options)
    assert caught.value.field == field


def test_fail_stale_trials_fails_silent_trials_and_names_the_retried_one(sqlite_url):
    storage = optuna.storages.RDBStorage(
        sqlite_url, heartbeat_interval=0.05, grace_period=0.1,
        failed_trial_callback=optuna.storages.RetryFailedTrialCallback(max_retry=1),
    )
    study = optuna.create_study(storage=storage)
    study.enqueue_trial({"x": 0.5})
    study.ask().suggest_float("x", 0.0, 1.0)  # its worker dies: no heartbeat from now on
    time.sleep(0.2)
    optuna.storages.fail_stale_trials(study)
    failed, retry = study.trials
    assert (failed.state, retry.state) == (TrialState.FAIL, TrialState.WAITING)
    retried = optuna.storages.RetryFailedTrialCallback.retried_trial_number
    assert (retried(failed), retried(retry)) == (None, 0)
