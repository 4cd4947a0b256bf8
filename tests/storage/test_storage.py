"""What is particular to tunelab's backends: ``make_storage`` and its URLs, and SQLite (the
cache read with as few statements as it can, the schema version, WAL mode, an in-memory
database). What every backend promises is checked by tunelab.testing's storage suite."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from tunelab.exceptions import StorageError
from tunelab.storage import InMemoryStorage, make_storage
from tunelab.storage.sql import SQLStorage
from tunelab.testing.storage import complete_trial
from tunelab.trial import TrialState


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


# make_storage ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["memory", "memory://", ":memory:", None])
def test_memory_urls_give_an_in_memory_storage(url):
    assert isinstance(make_storage(url), InMemoryStorage)


def test_a_storage_object_is_used_as_is():
    storage = InMemoryStorage()
    assert make_storage(storage) is storage


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("://nothing", "is a malformed URL; write 'sqlite:///"),
        ("postgresql://u@h:port/db", "is a malformed URL"),
        ("mysql://user:pw@host/db", "uses the database 'mysql', which tunelab does not support"),
        ("sqlite:////no/such/dir/tunelab.db", "cannot open storage"),
    ],
)
def test_bad_storage_urls_raise_storage_error(url, message):
    with pytest.raises(StorageError, match=message):
        make_storage(url)


# SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def sql(sqlite_url):
    storage = SQLStorage(sqlite_url)
    yield storage
    storage.close()


def _record_statements(storage: SQLStorage) -> list[tuple[str, tuple]]:
    statements: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, tuple(parameters or ())))

    sa.event.listen(storage._engine, "before_cursor_execute", record)
    return statements


def test_sql_cache_does_not_reread_finished_trials(sql):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    for value in range(5):
        complete_trial(sql, study_id, float(value))
    running = sql.create_trial(study_id)
    sql.set_intermediate_value(running.trial_id, 0, 1.0)
    first = sql.get_trials(study_id)

    statements = _record_statements(sql)
    second = sql.get_trials(study_id)

    trial_reads = [s for s in statements if "FROM tunelab_trials" in s[0]]
    value_reads = [s for s in statements if "FROM tunelab_intermediate_values" in s[0]]
    assert len(trial_reads) == 1
    assert len(value_reads) == 1
    assert value_reads[0][1] == (running.trial_id,)  # only the running trial's values are re-read
    assert all(a is b for a, b in zip(first[:5], second[:5]))
    assert [r.number for r in second] == list(range(6))


def test_sql_cache_reads_nothing_more_when_every_trial_is_finished(sql):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    for value in range(3):
        complete_trial(sql, study_id, float(value))
    sql.get_trials(study_id)
    statements = _record_statements(sql)
    assert len(sql.get_trials(study_id)) == 3
    assert not [s for s in statements if "FROM tunelab_intermediate_values" in s[0]]


def test_asking_for_finished_trials_reads_no_running_trial(sql):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    complete_trial(sql, study_id, 1.0)
    running = [sql.create_trial(study_id) for _ in range(3)]
    for trial in running:
        sql.set_intermediate_value(trial.trial_id, 0, 1.0)
    finished = (TrialState.COMPLETE, TrialState.PRUNED)

    statements = _record_statements(sql)
    assert [r.number for r in sql.get_trials(study_id, finished)] == [0]
    value_reads = [s for s in statements if "FROM tunelab_intermediate_values" in s[0]]
    assert [s[1] for s in value_reads] == [(1,)]  # the finished trial's id, no running one's

    sql.finish_trial(running[1].trial_id, TrialState.PRUNED, None)
    complete_trial(sql, study_id, 0.5)
    assert [r.number for r in sql.get_trials(study_id, finished)] == [0, 2, 4]
    # Every trial is still found by a listing of all of them.
    assert [(r.number, r.state) for r in sql.get_trials(study_id)] == [
        (0, TrialState.COMPLETE), (1, TrialState.RUNNING), (2, TrialState.PRUNED),
        (3, TrialState.RUNNING), (4, TrialState.COMPLETE),
    ]


def test_schema_version_is_recorded(sql, sqlite_url):
    with sqlite3.connect(_path(sqlite_url)) as connection:
        assert connection.execute("SELECT version FROM tunelab_schema").fetchall() == [(1,)]


def test_a_newer_schema_version_raises_storage_error(sql, sqlite_url):
    sql.close()
    with sqlite3.connect(_path(sqlite_url)) as connection:
        connection.execute("UPDATE tunelab_schema SET version = 2")
    with pytest.raises(
        StorageError, match="schema version 2, written by a newer tunelab.*upgrade tunelab"
    ):
        SQLStorage(sqlite_url)


def test_a_database_from_before_study_user_attrs_gets_the_column_and_keeps_its_studies(
    sql, sqlite_url
):
    study_id = sql.create_study("old", ("minimize",), None).study_id
    sql.set_study_system_attr(study_id, "sampler", "tpe")
    sql.close()
    with sqlite3.connect(_path(sqlite_url)) as connection:
        connection.execute("ALTER TABLE tunelab_studies DROP COLUMN user_attrs")

    upgraded = SQLStorage(sqlite_url)
    assert dict(upgraded.get_study("old").user_attrs) == {}
    assert [dict(s.user_attrs) for s in upgraded.list_studies()] == [{}]
    with sqlite3.connect(_path(sqlite_url)) as connection:  # as an older tunelab writes it
        connection.execute("UPDATE tunelab_studies SET user_attrs = NULL")
    upgraded.set_study_user_attr(study_id, "note", "kept")
    found = upgraded.get_study("old")
    assert dict(found.user_attrs) == {"note": "kept"}
    assert dict(found.system_attrs) == {"sampler": "tpe"}
    upgraded.close()


def test_sqlite_runs_in_wal_mode(sql, sqlite_url):
    with sqlite3.connect(_path(sqlite_url)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_in_memory_url_works():
    storage = make_storage("sqlite://")
    study_id = storage.create_study("s", ("minimize",), None).study_id
    complete_trial(storage, study_id, 1.0)
    assert [r.values for r in storage.get_trials(study_id)] == [(1.0,)]
