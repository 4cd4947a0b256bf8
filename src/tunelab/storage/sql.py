"""SQL storage on SQLAlchemy 2 Core: SQLite (the embedded default) and PostgreSQL.

Design choices:

* One row per trial with its parameters, values and attributes as JSON text, so that loading a
  study of 10,000 trials is one query; intermediate values get their own table because they
  arrive one at a time.
* Trial numbers come from a counter on the study row, incremented in the same transaction as
  the insert. The row lock makes numbers unique and lets trials commit in number order, which
  the incremental cache relies on.
* SQLite runs in WAL mode with a busy timeout, and write transactions start with
  ``BEGIN IMMEDIATE`` so that concurrent writers queue instead of failing with
  "database is locked" when a read lock would have to be upgraded. ``synchronous=NORMAL`` keeps
  every commit safe from a killed process (only a power cut can lose the last commits).
* A lost connection (the PostgreSQL server restarted, the network dropped) does not end a
  study: every operation reconnects and tries again, with exponential backoff, for
  ``reconnect_timeout`` seconds, then raises :class:`StorageError`. Each attempt is a whole
  transaction; a write whose COMMIT may have landed unacknowledged is not applied twice (see
  :class:`_Once`). A server that never answered is not waited for: a wrong host or port, or a
  server that is down, is reported after one attempt of at most ``CONNECT_TIMEOUT`` seconds.
* Rows are checked as they are read (:mod:`tunelab.storage._rows`): a row that anything but
  tunelab changed is named, with its study, trial and column; listings leave it out with a
  warning, and reading that row alone refuses it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import StaticPool

from tunelab.exceptions import (
    DuplicatedStudyError,
    MissingExtraError,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
)
from tunelab.space import Distribution
from tunelab.storage import check_storage_url
from tunelab.storage._rows import (
    BadRow,
    best_bound,
    first_start,
    study_info,
    trial_record,
    trial_state,
)
from tunelab.storage.base import (
    BaseStorage,
    StudyInfo,
    StudySummary,
    as_directions,
    best_of,
    check_study_name,
    stale_reason,
)
from tunelab.storage.files import is_optuna_journal, optuna_journal_error, sqlite_files
from tunelab.trial import TrialRecord, TrialState, freeze, utc_from_timestamp

# Raised for changes that an older tunelab cannot read; nullable columns that it ignores are
# added in place instead (_add_missing_columns), so that it can still open the database.
SCHEMA_VERSION = 1

logger = logging.getLogger("tunelab")

_metadata = sa.MetaData()
_version = sa.Table(
    "tunelab_schema", _metadata, sa.Column("version", sa.Integer, nullable=False)
)
_studies = sa.Table(
    "tunelab_studies",
    _metadata,
    sa.Column("study_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("directions", sa.Text, nullable=False),
    sa.Column("metric_names", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("next_number", sa.Integer, nullable=False, default=0),
    sa.Column("system_attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("user_attrs", sa.Text),  # NULL in a study written by a tunelab without it: {}
    sqlite_autoincrement=True,
)
_trials = sa.Table(
    "tunelab_trials",
    _metadata,
    sa.Column("trial_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.Integer, sa.ForeignKey("tunelab_studies.study_id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("primary_value", sa.Float),
    sa.Column("objective_values", sa.Text),
    sa.Column("params", sa.Text, nullable=False, default="{}"),
    sa.Column("distributions", sa.Text, nullable=False, default="{}"),
    sa.Column("user_attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("system_attrs", sa.Text, nullable=False, default="{}"),
    sa.Column("fail_reason", sa.Text),
    sa.Column("datetime_start", sa.Float),
    sa.Column("datetime_complete", sa.Float),
    sa.Column("heartbeat", sa.Float),
    # The _Once tokens of the calls that created the row and that last changed its state. Two
    # columns, because a claim must not erase the token of a creator that may still be retrying.
    sa.Column("created_by", sa.String(32)),
    sa.Column("changed_by", sa.String(32)),
    sa.UniqueConstraint("study_id", "number", name="uq_trial_number"),
    sa.Index("ix_trials_study_state_number", "study_id", "state", "number"),
    sqlite_autoincrement=True,
)
_intermediate = sa.Table(
    "tunelab_intermediate_values",
    _metadata,
    sa.Column("trial_id", sa.Integer, sa.ForeignKey("tunelab_trials.trial_id"), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("value", sa.Float),
)

_IN_LIST_LIMIT = 500
# What becomes of a row that cannot be read, in the message that names it.
_REFUSED, _LEFT_OUT = "so it cannot be loaded", "left out"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _distributions_json(distributions: Mapping[str, Distribution]) -> str:
    return _dumps({name: d.to_json() for name, d in distributions.items()})


def _whole_row(study_id: int, number: int, record: TrialRecord, token: str) -> dict[str, Any]:
    """The row of a trial stored whole, as :meth:`SQLStorage.add_trials` writes it."""
    assert record.state is not TrialState.RUNNING, "add_trials stores no running trial"
    values = record.values
    return {
        "study_id": study_id,
        "number": number,
        "state": record.state.name,
        "primary_value": values[0] if values else None,
        "objective_values": None if values is None else _dumps(list(values)),
        "params": _dumps(dict(record.params)),
        "distributions": _distributions_json(record.distributions),
        "user_attrs": _dumps(dict(record.user_attrs)),
        "system_attrs": _dumps(dict(record.system_attrs)),
        "fail_reason": record.fail_reason,
        "datetime_start": _timestamp(record.datetime_start),
        "datetime_complete": _timestamp(record.datetime_complete),
        "heartbeat": None,
        "created_by": token,
    }


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _float_or_none(value: float | None) -> float | None:
    """SQLite turns NaN into NULL; store NULL on purpose and read it back as NaN."""
    return None if value is None or math.isnan(value) else value


@dataclass
class _StudyCache:
    """Finished trials of one study, fetched once: they never change again."""

    finished: dict[int, TrialRecord] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    max_seen: int = -1


DEFAULT_RECONNECT_TIMEOUT = 60.0
# Seconds that one attempt to connect to a server may take (libpq's connect_timeout, unless the
# URL sets its own): a host that drops packets must not hang a command for minutes.
CONNECT_TIMEOUT = 5
_POSTGRESQL_PORT = 5432
_RECONNECT_TIMEOUT = "reconnect_timeout"  # the URL's query parameter: tunelab's, not the driver's
_FIRST_DELAY, _MAX_DELAY = 0.1, 2.0  # seconds between attempts to reconnect: doubling, capped
# libpq gives a failed connection attempt no SQLSTATE, so psycopg's error carries only a message.
# These (English) messages mean that the server answered and refused for good: retrying would
# only delay the error. Any other failure to connect (refused, reset, "the database system is
# starting up") is a server that may come back; a server that speaks another language only gets
# these retried until the timeout too.
_REFUSED_FOR_GOOD = ("authentication failed", "does not exist", "no pg_hba.conf entry")
# Spreads out the workers that lost the same server, so that they do not all knock at once when
# it comes back. A generator of its own: the global one may be seeded by the user's code.
_jitter = random.Random()


def _connection_lost(error: DBAPIError) -> bool:
    """Whether ``error`` means that the database went away (worth reconnecting), rather than
    that it refused a statement."""
    if error.connection_invalidated:
        return True
    # Only psycopg's errors carry a ``sqlstate``, None when no connection could be made; sqlite3's
    # have none, so a locked or unreadable SQLite file is never taken for a lost server.
    if isinstance(error, OperationalError) and getattr(error.orig, "sqlstate", "") is None:
        return not any(reason in str(error.orig) for reason in _REFUSED_FOR_GOOD)
    return False


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())


def _inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the one row that an INSERT added."""
    key = result.inserted_primary_key
    assert key is not None  # every table here has an autoincrement primary key
    return int(key[0])


