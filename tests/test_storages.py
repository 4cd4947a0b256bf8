"""tunelab.storages: Optuna's RDBStorage and InMemoryStorage wherever a storage goes, its
heartbeat options kept with each study, RetryFailedTrialCallback as max_retries, and Optuna's
journal storage names as a SQLite file at the journal's path."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tunelab as optuna
from tests.cli.helpers import python_env
from tunelab.exceptions import ConfigError, StorageError
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


def test_engine_options_of_optunas_documentation_fit_an_in_memory_sqlite_database():
    storage = optuna.storages.RDBStorage(
        url="sqlite:///:memory:",
        engine_kwargs={"pool_size": 20, "connect_args": {"timeout": 10}},
    )
    study = optuna.create_study(storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=4, n_jobs=2)
    assert len(study.trials) == 4


def test_connect_args_of_the_user_keep_a_connection_usable_from_other_threads(sqlite_url):
    storage = optuna.storages.RDBStorage(sqlite_url, engine_kwargs={"connect_args": {"timeout": 5}})
    study = optuna.create_study(storage=storage)
    study.tell(study.ask(), 1.0)  # the pool now holds a connection made in this thread
    worker = threading.Thread(target=lambda: study.tell(study.ask(), 2.0))
    worker.start()
    worker.join()
    assert [t.value for t in study.trials] == [1.0, 2.0]


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


# Journal storage names ---------------------------------------------------------------------------
journal = optuna.storages.journal

# Two lines as Optuna's JournalFileBackend writes them: one JSON operation per line.
OPTUNA_JOURNAL = (
    b'{"op_code":0,"worker_id":"4f1c-1","study_name":"s","directions":[1]}\n'
    b'{"op_code":4,"worker_id":"4f1c-1","study_id":0,"datetime_start":"2024-01-01T00:00:00"}\n'
)


def journal_storage(path: Path, lock_obj=None) -> optuna.storages.JournalStorage:
    return optuna.storages.JournalStorage(journal.JournalFileBackend(str(path), lock_obj))


def test_a_journal_storage_is_a_sqlite_storage_at_the_journals_path(tmp_path):
    path = tmp_path / "optuna_journal_storage.log"
    storage = journal_storage(path)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.url == f"sqlite:///{path}"
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 1.0)
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{path}").trials) == 1


def test_a_relative_journal_path_is_taken_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = optuna.storages.JournalStorage(
        journal.JournalFileBackend("./optuna_journal_storage.log")
    )
    optuna.create_study(study_name="s", storage=storage)
    monkeypatch.chdir(tmp_path.parent)  # the storage keeps to the file it opened
    assert optuna.get_all_study_names(storage) == ["s"]
    assert (tmp_path / "optuna_journal_storage.log").is_file()


def test_study_objects_on_one_journal_path_share_their_trials(tmp_path):
    path = tmp_path / "journal.log"
    first, second = (
        optuna.create_study(study_name="s", storage=journal_storage(path), load_if_exists=True)
        for _ in range(2)
    )
    first.tell(first.ask(), 1.0)
    second.tell(second.ask(), 2.0)
    assert [t.number for t in first.trials] == [t.number for t in second.trials] == [0, 1]


def test_processes_on_one_journal_path_add_to_one_study(tmp_path):
    script = textwrap.dedent(
        f"""
        import tunelab as optuna
        backend = optuna.storages.journal.JournalFileBackend({str(tmp_path / "j.log")!r})
        study = optuna.create_study(study_name="s", load_if_exists=True,
                                    storage=optuna.storages.JournalStorage(backend))
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=4)
        """
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=python_env(), stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=60) == 0, worker.stderr.read() if worker.stderr else ""
    study = optuna.load_study(study_name="s", storage=journal_storage(tmp_path / "j.log"))
    assert sorted(t.number for t in study.trials) == list(range(8))
    assert {t.state for t in study.trials} == {TrialState.COMPLETE}


@pytest.mark.parametrize(
    "open_storage",
    [
        journal_storage,
        lambda path: optuna.storages.RDBStorage(f"sqlite:///{path}"),
        lambda path: optuna.create_study(storage=f"sqlite:///{path}"),
    ],
    ids=["journal", "rdb", "url"],
)
def test_an_optuna_journal_is_refused_and_left_as_it_was(tmp_path, open_storage):
    path = tmp_path / "optuna_journal_storage.log"
    path.write_bytes(OPTUNA_JOURNAL)
    with pytest.raises(StorageError, match="is an Optuna journal log") as caught:
        open_storage(path)
    assert "move the journal aside" in str(caught.value)
    assert path.read_bytes() == OPTUNA_JOURNAL
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


def test_another_file_that_is_no_database_is_still_called_one(tmp_path):
    path = tmp_path / "notes.log"
    path.write_bytes(b"not a database\n")
    with pytest.raises(StorageError, match="is not a SQLite database"):
        journal_storage(path)
    assert path.read_bytes() == b"not a database\n"


@pytest.mark.parametrize("lock", [journal.JournalFileOpenLock, journal.JournalFileSymlinkLock])
def test_lock_objects_are_accepted_and_make_no_lock_file(tmp_path, lock):
    path = tmp_path / "journal.log"
    storage = journal_storage(path, lock_obj=lock(str(path), grace_period=10))
    study = optuna.create_study(study_name="s", storage=storage)
    study.tell(study.ask(), 1.0)
    assert not list(tmp_path.glob("*.lock"))


def test_optunas_names_before_4_0_warn_and_work(tmp_path):
    path = str(tmp_path / "journal.log")
    with pytest.warns(FutureWarning, match="JournalFileStorage is deprecated"):
        backend = optuna.storages.JournalFileStorage(path)
    with pytest.warns(FutureWarning, match="JournalFileOpenLock is deprecated"):
        lock = optuna.storages.JournalFileOpenLock(path)
    storage = optuna.storages.JournalStorage(backend)
    optuna.create_study(study_name="s", storage=storage)
    assert isinstance(lock, journal.JournalFileOpenLock)
    assert optuna.get_all_study_names(journal_storage(Path(path))) == ["s"]
    assert optuna.storages.BaseJournalLogStorage is journal.BaseJournalBackend


@pytest.mark.parametrize(
    "make", [journal.JournalRedisBackend, optuna.storages.JournalRedisStorage]
)
def test_a_redis_journal_is_refused_with_the_storage_to_use(make):
    with pytest.raises(ConfigError, match="RDBStorage\\('postgresql://") as caught:
        make("redis://localhost:6379")
    assert caught.value.field == "storage"


def test_a_journal_backend_of_ones_own_is_refused(tmp_path):
    class MyBackend(journal.BaseJournalBackend):
        pass

    with pytest.raises(ConfigError, match="JournalFileBackend\\(path\\)") as caught:
        optuna.storages.JournalStorage(MyBackend())
    assert caught.value.field == "log_storage"


def test_a_folder_is_no_journal_file(tmp_path):
    with pytest.raises(ConfigError, match="is a folder") as caught:
        journal.JournalFileBackend(str(tmp_path))
    assert caught.value.field == "file_path"
