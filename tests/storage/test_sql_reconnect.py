"""SQLStorage outlives a lost database connection: every operation reconnects and tries again,
a write whose COMMIT acknowledgement was lost is not applied twice, other errors are raised at
once, and a server that stays away gives a StorageError that says what to do.

Most tests inject the driver's errors where a lost server would raise them, on SQLite and (where
one is given) PostgreSQL; the last one restarts a real PostgreSQL server under worker processes
(scripts/run-tests.sh provides one).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

import tunelab
from tests.conftest import POSTGRES_URL_VARIABLE
from tunelab.exceptions import DuplicatedStudyError, StorageError
from tunelab.space import FloatDistribution
from tunelab.storage.base import BaseStorage
from tunelab.storage.sql import SQLStorage
from tunelab.trial import TrialState

RESTART_VARIABLE = "TUNELAB_TEST_POSTGRES_RESTART"
COMPLETE, RUNNING, WAITING, FAIL = (
    TrialState.COMPLETE,
    TrialState.RUNNING,
    TrialState.WAITING,
    TrialState.FAIL,
)
SERVER_CLOSED = "server closed the connection unexpectedly"
CONNECTION_REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection '
    "refused\n\tIs the server running on that host and accepting TCP/IP connections?"
)


# Both backends, for the tests that inject faults into a storage.
BACKENDS = pytest.mark.parametrize("storage_url", ["sqlite", "postgresql"], indirect=True)


class Faults:
    """Makes a storage's next statements, commits or connection attempts fail as a lost server
    would, and counts what ran."""

    def __init__(self, storage: SQLStorage, monkeypatch: pytest.MonkeyPatch) -> None:
        engine = storage._engine
        # The driver's own error, as psycopg raises it when the server is gone: without a
        # SQLSTATE (sqlite3's errors have none at all; give it one that is None).
        self.error = type("ServerGone", (engine.dialect.loaded_dbapi.OperationalError,), {})
        self.error.sqlstate = None
        self.statements: list[str] = []
        self.failures = 0
        self._fail_statements = 0
        self._statement_error: Callable[[], Exception] = lambda: self.error(SERVER_CLOSED)
        self._lose_commits = 0
        self._refuse_connects = 0
        self._connect_error = CONNECTION_REFUSED
        self._engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._before_execute)
        sa.event.listen(engine, "do_connect", self._do_connect)
        sa.event.listen(engine, "handle_error", self._handle_error)
        commit = engine.dialect.do_commit

        def commit_then_lose_the_answer(dbapi_connection: Any) -> None:
            commit(dbapi_connection)
            if self._lose_commits:
                self._lose_commits -= 1
                self.failures += 1
                raise self.error(SERVER_CLOSED)

        monkeypatch.setattr(engine.dialect, "do_commit", commit_then_lose_the_answer)

    def fail_statements(self, n: int, error: Callable[[], Exception] | None = None) -> None:
        """The next ``n`` statements (BEGIN aside) fail before they reach the database."""
        self._fail_statements = n
        if error is not None:
            self._statement_error = error

    def lose_commits(self, n: int) -> None:
        """The next ``n`` commits land, then the connection dies before their answer arrives."""
        self._lose_commits = n

    def refuse_connects(self, n: int, message: str = CONNECTION_REFUSED) -> None:
        """The next ``n`` new connections are refused; pooled ones are dropped first."""
        self._engine.dispose()
        self._refuse_connects, self._connect_error = n, message

    def _before_execute(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.startswith("BEGIN"):
            return
        if self._fail_statements:
            self._fail_statements -= 1
            self.failures += 1
            raise self._statement_error()
        self.statements.append(statement)

    def _do_connect(self, dialect, connection_record, cargs, cparams) -> None:
        if self._refuse_connects:
            self._refuse_connects -= 1
            self.failures += 1
            raise self.error(self._connect_error)

    def _handle_error(self, context: Any) -> None:
        # On a connection that was open, psycopg's error leaves it broken, and SQLAlchemy then
        # invalidates it (connection_invalidated): do the same with the injected one.
        if isinstance(context.original_exception, self.error) and context.connection is not None:
            context.is_disconnect = True


class FakeClock:
    """The storage's clock, advanced by its own waits only: the tests see the exact waits, and
    a loaded machine cannot change what they measure."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    time = staticmethod(time.time)  # the storage also stamps trials with the time of day

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("tunelab.storage.sql.time", fake)
    return fake


