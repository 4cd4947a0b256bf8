"""Storage backends: numbering, immutability of finished trials, the incremental cache, SQLite."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3

import pytest
import sqlalchemy as sa

import tunelab
from tunelab.exceptions import StorageError, TrialFinishedError
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.storage import InMemoryStorage, make_storage
from tunelab.storage.sql import SQLStorage
from tunelab.trial import TrialState

COMPLETE, RUNNING, WAITING, FAIL, PRUNED = (
    TrialState.COMPLETE,
    TrialState.RUNNING,
    TrialState.WAITING,
    TrialState.FAIL,
    TrialState.PRUNED,
)


@pytest.fixture
def study_id(storage):
    return storage.create_study("s", ("minimize",), None).study_id


def _complete(storage, study_id, value):
    record = storage.create_trial(study_id)
    return storage.finish_trial(record.trial_id, COMPLETE, (value,))


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


# Both backends ---------------------------------------------------------------------------


def test_trial_numbers_are_unique_and_contiguous_per_study(storage, study_id):
    other = storage.create_study("other", ("maximize",), None).study_id
    numbers = [storage.create_trial(study_id, state).number for state in [RUNNING, WAITING] * 5]
    numbers_other = [storage.create_trial(other).number for _ in range(3)]
    assert numbers == list(range(10))
    assert numbers_other == [0, 1, 2]
    assert [r.number for r in storage.get_trials(study_id)] == list(range(10))


def test_finishing_a_trial_twice_raises_and_keeps_the_first_result(storage, study_id):
    record = _complete(storage, study_id, 1.0)
    with pytest.raises(TrialFinishedError, match="not RUNNING"):
        storage.finish_trial(record.trial_id, FAIL, None, "late")
    assert storage.get_trial(record.trial_id).values == (1.0,)
    assert storage.get_trial(record.trial_id).state is COMPLETE


@pytest.mark.parametrize(
    "change",
    [
        lambda s, tid: s.set_intermediate_value(tid, 0, 1.0),
        lambda s, tid: s.set_trial_params(tid, {"x": 0.5}, {"x": FloatDistribution(0.0, 1.0)}),
        lambda s, tid: s.set_trial_user_attr(tid, "k", "v"),
        lambda s, tid: s.set_trial_system_attr(tid, "k", "v"),
    ],
    ids=["intermediate", "params", "user_attr", "system_attr"],
)
def test_a_finished_trial_cannot_be_changed(storage, study_id, change):
    record = _complete(storage, study_id, 1.0)
    with pytest.raises(TrialFinishedError):
        change(storage, record.trial_id)
    assert storage.get_trial(record.trial_id) == record


def test_get_trials_is_in_number_order_and_filters_by_state(storage, study_id):
    ids = [storage.create_trial(study_id).trial_id for _ in range(5)]
    storage.finish_trial(ids[3], COMPLETE, (3.0,))
    storage.finish_trial(ids[1], FAIL, None, "boom")
    storage.finish_trial(ids[0], PRUNED)
    storage.create_trial(study_id, WAITING)

    assert [r.number for r in storage.get_trials(study_id)] == [0, 1, 2, 3, 4, 5]
    assert [r.state for r in storage.get_trials(study_id)] == [
        PRUNED,
        FAIL,
        RUNNING,
        COMPLETE,
        RUNNING,
        WAITING,
    ]
    assert [r.number for r in storage.get_trials(study_id, [RUNNING])] == [2, 4]
    assert [r.number for r in storage.get_trials(study_id, (COMPLETE, FAIL))] == [1, 3]
    assert storage.get_trials(study_id, []) == []
    assert storage.count_trials(study_id) == 6
    assert storage.count_trials(study_id, [RUNNING, WAITING]) == 3


def test_finished_records_are_returned_as_the_same_objects(storage, study_id):
    for value in (1.0, 2.0):
        _complete(storage, study_id, value)
    storage.create_trial(study_id)
    first = storage.get_trials(study_id)
    second = storage.get_trials(study_id)
    assert first[0] is second[0] and first[1] is second[1]


def test_a_running_trial_record_is_refreshed(storage, study_id):
    trial_id = storage.create_trial(study_id).trial_id
    assert dict(storage.get_trials(study_id)[0].intermediate_values) == {}
    storage.set_intermediate_value(trial_id, 0, 0.5)
    storage.set_trial_user_attr(trial_id, "epoch", 1)
    storage.set_trial_system_attr(trial_id, "telemetry", [{"epoch": 1}])
    record = storage.get_trials(study_id)[0]
    assert dict(record.intermediate_values) == {0: 0.5}
    assert dict(record.user_attrs) == {"epoch": 1}
    assert dict(record.system_attrs) == {"telemetry": [{"epoch": 1}]}
    storage.set_intermediate_value(trial_id, 1, 0.25)
    assert dict(storage.get_trials(study_id)[0].intermediate_values) == {0: 0.5, 1: 0.25}
    storage.finish_trial(trial_id, COMPLETE, (0.25,))
    assert storage.get_trials(study_id)[0].state is COMPLETE


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 0.0, -1e300])
def test_intermediate_values_round_trip(storage, study_id, value):
    trial_id = storage.create_trial(study_id).trial_id
    storage.set_intermediate_value(trial_id, 0, value)
    for record in (storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
        stored = record.intermediate_values[0]
        assert math.isnan(stored) if math.isnan(value) else stored == value


def test_params_distributions_and_results_round_trip(storage, study_id):
    params = {"lr": 0.003, "units": 64, "opt": None, "flag": True, "one": 1.0}
    distributions = {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "units": IntDistribution(16, 256, step=16),
        "opt": CategoricalDistribution((None, "adam")),
        "flag": CategoricalDistribution((True, 1)),
        "one": CategoricalDistribution((1.0, 1)),
    }
    trial_id = storage.create_trial(
        study_id, user_attrs={"seed": 3}, system_attrs={"origin": "test"}
    ).trial_id
    storage.set_trial_params(trial_id, {"lr": 0.05}, {"lr": distributions["lr"]})
    record = storage.finish_trial(trial_id, COMPLETE, (0.125,), None, (params, distributions))
    for record in (record, storage.get_trial(trial_id), storage.get_trials(study_id)[0]):
        assert dict(record.params) == params
        assert [type(v) for v in record.params.values()] == [float, int, type(None), bool, float]
        assert dict(record.distributions) == distributions
        assert record.values == (0.125,)
        assert dict(record.user_attrs) == {"seed": 3}
        assert dict(record.system_attrs) == {"origin": "test"}
        assert record.datetime_start is not None and record.datetime_start.tzinfo is not None
        assert record.datetime_complete >= record.datetime_start


def test_fail_reason_is_stored(storage, study_id):
    trial_id = storage.create_trial(study_id).trial_id
    storage.finish_trial(trial_id, FAIL, None, "CUDA out of memory")
    assert storage.get_trials(study_id)[0].fail_reason == "CUDA out of memory"


def test_waiting_trials_are_claimed_oldest_first_and_once(storage, study_id):
    first = storage.create_trial(study_id, WAITING, system_attrs={"fixed_params": {"x": 1}})
    second = storage.create_trial(study_id, WAITING)
    assert first.datetime_start is None
    claimed = storage.claim_waiting_trial(study_id)
    assert (claimed.number, claimed.state) == (first.number, RUNNING)
    assert claimed.system_attrs["fixed_params"] == {"x": 1}
    assert claimed.datetime_start is not None
    assert storage.claim_waiting_trial(study_id).number == second.number
    assert storage.claim_waiting_trial(study_id) is None
    assert storage.start_trial(study_id).number == 2


def test_study_system_attrs_are_stored(storage, study_id):
    storage.set_study_system_attr(study_id, "sampler", {"name": "random"})
    assert dict(storage.get_study("s").system_attrs) == {"sampler": {"name": "random"}}


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
        _complete(sql, study_id, float(value))
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
        _complete(sql, study_id, float(value))
    sql.get_trials(study_id)
    statements = _record_statements(sql)
    assert len(sql.get_trials(study_id)) == 3
    assert not [s for s in statements if "FROM tunelab_intermediate_values" in s[0]]


def test_two_sql_storages_on_one_file_see_each_others_trials(sqlite_url):
    a, b = SQLStorage(sqlite_url), SQLStorage(sqlite_url)
    study_id = a.create_study("shared", ("minimize",), None).study_id
    assert b.get_study("shared").study_id == study_id
    running = a.create_trial(study_id)
    assert [r.state for r in b.get_trials(study_id)] == [RUNNING]
    b.finish_trial(running.trial_id, COMPLETE, (2.0,))
    _complete(b, study_id, 1.0)
    seen_by_a = a.get_trials(study_id)
    assert [(r.number, r.state, r.values) for r in seen_by_a] == [
        (0, COMPLETE, (2.0,)),
        (1, COMPLETE, (1.0,)),
    ]
    assert a.create_trial(study_id).number == 2


def test_a_study_recreated_by_another_storage_object_does_not_show_stale_trials(sqlite_url):
    a, b = SQLStorage(sqlite_url), SQLStorage(sqlite_url)
    old = a.create_study("old", ("minimize",), None).study_id
    for value in (1.0, 2.0, 3.0):
        _complete(a, old, value)
    a.get_trials(old)
    b.delete_study(old)
    new = b.create_study("new", ("minimize",), None).study_id
    _complete(b, new, 42.0)
    assert [r.values for r in a.get_trials(new)] == [(42.0,)]


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


def test_sqlite_runs_in_wal_mode(sql, sqlite_url):
    with sqlite3.connect(_path(sqlite_url)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_in_memory_url_works():
    storage = make_storage("sqlite://")
    study_id = storage.create_study("s", ("minimize",), None).study_id
    _complete(storage, study_id, 1.0)
    assert [r.values for r in storage.get_trials(study_id)] == [(1.0,)]


def _optimize_in_a_process(url: str, seed: int, n_trials: int) -> int:
    study = tunelab.load_study("parallel", url, seed=seed)

    def objective(trial):
        x = trial.suggest_float("x", -1.0, 1.0)
        trial.report(x, step=0)
        return x * x

    study.optimize(objective, n_trials=n_trials, catch=())
    return n_trials


def test_several_processes_writing_one_sqlite_file(sqlite_url):
    tunelab.create_study(name="parallel", storage=sqlite_url)
    # fork where the platform has it (fast); spawn elsewhere. Each worker opens its own storage.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with context.Pool(4) as pool:
        done = pool.starmap(_optimize_in_a_process, [(sqlite_url, seed, 25) for seed in range(4)])
    assert done == [25] * 4
    trials = tunelab.load_study("parallel", sqlite_url).trials
    assert len(trials) == 100
    assert [r.number for r in trials] == list(range(100))
    assert {r.state for r in trials} == {COMPLETE}
    assert all(len(r.intermediate_values) == 1 for r in trials)


def _claim_all(url: str, study_id: int) -> list[int]:
    storage = make_storage(url)
    claimed = []
    while (record := storage.claim_waiting_trial(study_id)) is not None:
        claimed.append(record.number)
    storage.close()
    return claimed


def test_waiting_trials_are_handed_out_once_to_competing_processes(storage_url):
    if storage_url == "memory":
        pytest.skip("a storage in memory is not shared between processes")
    storage = make_storage(storage_url)
    study_id = storage.create_study("queue", ("minimize",), None).study_id
    for _ in range(60):
        storage.create_trial(study_id, WAITING)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        claimed = pool.starmap(_claim_all, [(storage_url, study_id)] * 4)
    numbers = [n for worker in claimed for n in worker]
    assert sorted(numbers) == list(range(60))  # each exactly once
    assert {r.state for r in storage.get_trials(study_id)} == {RUNNING}