@dataclass
class _Once:
    """One call's write, which must take effect once however many attempts it takes.

    When the connection dies during COMMIT, the client cannot tell whether the server committed.
    Retried blindly, ``create_trial`` would add a second trial (the study's counter and the first
    insert did commit), a claim would take a second waiting trial and leave the first RUNNING for
    good, and ``finish_trial`` would fail on the trial it finished itself. So such a call draws
    ``token`` once, before its first attempt, and writes it into the rows it changes, in the same
    transaction (``created_by`` / ``changed_by``). An attempt that follows one which ``sent`` its
    write first looks for the token, and returns what the earlier attempt did if it is there; so
    only attempts after a lost connection pay for that look-up.
    """

    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    sent: bool = False


_Storage = TypeVar("_Storage", bound="SQLStorage")
_P = ParamSpec("_P")
_T = TypeVar("_T")


def _reconnecting(
    method: Callable[Concatenate[_Storage, _P], _T],
) -> Callable[Concatenate[_Storage, _P], _T]:
    """``method``, run again while the database connection is lost, with exponential backoff,
    until ``reconnect_timeout`` seconds have passed since it was lost; then a StorageError.
    A database that never answered was not lost: it is reported at once.

    ``method`` must do its work in whole transactions, so that an attempt cut short leaves
    nothing behind, and must not call another method wrapped so (the waits would add up). Any
    other error (a constraint, a locked SQLite file) is raised at once.
    """

    @functools.wraps(method)
    def reconnecting(self: _Storage, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        lost_at: float | None = None
        delay = _FIRST_DELAY
        while True:
            try:
                result = method(self, *args, **kwargs)
                break
            except DBAPIError as error:
                if not _connection_lost(error):
                    raise
                if not self._answered:
                    raise self._unreachable(error) from None
                now = time.monotonic()
                if lost_at is None:
                    lost_at = now
                    logger.warning(
                        "lost the connection to the storage %s (%s); reconnecting for up to %g s",
                        self._shown_url,
                        _one_line(error.orig),
                        self.reconnect_timeout,
                    )
                left = lost_at + self.reconnect_timeout - now
                if left <= 0.0:
                    raise StorageError(
                        f"lost the connection to the storage {self._shown_url} and could not "
                        f"reconnect in {now - lost_at:.1f} s ({_one_line(error.orig)}). Check "
                        "that the database server is running and reachable from this machine, "
                        "or let tunelab wait longer for it: add '?reconnect_timeout=SECONDS' to "
                        "the storage URL, or pass SQLStorage(url, reconnect_timeout=SECONDS)."
                    ) from None
                time.sleep(min(delay * _jitter.uniform(0.5, 1.0), left))
                delay = min(2.0 * delay, _MAX_DELAY)
        if lost_at is not None:
            logger.info(
                "reconnected to the storage %s after %.1f s",
                self._shown_url,
                time.monotonic() - lost_at,
            )
        return result

    return reconnecting


def _reconnect_timeout(url: URL, given: float | None) -> float:
    """The ``reconnect_timeout`` argument, else the URL's, else the default; checked."""
    value: Any = given if given is not None else url.query.get(_RECONNECT_TIMEOUT)
    if value is None:
        return DEFAULT_RECONNECT_TIMEOUT
    try:
        seconds = float(value)  # the URL's is text
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not 0.0 <= seconds < math.inf:
        raise StorageError(
            f"reconnect_timeout={value!r} is not a number of seconds >= 0. Give how long an "
            "operation keeps reconnecting to a database it lost, e.g. 60: "
            "'?reconnect_timeout=60' at the end of the storage URL, or "
            "SQLStorage(url, reconnect_timeout=60); 0 gives up at once."
        )
    return seconds


# Nullable columns added since the first schema, which a database created before them lacks.
_LATER_COLUMNS = (_trials.c.created_by, _trials.c.changed_by, _studies.c.user_attrs)


def _add_missing_columns(connection: Connection) -> None:
    """Add the columns that a database created by an earlier tunelab lacks."""
    inspector = sa.inspect(connection)
    present = {
        (table.name, column["name"])
        for table in (_trials, _studies)
        for column in inspector.get_columns(table.name)
    }
    # Two PostgreSQL clients may upgrade at once; SQLite's writers take turns (BEGIN IMMEDIATE).
    guard = "IF NOT EXISTS " if connection.dialect.name == "postgresql" else ""
    for column in _LATER_COLUMNS:
        if (column.table.name, column.name) not in present:
            kind = column.type.compile(dialect=connection.dialect)
            connection.exec_driver_sql(
                f"ALTER TABLE {column.table.name} ADD COLUMN {guard}{column.name} {kind}"
            )


def _make_engine(parsed: URL, engine_kwargs: Mapping[str, Any]) -> Engine:
    backend = parsed.get_backend_name()
    kwargs: dict[str, Any] = dict(engine_kwargs)
    if backend == "sqlite":
        kwargs["connect_args"] = {
            "timeout": 60, "check_same_thread": False, **kwargs.get("connect_args", {})
        }
        if parsed.database in (None, "", ":memory:") and "poolclass" not in kwargs:
            # One connection holds an in-memory database, so a pool's sizes do not apply.
            kwargs["poolclass"] = StaticPool
            for sizing in ("pool_size", "max_overflow", "pool_timeout"):
                kwargs.pop(sizing, None)
    else:
        kwargs.setdefault("pool_pre_ping", True)
        if "connect_timeout" not in parsed.query:
            kwargs["connect_args"] = {
                "connect_timeout": CONNECT_TIMEOUT, **kwargs.get("connect_args", {})
            }
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError):
        raise MissingExtraError("psycopg[binary]", "distributed", "PostgreSQL storage") from None
    if backend == "sqlite":
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("tunelab_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class SQLStorage(BaseStorage):
    """Storage in a SQL database given by a SQLAlchemy URL.

    When the connection to the database is lost (the PostgreSQL server restarted, the network
    dropped), every operation reconnects and tries again for ``reconnect_timeout`` seconds
    (default 60; 0 gives up at once), then raises :class:`StorageError`. The argument wins over
    ``?reconnect_timeout=SECONDS`` in the URL, which is the way to set it where only a URL is
    given (``create_study(storage=...)``, a study file, the command line), and which worker
    processes that open the same URL follow too.
    """

    def __init__(
        self,
        url: str,
        engine_kwargs: Mapping[str, Any] | None = None,
        reconnect_timeout: float | None = None,
    ) -> None:
        self.url = url
        parsed = sa.engine.make_url(check_storage_url(url))
        self._shown_url = parsed.render_as_string(hide_password=True)
        self.reconnect_timeout = _reconnect_timeout(parsed, reconnect_timeout)
        self._engine = _make_engine(
            parsed.difference_update_query([_RECONNECT_TIMEOUT]), engine_kwargs or {}
        )
        # An in-memory database is one connection, which threads must take in turn.
        self._one_connection: threading.RLock | contextlib.nullcontext[None] = (
            threading.RLock()
            if isinstance(self._engine.pool, StaticPool)
            else contextlib.nullcontext()
        )
        self._caches: dict[int, _StudyCache] = {}
        self._cache_lock = threading.Lock()
        self._reported: set[str] = set()  # the warnings about unreadable rows already given
        # Whether the database ever answered: until it has, a failure to connect is a wrong
        # address or a server that is down, not a lost connection worth waiting for.
        self._answered = False
        sa.event.listen(self._engine, "connect", self._note_answered)
        try:
            self._ensure_schema()
        except DBAPIError as error:
            raise self._unopenable(error) from None

    def _note_answered(self, _dbapi_connection: Any, _record: Any) -> None:
        self._answered = True

    def _unreachable(self, error: DBAPIError) -> StorageError:
        url = self._engine.url
        return StorageError(
            f"cannot connect to the database server at {url.host or 'localhost'}:"
            f"{url.port or _POSTGRESQL_PORT} (storage {self._shown_url}; "
            f"{_one_line(error.orig)}). Check the host and port in the storage URL, and that "
            "the server is running and accepts connections from this machine. (A server that "
            "has never answered is not waited for; reconnect_timeout applies once connected.)"
        )

    def _unopenable(self, error: DBAPIError) -> StorageError:
        database = self._engine.url.database
        if self._engine.dialect.name == "sqlite" and not isinstance(error, OperationalError):
            if database and is_optuna_journal(Path(database)):
                return optuna_journal_error(Path(database))
            return StorageError(
                f"cannot open storage {self._shown_url!r}: the file {database!r} is not a SQLite "
                f"database ({_one_line(error.orig)}). Give the URL of a tunelab database, or "
                "the path of a new file to create one there."
            )
        return StorageError(f"cannot open storage {self._shown_url!r}: {error.orig}")

    def files(self) -> tuple[Path, ...]:
        return sqlite_files(self.url)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._one_connection, self._engine.connect().execution_options(
            tunelab_write=True
        ) as connection:
            with connection.begin():
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._one_connection, self._engine.connect() as connection:
            with connection.begin():
                yield connection

    @_reconnecting
    def _ensure_schema(self) -> None:
        with self._write() as connection:
            _metadata.create_all(connection)
            version = connection.execute(sa.select(_version.c.version)).scalar()
            if version is None:
                connection.execute(_version.insert().values(version=SCHEMA_VERSION))
            elif version > SCHEMA_VERSION:
                raise StorageError(
                    f"storage {self.url!r} has schema version {version}, written by a newer "
                    f"tunelab (this one knows up to {SCHEMA_VERSION}); upgrade tunelab."
                )
            _add_missing_columns(connection)

    # Studies ----------------------------------------------------------------------------

    def create_study(
        self, name: str, directions: tuple[str, ...], metric_names: tuple[str, ...] | None
    ) -> StudyInfo:
        check_study_name(name)
        created = time.time()
        study_id = self._insert_study(name, directions, metric_names, created, _Once())
        return StudyInfo(
            study_id,
            name,
            as_directions(directions),
            metric_names,
            utc_from_timestamp(created),
            system_attrs={},
            user_attrs={},
        )

    @_reconnecting
    def _insert_study(
        self,
        name: str,
        directions: tuple[str, ...],
        metric_names: tuple[str, ...] | None,
        created: float,
        once: _Once,
    ) -> int:
        try:
            with self._write() as connection:
                if once.sent:
                    # A study row has no token: its creation time, fixed before the first
                    # attempt, tells whether the study under ``name`` is the one it committed.
                    row = connection.execute(
                        sa.select(_studies.c.study_id, _studies.c.created_at).where(
                            _studies.c.name == name
                        )
                    ).first()
                    if row is not None and row.created_at == created:
                        return int(row.study_id)
                once.sent = True
                result = connection.execute(
                    _studies.insert().values(
                        name=name,
                        directions=_dumps(list(directions)),
                        metric_names=None if metric_names is None else _dumps(list(metric_names)),
                        created_at=created,
                        next_number=0,
                        system_attrs="{}",
                        user_attrs="{}",
                    )
                )
                return _inserted_id(result)
        except IntegrityError:
            raise DuplicatedStudyError(
                f"a study named {name!r} already exists in {self.url}; load it with "
                "load_if_exists=True or choose another name."
            ) from None

    @_reconnecting
    def get_study(self, name: str) -> StudyInfo:
        with self._read() as connection:
            row = connection.execute(sa.select(_studies).where(_studies.c.name == name)).first()
        if row is None:
            raise StudyNotFoundError(
                f"no study named {name!r} in {self.url}; `tunelab studies --storage URL` lists "
                "the studies there."
            )
        try:
            return study_info(row)
        except BadRow as bad:
            what = f"study {row.name!r}"
            raise StorageError(self._unreadable(what, bad, _study_row(row), _REFUSED)) from None

    @_reconnecting
    def delete_study(self, study_id: int) -> None:
        trial_ids = sa.select(_trials.c.trial_id).where(_trials.c.study_id == study_id)
        with self._write() as connection:
            connection.execute(_intermediate.delete().where(_intermediate.c.trial_id.in_(trial_ids)))
            connection.execute(_trials.delete().where(_trials.c.study_id == study_id))
            connection.execute(_studies.delete().where(_studies.c.study_id == study_id))
        with self._cache_lock:
            self._caches.pop(study_id, None)

    @_reconnecting
    def list_studies(self) -> list[StudySummary]:
        counts_query = sa.select(
            _trials.c.study_id,
            _trials.c.state,
            sa.func.count(),
            sa.func.min(_trials.c.datetime_start),
        ).group_by(_trials.c.study_id, _trials.c.state)
        complete = _trials.c.state == TrialState.COMPLETE.name
        bounds_query = (
            sa.select(
                _trials.c.study_id,
                sa.func.min(_trials.c.primary_value),
                sa.func.max(_trials.c.primary_value),
            )
            .where(complete)
            .group_by(_trials.c.study_id)
        )
        with self._read() as connection:
            studies = connection.execute(sa.select(_studies).order_by(_studies.c.study_id)).all()
            counts = connection.execute(counts_query).all()
            bounds = {row[0]: (row[1], row[2]) for row in connection.execute(bounds_query)}
        summaries = []
        for row in studies:
            try:
                study = study_info(row)
            except BadRow as bad:
                what = f"study {row.name!r}"
                self._warn_once(self._unreadable(what, bad, _study_row(row), _LEFT_OUT))
                continue
            per_state = {state: 0 for state in TrialState}
            starts = []
            for study_id, state, count, start in counts:
                if study_id == study.study_id:
                    self._count(per_state, study, state, count)
                    starts.append(start)
            summaries.append(
                StudySummary(
                    study.name,
                    study.directions,
                    per_state,
                    self._best_value(study, bounds.get(study.study_id, (None, None))),
                    study.created_at,
                    study.study_id,
                    study.user_attrs,
                    study.system_attrs,
                    self._first_start(study, starts),
                )
            )
        return summaries

    def _count(
        self, per_state: dict[TrialState, int], study: StudyInfo, state: Any, count: int
    ) -> None:
        try:
            per_state[trial_state(state)] = count
        except BadRow as bad:
            rows = f"their rows ({_trials.name}.state = {state!r})"
            what = f"{count} trial(s) of study {study.name!r}"
            self._warn_once(self._unreadable(what, bad, rows, "left out of its counts"))

    def _best_value(self, study: StudyInfo, bounds: tuple[Any, Any]) -> float | None:
        try:
            return best_of([best_bound(bound) for bound in bounds], study.directions[0])
        except BadRow as bad:
            rows = f"its COMPLETE trials' rows ({_trials.name}.study_id = {study.study_id})"
            what = f"the best value of study {study.name!r}"
            self._warn_once(self._unreadable(what, bad, rows, "not shown"))
            return None

    def _first_start(self, study: StudyInfo, starts: list[Any]) -> datetime | None:
        try:
            return first_start(starts)
        except BadRow as bad:
            rows = f"its trials' rows ({_trials.name}.study_id = {study.study_id})"
            what = f"the start of study {study.name!r}"
            self._warn_once(self._unreadable(what, bad, rows, "not shown"))
            return None

    def _unreadable(self, what: str, bad: BadRow, row: str, outcome: str) -> str:
        return (
            f"{what} in {self._shown_url} cannot be read, {outcome}: {bad}. Correct or delete "
            f"{row} with a database tool (tunelab never writes such a value)."
        )

    def _warn_once(self, message: str) -> None:
        """Log that rows are left out, once per storage: listings are read again and again."""
        if message not in self._reported:
            self._reported.add(message)
            logger.warning("%s", message)

    @_reconnecting
    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr(study_id, _studies.c.system_attrs, key, value)

    @_reconnecting
    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self._set_study_attr(study_id, _studies.c.user_attrs, key, value)

    def _set_study_attr(self, study_id: int, column: Any, key: str, value: Any) -> None:
        where = _studies.c.study_id == study_id
        with self._write() as connection:
            attrs = _with_keys(connection, column, where, {key: value})
            connection.execute(_studies.update().where(where).values({column: attrs}))

    # Trials -----------------------------------------------------------------------------

    def create_trial(
        self,
        study_id: int,
        state: TrialState = TrialState.RUNNING,
        system_attrs: Mapping[str, Any] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        return self._create_trial(study_id, state, system_attrs, user_attrs, _Once())

    @_reconnecting
    def _create_trial(
        self,
        study_id: int,
        state: TrialState,
        system_attrs: Mapping[str, Any] | None,
        user_attrs: Mapping[str, Any] | None,
        once: _Once,
    ) -> TrialRecord:
        with self._write() as connection:
            earlier = self._committed_before(connection, _trials.c.study_id == study_id, once)
            if earlier:
                return earlier[0]
            return self._insert_trial(
                connection, study_id, state, system_attrs, user_attrs, once.token
            )

    def _insert_trial(
        self,
        connection: Connection,
        study_id: int,
        state: TrialState,
        system_attrs: Mapping[str, Any] | None,
        user_attrs: Mapping[str, Any] | None,
        token: str,
    ) -> TrialRecord:
        number = connection.execute(
            _studies.update()
            .where(_studies.c.study_id == study_id)
            .values(next_number=_studies.c.next_number + 1)
            .returning(_studies.c.next_number)
        ).scalar_one() - 1
        start = time.time() if state is TrialState.RUNNING else None
        inserted = connection.execute(
            _trials.insert().values(
                study_id=study_id,
                number=number,
                state=state.name,
                params="{}",
                distributions="{}",
                user_attrs=_dumps(dict(user_attrs or {})),
                system_attrs=_dumps(dict(system_attrs or {})),
                datetime_start=start,
                heartbeat=start,
                created_by=token,
            )
        )
        return TrialRecord(
            trial_id=_inserted_id(inserted),
            number=number,
            state=state,
            user_attrs=freeze(user_attrs),
            system_attrs=freeze(system_attrs),
            datetime_start=utc_from_timestamp(start),
        )

    def add_trials(self, study_id: int, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        return self._add_trials(study_id, list(records), _Once()) if records else []

    @_reconnecting
    def _add_trials(
        self, study_id: int, records: list[TrialRecord], once: _Once
    ) -> list[TrialRecord]:
        with self._write() as connection:
            earlier = self._committed_before(connection, _trials.c.study_id == study_id, once)
            if earlier:
                return earlier
            first = connection.execute(
                _studies.update()
                .where(_studies.c.study_id == study_id)
                .values(next_number=_studies.c.next_number + len(records))
                .returning(_studies.c.next_number)
            ).scalar_one() - len(records)
            connection.execute(
                _trials.insert(),
                [_whole_row(study_id, first + i, r, once.token) for i, r in enumerate(records)],
            )
            added = sa.and_(
                _trials.c.study_id == study_id,
                _trials.c.number >= first,
                _trials.c.number < first + len(records),
            )
            numbered = sa.select(_trials.c.number, _trials.c.trial_id).where(added)
            ids = {number: trial_id for number, trial_id in connection.execute(numbered)}
            steps = [
                {"trial_id": ids[first + i], "step": step, "value": _float_or_none(value)}
                for i, record in enumerate(records)
                for step, value in record.intermediate_values.items()
            ]
            if steps:
                connection.execute(_intermediate.insert(), steps)
            return self._fetch_trials(connection, added)

    def claim_waiting_trial(
        self, study_id: int, system_attrs: Mapping[str, Any] | None = None
    ) -> TrialRecord | None:
        return self._claim_trial(study_id, False, system_attrs, _Once())

    def start_trial(
        self, study_id: int, system_attrs: Mapping[str, Any] | None = None
    ) -> TrialRecord:
        record = self._claim_trial(study_id, True, system_attrs, _Once())
        assert record is not None  # with or_create, there is always one
        return record

    @_reconnecting
    def _claim_trial(
        self,
        study_id: int,
        or_create: bool,
        system_attrs: Mapping[str, Any] | None,
        once: _Once,
    ) -> TrialRecord | None:
        """The oldest WAITING trial, now RUNNING; else a new RUNNING one if ``or_create``;
        ``system_attrs`` added to its own, in the same transaction."""
        with self._write() as connection:
            earlier = self._committed_before(connection, _trials.c.study_id == study_id, once)
            if earlier:
                return earlier[0]
            claimed = self._claim(connection, study_id, once.token)
            if claimed is not None:
                where = _trials.c.trial_id == claimed
                if system_attrs:
                    attrs = _with_keys(connection, _trials.c.system_attrs, where, system_attrs)
                    connection.execute(_trials.update().where(where).values(system_attrs=attrs))
                return self._fetch_trials(connection, where)[0]
            if or_create:
                return self._insert_trial(
                    connection, study_id, TrialState.RUNNING, system_attrs, None, once.token
                )
            return None

    def _claim(self, connection: Connection, study_id: int, token: str) -> int | None:
        """Move the oldest WAITING trial to RUNNING; the state check makes the claim exclusive."""
        waiting = (
            sa.select(_trials.c.trial_id)
            .where(_trials.c.study_id == study_id, _trials.c.state == TrialState.WAITING.name)
            .order_by(_trials.c.number)
        )
        for trial_id in connection.execute(waiting.limit(8)).scalars():
            now = time.time()
            claimed = connection.execute(
                _trials.update()
                .where(_trials.c.trial_id == trial_id, _trials.c.state == TrialState.WAITING.name)
                .values(
                    state=TrialState.RUNNING.name,
                    datetime_start=now,
                    heartbeat=now,
                    changed_by=token,
                )
            ).rowcount
            if claimed == 1:
                return int(trial_id)
        return None

    def _update_running(
        self, connection: Connection, trial_id: int, what: str, **values: Any
    ) -> None:
        updated = connection.execute(
            _trials.update()
            .where(_trials.c.trial_id == trial_id, _trials.c.state == TrialState.RUNNING.name)
            .values(**values)
        ).rowcount
        if updated != 1:
            raise TrialFinishedError(f"trial with id {trial_id} is not RUNNING; cannot {what}.")

    def _committed_before(
        self, connection: Connection, where: Any, once: _Once
    ) -> list[TrialRecord]:
        """The trials (among ``where``) that an earlier attempt of ``once``'s call wrote and
        committed before its connection died; empty on a first attempt.

        Every attempt calls this just before it writes, which is what makes the next one look.
        """
        earlier: list[TrialRecord] = []
        if once.sent:
            stamped = sa.or_(_trials.c.created_by == once.token, _trials.c.changed_by == once.token)
            earlier = self._fetch_trials(connection, sa.and_(where, stamped))
        once.sent = True
        return earlier

    @_reconnecting
    def set_trial_params(
        self, trial_id: int, params: Mapping[str, Any], distributions: Mapping[str, Distribution]
    ) -> None:
        with self._write() as connection:
            self._update_running(
                connection,
                trial_id,
                "set parameters",
                params=_dumps(dict(params)),
                distributions=_distributions_json(distributions),
            )

    def set_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        self._insert_intermediate(trial_id, step, value, _Once())

    @_reconnecting
    def _insert_intermediate(self, trial_id: int, step: int, value: float, once: _Once) -> None:
        key = sa.and_(_intermediate.c.trial_id == trial_id, _intermediate.c.step == step)
        with self._write() as connection:
            self._update_running(connection, trial_id, "report", heartbeat=time.time())
            # (trial, step) is the row's key, and only the trial's worker reports: a row that a
            # retry finds there is the one an earlier attempt committed.
            if once.sent and connection.execute(sa.select(sa.func.count()).where(key)).scalar_one():
                return
            once.sent = True
            connection.execute(
                _intermediate.insert().values(
                    trial_id=trial_id, step=step, value=_float_or_none(value)
                )
            )

    @_reconnecting
    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr(trial_id, "user_attrs", key, value)

    @_reconnecting
    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self._set_trial_attr(trial_id, "system_attrs", key, value)

    def _set_trial_attr(self, trial_id: int, column: str, key: str, value: Any) -> None:
        where = _trials.c.trial_id == trial_id
        what = "set a user attribute" if column == "user_attrs" else "set a system attribute"
        with self._write() as connection:
            attrs = _with_keys(connection, _trials.c[column], where, {key: value})
            self._update_running(connection, trial_id, what, **{column: attrs})

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None = None,
        fail_reason: str | None = None,
        params: tuple[Mapping[str, Any], Mapping[str, Distribution]] | None = None,
    ) -> TrialRecord:
        assert state.is_finished()
        update: dict[str, Any] = {
            "state": state.name,
            "objective_values": None if values is None else _dumps(list(values)),
            "primary_value": values[0] if values else None,
            "fail_reason": fail_reason,
            "datetime_complete": time.time(),
        }
        if params is not None:
            update["params"] = _dumps(dict(params[0]))
            update["distributions"] = _distributions_json(params[1])
        return self._finish_trial(trial_id, f"set it {state.name}", update, _Once())

    @_reconnecting
    def _finish_trial(
        self, trial_id: int, what: str, update: Mapping[str, Any], once: _Once
    ) -> TrialRecord:
        where = _trials.c.trial_id == trial_id
        with self._write() as connection:
            if not self._committed_before(connection, where, once):
                self._update_running(connection, trial_id, what, changed_by=once.token, **update)
            return self._fetch_trials(connection, where)[0]

    @_reconnecting
    def get_trial(self, trial_id: int) -> TrialRecord:
        with self._read() as connection:
            records = self._fetch_trials(connection, _trials.c.trial_id == trial_id)
        if not records:
            raise StorageError(f"no trial with id {trial_id} in {self.url}.")
        return records[0]

    @_reconnecting
    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        wanted = None if states is None else frozenset(states)
        with self._cache_lock:
            cache = self._caches.setdefault(study_id, _StudyCache())
            if wanted is not None and all(state.is_finished() for state in wanted):
                self._fetch_new(study_id, cache, finished_only=True)
                fresh = []
            else:
                fresh = self._fetch_new(study_id, cache)
            records = sorted([*cache.finished.values(), *fresh], key=lambda r: r.number)
        if wanted is None:
            return records
        return [r for r in records if r.state in wanted]

    def _fetch_new(
        self, study_id: int, cache: _StudyCache, finished_only: bool = False
    ) -> list[TrialRecord]:
        """Fetch trials never seen, and those seen unfinished; cache the finished ones.

        With ``finished_only``, the unfinished ones are only noted by number, unread: a pruner
        asks for the finished trials at every report of every running trial, and reading the
        running trials' telemetry each time was most of what a report cost.
        """
        number = _trials.c.number
        if len(cache.pending) <= _IN_LIST_LIMIT:
            condition = sa.or_(number > cache.max_seen, number.in_(sorted(cache.pending)))
        else:
            condition = number >= min(cache.pending)
        condition = sa.and_(_trials.c.study_id == study_id, condition)
        with self._read() as connection:
            if finished_only:
                condition = self._note_unfinished(connection, condition, cache)
            records = self._fetch_trials(connection, condition, listing=True)
        unfinished = []
        for record in records:
            cache.max_seen = max(cache.max_seen, record.number)
            if record.state.is_finished():
                cache.finished[record.number] = record
                cache.pending.discard(record.number)
            elif record.number not in cache.finished:
                cache.pending.add(record.number)
                unfinished.append(record)
        return unfinished

    def _note_unfinished(self, connection: Connection, condition: Any, cache: _StudyCache) -> Any:
        """Note the unfinished trials that match ``condition`` as pending and as seen; the
        condition that leaves the finished ones (to fetch whole)."""
        unfinished = (TrialState.RUNNING.name, TrialState.WAITING.name)
        running = connection.execute(
            sa.select(_trials.c.number).where(condition, _trials.c.state.in_(unfinished))
        ).scalars().all()
        for number in running:
            if number not in cache.finished:
                cache.pending.add(number)
            cache.max_seen = max(cache.max_seen, number)
        return sa.and_(condition, _trials.c.state.not_in(unfinished))

    def _fetch_trials(
        self, connection: Connection, condition: Any, listing: bool = False
    ) -> list[TrialRecord]:
        """The trials that match ``condition``. A row that cannot be read is refused with a
        StorageError, or, in a ``listing``, left out with a warning."""
        rows = connection.execute(sa.select(_trials).where(condition)).all()
        if not rows:
            return []
        by_trial: dict[int, dict[int, float]] = {row.trial_id: {} for row in rows}
        ids = list(by_trial)
        for start in range(0, len(ids), _IN_LIST_LIMIT):
            chunk = ids[start : start + _IN_LIST_LIMIT]
            steps = connection.execute(
                sa.select(_intermediate).where(_intermediate.c.trial_id.in_(chunk))
            )
            for trial_id, step, value in steps:
                by_trial[trial_id][step] = math.nan if value is None else value
        records = []
        for row in rows:
            try:
                records.append(trial_record(row, by_trial[row.trial_id]))
            except BadRow as bad:
                message = self._unreadable_trial(connection, row, bad, listing)
                if not listing:
                    raise StorageError(message) from None
                self._warn_once(message)
        return records

    def _unreadable_trial(
        self, connection: Connection, row: Any, bad: BadRow, listing: bool
    ) -> str:
        study = connection.execute(
            sa.select(_studies.c.name).where(_studies.c.study_id == row.study_id)
        ).scalar()
        what = f"trial {row.number} of study {study!r}"
        row_id = f"its row ({_trials.name}.trial_id = {row.trial_id})"
        return self._unreadable(what, bad, row_id, _LEFT_OUT if listing else _REFUSED)

    @_reconnecting
    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        query = sa.select(sa.func.count()).where(_trials.c.study_id == study_id)
        if states is not None:
            query = query.where(_trials.c.state.in_([s.name for s in states]))
        with self._read() as connection:
            return connection.execute(query).scalar_one()

    @_reconnecting
    def record_heartbeat(self, trial_id: int) -> None:
        with self._write() as connection:
            connection.execute(
                _trials.update()
                .where(_trials.c.trial_id == trial_id, _trials.c.state == TrialState.RUNNING.name)
                .values(heartbeat=time.time())
            )

    def fail_stale_trials(self, study_id: int, grace_period: float) -> list[TrialRecord]:
        return self._fail_stale_trials(study_id, grace_period, _Once())

    @_reconnecting
    def _fail_stale_trials(
        self, study_id: int, grace_period: float, once: _Once
    ) -> list[TrialRecord]:
        cutoff = time.time() - grace_period
        stale = sa.and_(
            _trials.c.study_id == study_id,
            _trials.c.state == TrialState.RUNNING.name,
            sa.func.coalesce(_trials.c.heartbeat, _trials.c.datetime_start, 0.0) < cutoff,
        )
        failed = []
        with self._write() as connection:
            # The trials that an earlier attempt failed must still reach the caller, which
            # queues them again.
            earlier = self._committed_before(connection, _trials.c.study_id == study_id, once)
            if earlier:
                return earlier
            rows = connection.execute(
                sa.select(_trials.c.trial_id, _trials.c.heartbeat).where(stale)
            )
            for trial_id, heartbeat in rows.all():
                # The condition is checked again row by row, so that a heartbeat that arrived
                # meanwhile, or another process failing the trial first, wins.
                updated = connection.execute(
                    _trials.update()
                    .where(_trials.c.trial_id == trial_id, stale)
                    .values(
                        state=TrialState.FAIL.name,
                        fail_reason=stale_reason(heartbeat),
                        datetime_complete=time.time(),
                        changed_by=once.token,
                    )
                ).rowcount
                if updated == 1:
                    failed.append(trial_id)
            # Failed for good even if unreadable: it is only left out of the trials to retry.
            where = _trials.c.trial_id.in_(failed)
            return self._fetch_trials(connection, where, listing=True) if failed else []

    def close(self) -> None:
        self._engine.dispose()


def _study_row(row: Any) -> str:
    return f"its row ({_studies.name}.study_id = {row.study_id})"


def _with_keys(connection: Connection, column: Any, where: Any, changes: Mapping[str, Any]) -> str:
    """The JSON object stored in ``column`` (NULL: none yet) with ``changes`` set, read inside
    the write transaction."""
    stored = connection.execute(sa.select(column).where(where)).scalar_one()
    attrs = {} if stored is None else json.loads(stored)
    attrs.update(changes)
    return _dumps(attrs)