@pytest.fixture
def sql(storage_url: str):
    """A SQLStorage on the backend that the test is parametrized with (BACKENDS)."""
    storage = SQLStorage(storage_url)
    yield storage
    storage.close()


@pytest.fixture
def faults(sql: SQLStorage, monkeypatch: pytest.MonkeyPatch) -> Faults:
    return Faults(sql, monkeypatch)


# Every operation retries, and does its work once ----------------------------------------------


@dataclass
class Study:
    """A study with trial 0 COMPLETE, 1 RUNNING and 2 WAITING, to operate on."""

    study_id: int
    done: int  # trial_id of trial 0
    running: int  # trial_id of trial 1
    made_at: float


def _make_study(storage: SQLStorage) -> Study:
    study_id = storage.create_study("s", ("minimize",), None).study_id
    done = storage.create_trial(study_id).trial_id
    storage.set_intermediate_value(done, 0, 0.5)
    storage.finish_trial(done, COMPLETE, (1.0,))
    running = storage.create_trial(study_id).trial_id
    storage.create_trial(study_id, WAITING)
    return Study(study_id, done, running, time.time())


def _states(storage: SQLStorage, study: Study) -> list[TrialState]:
    return [r.state for r in storage.get_trials(study.study_id)]


def _heartbeat(storage: SQLStorage, trial_id: int) -> float:
    query = sa.text("SELECT heartbeat FROM tunelab_trials WHERE trial_id = :id")
    with storage._engine.connect() as connection:
        return connection.execute(query, {"id": trial_id}).scalar_one()


def _add_a_study_to_delete(storage: SQLStorage, study: Study) -> None:
    gone = storage.create_study("gone", ("minimize",), None).study_id
    storage.set_intermediate_value(storage.create_trial(gone).trial_id, 0, 1.0)


def _claim_the_waiting_trial(storage: SQLStorage, study: Study) -> None:
    storage.claim_waiting_trial(study.study_id)


@dataclass
class Case:
    """A storage method called once under a fault; what it did, observed afterwards."""

    method: str
    call: Callable[[SQLStorage, Study], Any]
    observe: Callable[[SQLStorage, Study, Any], Any]
    expected: Any
    setup: Callable[[SQLStorage, Study], None] = lambda storage, study: None


CASES = [
    Case(
        "create_study",
        lambda s, st: s.create_study("new", ("maximize",), None),
        lambda s, st, info: (
            info.study_id == s.get_study("new").study_id,
            [(x.name, x.n_trials) for x in s.list_studies()],
        ),
        (True, [("s", 3), ("new", 0)]),
    ),
    Case("get_study", lambda s, st: s.get_study("s"), lambda s, st, info: info.name, "s"),
    Case(
        "delete_study",
        lambda s, st: s.delete_study(s.get_study("gone").study_id),
        lambda s, st, _: [x.name for x in s.list_studies()],
        ["s"],
        setup=_add_a_study_to_delete,
    ),
    Case(
        "list_studies",
        lambda s, st: s.list_studies(),
        lambda s, st, found: [(x.name, x.n_trials) for x in found],
        [("s", 3)],
    ),
    Case(
        "set_study_system_attr",
        lambda s, st: s.set_study_system_attr(st.study_id, "k", [1]),
        lambda s, st, _: dict(s.get_study("s").system_attrs),
        {"k": [1]},
    ),
    Case(
        "set_study_user_attr",
        lambda s, st: s.set_study_user_attr(st.study_id, "k", [1]),
        lambda s, st, _: dict(s.get_study("s").user_attrs),
        {"k": [1]},
    ),
    Case(
        "create_trial",
        lambda s, st: s.create_trial(st.study_id),
        lambda s, st, record: (record.number, _states(s, st)),
        (3, [COMPLETE, RUNNING, WAITING, RUNNING]),
    ),
    Case(
        "add_trials",
        lambda s, st: s.add_trials(st.study_id, [s.get_trial(st.done), s.get_trial(st.done)]),
        lambda s, st, records: (
            [(r.number, r.values, dict(r.intermediate_values)) for r in records],
            _states(s, st),
        ),
        (
            [(3, (1.0,), {0: 0.5}), (4, (1.0,), {0: 0.5})],
            [COMPLETE, RUNNING, WAITING, COMPLETE, COMPLETE],
        ),
    ),
    Case(
        "claim_waiting_trial",
        lambda s, st: s.claim_waiting_trial(st.study_id),
        lambda s, st, record: (record.number, _states(s, st)),
        (2, [COMPLETE, RUNNING, RUNNING]),
    ),
    Case(
        "start_trial",
        lambda s, st: s.start_trial(st.study_id),
        lambda s, st, record: (record.number, _states(s, st)),
        (2, [COMPLETE, RUNNING, RUNNING]),
    ),
    Case(
        "start_trial",
        lambda s, st: s.start_trial(st.study_id),
        lambda s, st, record: (record.number, _states(s, st)),
        (3, [COMPLETE, RUNNING, RUNNING, RUNNING]),
        setup=_claim_the_waiting_trial,
    ),
    Case(
        "set_trial_params",
        lambda s, st: s.set_trial_params(st.running, {"x": 0.5}, {"x": FloatDistribution(0, 1)}),
        lambda s, st, _: dict(s.get_trial(st.running).params),
        {"x": 0.5},
    ),
    Case(
        "set_intermediate_value",
        lambda s, st: s.set_intermediate_value(st.running, 3, 0.5),
        lambda s, st, _: dict(s.get_trial(st.running).intermediate_values),
        {3: 0.5},
    ),
    Case(
        "set_trial_user_attr",
        lambda s, st: s.set_trial_user_attr(st.running, "k", "v"),
        lambda s, st, _: dict(s.get_trial(st.running).user_attrs),
        {"k": "v"},
    ),
    Case(
        "set_trial_system_attr",
        lambda s, st: s.set_trial_system_attr(st.running, "k", "v"),
        lambda s, st, _: dict(s.get_trial(st.running).system_attrs),
        {"k": "v"},
    ),
    Case(
        "finish_trial",
        lambda s, st: s.finish_trial(st.running, COMPLETE, (2.0,)),
        lambda s, st, record: (record.values, s.get_trial(st.running) == record, _states(s, st)),
        ((2.0,), True, [COMPLETE, COMPLETE, WAITING]),
    ),
    Case("get_trial", lambda s, st: s.get_trial(st.running), lambda s, st, r: r.number, 1),
    Case(
        "get_trials",
        lambda s, st: s.get_trials(st.study_id),
        lambda s, st, records: [r.number for r in records],
        [0, 1, 2],
    ),
    Case(
        "count_trials",
        lambda s, st: s.count_trials(st.study_id, [RUNNING, WAITING]),
        lambda s, st, count: count,
        2,
    ),
    Case(
        "record_heartbeat",
        lambda s, st: s.record_heartbeat(st.running),
        lambda s, st, _: _heartbeat(s, st.running) > st.made_at,
        True,
    ),
    Case(
        # The caller queues the failed trials again: an attempt that finds them failed by the
        # one before must still hand them over.
        "fail_stale_trials",
        lambda s, st: s.fail_stale_trials(st.study_id, 0.0),
        lambda s, st, failed: ([r.number for r in failed], _states(s, st)),
        ([1], [COMPLETE, FAIL, WAITING]),
    ),
]
CASE_IDS = [
    f"{case.method}-{index}" if [c.method for c in CASES].count(case.method) > 1 else case.method
    for index, case in enumerate(CASES)
]


def test_every_storage_method_is_covered_by_the_cases():
    """A method added to the storage contract must be added to CASES, and so be retried."""
    public = {
        name
        for name in dir(BaseStorage)
        if not name.startswith("_") and callable(getattr(BaseStorage, name))
    }
    # close and files do not touch the database.
    assert public - {"close", "files"} == {case.method for case in CASES}


@BACKENDS
@pytest.mark.parametrize("fault", ["statement", "commit"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_each_operation_outlives_a_lost_connection_and_takes_effect_once(
    sql, faults, case, fault
):
    study = _make_study(sql)
    case.setup(sql, study)
    if fault == "statement":
        faults.fail_statements(1)  # the attempt dies before its COMMIT: nothing was written
    else:
        faults.lose_commits(1)  # the attempt's COMMIT landed but its answer did not
    result = case.call(sql, study)
    assert faults.failures == 1
    assert case.observe(sql, study, result) == case.expected


@BACKENDS
def test_a_lost_commit_acknowledgement_does_not_create_a_second_trial(sql, faults):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    faults.lose_commits(1)
    record = sql.create_trial(study_id)
    assert faults.failures == 1
    # The retry found the trial its first attempt committed, instead of taking number 1.
    assert record.number == 0
    assert [(r.number, r.trial_id) for r in sql.get_trials(study_id)] == [(0, record.trial_id)]
    assert sql.create_trial(study_id).number == 1


@BACKENDS
def test_a_lost_commit_acknowledgement_on_finish_is_not_an_error(sql, faults):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    trial_id = sql.create_trial(study_id).trial_id
    faults.lose_commits(1)
    record = sql.finish_trial(trial_id, COMPLETE, (0.5,))
    assert (record.state, record.values) == (COMPLETE, (0.5,))


@BACKENDS
def test_an_operation_retries_with_backoff_until_the_server_is_back(sql, faults, clock):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    faults.fail_statements(3)
    record = sql.create_trial(study_id)
    assert faults.failures == 3
    assert record.number == 0 and sql.count_trials(study_id) == 1
    # Waits of 0.1, 0.2 and 0.4 s, each shortened by up to half so workers spread out.
    assert len(clock.waits) == 3
    for wait, full in zip(clock.waits, (0.1, 0.2, 0.4)):
        assert full / 2 <= wait <= full


@BACKENDS
def test_a_refused_connection_is_retried(sql, faults, caplog):
    study_id = sql.create_study("s", ("minimize",), None).study_id
    faults.refuse_connects(2)
    with caplog.at_level(logging.INFO, logger="tunelab"):
        assert sql.create_trial(study_id).number == 0
    assert faults.failures == 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the connection to the storage" in m and "reconnecting" in m for m in messages)
    assert any(m.startswith("reconnected to the storage") for m in messages)


@BACKENDS
def test_a_connection_refused_for_good_is_not_retried(sql, faults):
    faults.refuse_connects(
        5, 'connection failed: FATAL:  password authentication failed for user "tunelab"'
    )
    with pytest.raises(sa.exc.OperationalError, match="password authentication failed"):
        sql.get_study("s")
    assert faults.failures == 1


def _lock_timeout(storage: SQLStorage) -> Exception:
    """The driver's error for a lock waited on too long: the server is there, and said no."""
    if storage._engine.dialect.name == "sqlite":
        return sqlite3.OperationalError("database is locked")
    from psycopg.errors import LockNotAvailable

    return LockNotAvailable("canceling statement due to lock timeout")


@BACKENDS
def test_other_errors_are_raised_at_once(sql, faults):
    sql.create_study("s", ("minimize",), None)
    faults.statements.clear()
    with pytest.raises(DuplicatedStudyError):
        sql.create_study("s", ("minimize",), None)
    assert len(faults.statements) == 1  # one INSERT, not retried

    faults.fail_statements(1, lambda: _lock_timeout(sql))  # a retry would have succeeded
    with pytest.raises(sa.exc.OperationalError, match="database is locked|lock timeout"):
        sql.get_study("s")
    assert faults.failures == 1


def test_a_server_that_stays_away_gives_a_storage_error_naming_the_fix(
    sqlite_url, monkeypatch, clock
):
    storage = SQLStorage(sqlite_url, reconnect_timeout=0.3)
    faults = Faults(storage, monkeypatch)
    faults.fail_statements(10**6)
    with pytest.raises(StorageError) as caught:
        storage.list_studies()
    assert sum(clock.waits) == pytest.approx(0.3)  # waited out the timeout, and no longer
    assert faults.failures == len(clock.waits) + 1
    message = str(caught.value)
    assert f"lost the connection to the storage {sqlite_url} and could not reconnect in 0." in (
        message
    )
    assert SERVER_CLOSED in message
    assert "running and reachable" in message
    assert "'?reconnect_timeout=SECONDS'" in message and "reconnect_timeout=SECONDS)" in message
    storage.close()


def test_a_postgresql_server_that_never_answered_is_reported_at_once(clock, caplog):
    pytest.importorskip("psycopg", reason="psycopg is the PostgreSQL driver (extra 'distributed')")
    # Nothing listens on port 1: a wrong port or a server that is down, not a lost connection.
    url = "postgresql://tunelab:secret@127.0.0.1:1/tunelab?reconnect_timeout=30"
    with caplog.at_level(logging.INFO, logger="tunelab"), pytest.raises(StorageError) as caught:
        SQLStorage(url)
    assert clock.waits == [] and caplog.records == []  # not one attempt to reconnect
    message = str(caught.value)
    assert message.startswith("cannot connect to the database server at 127.0.0.1:1 ")
    assert "Connection refused" in message and "Check the host and port" in message
    assert "secret" not in message and "tunelab:***@127.0.0.1:1" in message


def test_reconnect_timeout_of_zero_gives_up_at_the_first_lost_connection(sqlite_url, monkeypatch):
    storage = SQLStorage(sqlite_url, reconnect_timeout=0)
    faults = Faults(storage, monkeypatch)
    faults.fail_statements(1)
    with pytest.raises(StorageError, match="could not reconnect in 0.0 s"):
        storage.list_studies()
    assert storage.list_studies() == []


# The setting -----------------------------------------------------------------------------------


def test_reconnect_timeout_defaults_to_a_minute_and_comes_from_the_url_or_the_argument(
    sqlite_url,
):
    storages = [
        SQLStorage(sqlite_url),
        SQLStorage(f"{sqlite_url}?reconnect_timeout=2.5"),
        SQLStorage(f"{sqlite_url}?reconnect_timeout=2.5", reconnect_timeout=7),
    ]
    assert [s.reconnect_timeout for s in storages] == [60.0, 2.5, 7.0]
    assert storages[1]._engine.url.query == {}  # tunelab's setting, not passed to the driver
    storages[1].create_study("s", ("minimize",), None)
    assert storages[0].get_study("s").name == "s"  # the same database
    for storage in storages:
        storage.close()


@pytest.mark.parametrize("query", ["abc", "-1", "nan", "inf", "1&reconnect_timeout=2"])
def test_a_bad_reconnect_timeout_in_the_url_is_a_storage_error(sqlite_url, query):
    with pytest.raises(StorageError, match=r"reconnect_timeout=.* is not a number of seconds >= 0"):
        SQLStorage(f"{sqlite_url}?reconnect_timeout={query}")


@pytest.mark.parametrize("value", [-1, True, "soon", float("nan")])
def test_a_bad_reconnect_timeout_argument_is_a_storage_error(sqlite_url, value):
    with pytest.raises(StorageError, match="is not a number of seconds >= 0"):
        SQLStorage(sqlite_url, reconnect_timeout=value)


# A database from before the tokens ----------------------------------------------------------


@BACKENDS
def test_a_database_without_the_token_columns_gets_them_and_keeps_its_trials(storage_url):
    old = SQLStorage(storage_url)
    study_id = old.create_study("s", ("minimize",), None).study_id
    finished = old.finish_trial(old.create_trial(study_id).trial_id, COMPLETE, (1.0,))
    old.close()
    engine = sa.create_engine(storage_url)
    with engine.begin() as connection:
        for column in ("created_by", "changed_by"):
            connection.exec_driver_sql(f"ALTER TABLE tunelab_trials DROP COLUMN {column}")
    engine.dispose()

    upgraded = SQLStorage(storage_url)
    columns = {c["name"] for c in sa.inspect(upgraded._engine).get_columns("tunelab_trials")}
    assert {"created_by", "changed_by"} <= columns
    assert upgraded.get_trials(study_id) == [finished]
    running = upgraded.start_trial(study_id)
    assert running.number == 1
    assert upgraded.finish_trial(running.trial_id, COMPLETE, (0.5,)).values == (0.5,)
    upgraded.close()
    SQLStorage(storage_url).close()  # opening it again finds nothing to add


# PostgreSQL restarted under worker processes ------------------------------------------------


class _CountLostConnections(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "lost the connection" in record.getMessage():
            self.count += 1


def _ask_tell_worker(url: str, study_name: str, worker: int, budget: int) -> tuple[int, int]:
    """Run ``budget`` trials by ask and tell; return them and how often the storage reconnected.

    At module level, so that spawned processes import it.
    """
    lost = _CountLostConnections()
    logging.getLogger("tunelab").addHandler(lost)
    study = tunelab.load_study(study_name, url, sampler="random", seed=worker)
    for index in range(budget):
        trial = study.ask()
        x = trial.suggest_float("x", -1.0, 1.0)
        trial.set_user_attr("job", [worker, index])
        trial.report(x, step=0)
        time.sleep(0.005)  # a study of a few seconds, for the restart to fall in its middle
        study.tell(trial, x * x)
    return budget, lost.count


@pytest.fixture
def postgres() -> tuple[str, str]:
    """The URL of a PostgreSQL server the test may restart, and the command that restarts it."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    restart = os.environ.get(RESTART_VARIABLE)
    if not url or not restart:
        pytest.skip(
            f"PostgreSQL restart: set {POSTGRES_URL_VARIABLE} to a database URL and "
            f"{RESTART_VARIABLE} to a shell command that restarts that server "
            "(scripts/run-tests.sh sets both)."
        )
    return url, restart


def _wait_for_trials(
    storage: SQLStorage, study_id: int, at_least: int, workers: int, timeout: float
) -> int:
    """Wait for ``at_least`` trials, and one of each worker: a worker that has not connected
    when the server goes away fails at once, since a server that never answered is not waited
    for."""
    deadline = time.monotonic() + timeout
    while True:
        trials = storage.get_trials(study_id)
        started = {r.user_attrs["job"][0] for r in trials if "job" in r.user_attrs}
        if len(trials) >= at_least and len(started) == workers:
            return len(trials)
        assert time.monotonic() < deadline, (
            f"the workers made only {len(trials)} trials in {timeout} s, of workers {started}"
        )
        time.sleep(0.02)


def test_workers_outlive_a_postgresql_restart_mid_study_and_nothing_is_lost_or_doubled(postgres):
    url, restart = postgres
    workers, budget = 4, 100
    total = workers * budget
    storage = SQLStorage(url)
    name = f"restart-{uuid.uuid4().hex[:8]}"
    study_id = storage.create_study(name, ("minimize",), None).study_id
    try:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            running = pool.starmap_async(
                _ask_tell_worker, [(url, name, worker, budget) for worker in range(workers)]
            )
            made_before = _wait_for_trials(storage, study_id, total // 4, workers, timeout=30)
            subprocess.run(restart, shell=True, check=True, timeout=30)
            outcomes = running.get(timeout=60)
        assert made_before < total  # the restart came in the middle of the study

        assert [done for done, _ in outcomes] == [budget] * workers
        assert sum(lost for _, lost in outcomes) > 0  # the workers did lose the server
        trials = storage.get_trials(study_id)
        assert sorted(r.number for r in trials) == list(range(total))
        assert Counter(r.state for r in trials) == {COMPLETE: total}
        jobs = sorted(tuple(r.user_attrs["job"]) for r in trials)
        assert jobs == [(w, i) for w in range(workers) for i in range(budget)]
        assert all(len(r.intermediate_values) == 1 for r in trials)
    finally:
        storage.delete_study(study_id)
        storage.close()
