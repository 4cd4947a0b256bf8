"""Reading a storage that Optuna's RDBStorage wrote, on SQLite or PostgreSQL, without changing it.

The tables are declared here with the columns tunelab reads, as the schema revisions that Optuna
3.0 to 5.x stamp lay them out: v3.0.0.d, and v3.2.0.a, which only adds an index. Older
revisions keep values and distributions in other forms, and a newer one may too, so any other
revision is refused by name rather than misread. Everything is read in one read-only
transaction: a study that Optuna is still writing to is read as of one moment, and a SQLite file
is opened read-only, so that a mistyped path is not created.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row, make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError

from tunelab.exceptions import MissingExtraError, StorageError, StudyNotFoundError, TunelabError
from tunelab.registry import did_you_mean
from tunelab.space import Distribution, JsonScalar
from tunelab.storage import check_storage_url
from tunelab.storage._optuna_forms import (
    DIRECTIONS,
    OPTUNA_METRIC_NAMES_KEY,
    RUNNING_REASON,
    json_value,
    metric_names,
    parameter,
    tagged_float,
    trial_state,
    trial_system_attrs,
    unreadable,
    utc_reader,
)
from tunelab.storage.files import sqlite_file
from tunelab.storage.sql import CONNECT_TIMEOUT
from tunelab.trial import TrialRecord, TrialState, freeze

READABLE_REVISIONS = ("v3.0.0.d", "v3.2.0.a")
_LISTED = 10  # study names a message lists before "..."
_LISTED_TABLES = 4

_metadata = sa.MetaData()


def _attributes(name: str, owner: str) -> sa.Table:
    return sa.Table(
        name, _metadata, sa.Column(owner, sa.Integer), sa.Column("key", sa.String),
        sa.Column("value_json", sa.Text),
    )


_studies = sa.Table(
    "studies", _metadata, sa.Column("study_id", sa.Integer), sa.Column("study_name", sa.String)
)
_directions = sa.Table(
    "study_directions", _metadata, sa.Column("study_id", sa.Integer),
    sa.Column("objective", sa.Integer), sa.Column("direction", sa.String),
)
_study_user_attrs = _attributes("study_user_attributes", "study_id")
_study_system_attrs = _attributes("study_system_attributes", "study_id")
_trials = sa.Table(
    "trials", _metadata, sa.Column("trial_id", sa.Integer), sa.Column("number", sa.Integer),
    sa.Column("study_id", sa.Integer), sa.Column("state", sa.String),
    sa.Column("datetime_start", sa.DateTime), sa.Column("datetime_complete", sa.DateTime),
)
_params = sa.Table(
    "trial_params", _metadata, sa.Column("trial_id", sa.Integer),
    sa.Column("param_name", sa.String), sa.Column("param_value", sa.Float),
    sa.Column("distribution_json", sa.Text),
)
_values = sa.Table(
    "trial_values", _metadata, sa.Column("trial_id", sa.Integer),
    sa.Column("objective", sa.Integer), sa.Column("value", sa.Float),
    sa.Column("value_type", sa.String),
)
_steps = sa.Table(
    "trial_intermediate_values", _metadata, sa.Column("trial_id", sa.Integer),
    sa.Column("step", sa.Integer), sa.Column("intermediate_value", sa.Float),
    sa.Column("intermediate_value_type", sa.String),
)
_trial_user_attrs = _attributes("trial_user_attributes", "trial_id")
_trial_system_attrs = _attributes("trial_system_attributes", "trial_id")
_version_info = sa.Table(
    "version_info", _metadata, sa.Column("library_version", sa.String)
)
_alembic_version = sa.Table("alembic_version", _metadata, sa.Column("version_num", sa.String))


@dataclass(frozen=True)
class OptunaStudy:
    """A study as an Optuna storage holds it, in tunelab's terms."""

    name: str
    directions: tuple[str, ...]
    metric_names: tuple[str, ...] | None
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]  # the metric names left out when they became metric_names
    trials: list[TrialRecord]


@dataclass
class _Children:
    """A study's rows of the tables that hang off its trials, by trial id."""

    params: Mapping[int, list[Row[Any]]]
    values: Mapping[int, list[Row[Any]]]
    steps: Mapping[int, list[Row[Any]]]
    user_attrs: Mapping[int, list[Row[Any]]]
    system_attrs: Mapping[int, list[Row[Any]]]


class OptunaStorage:
    """An Optuna storage, open in one read-only transaction (see :func:`open_optuna_storage`)."""

    def __init__(self, connection: Connection, shown_url: str) -> None:
        self._connection = connection
        self.shown_url = shown_url
        self.revision = _checked_revision(connection, shown_url)
        self.library_version = connection.execute(
            sa.select(_version_info.c.library_version)
        ).scalar()
        self._as_utc = utc_reader(self.library_version)

    def study_names(self) -> list[str]:
        """Every study, oldest first."""
        query = sa.select(_studies.c.study_name).order_by(_studies.c.study_id)
        return list(self._connection.execute(query).scalars())

    def check_studies(self, names: Sequence[str]) -> None:
        """:class:`StudyNotFoundError`, naming the studies there are, if one of ``names`` is
        not a study of the storage."""
        present = self.study_names()
        for name in names:
            if name not in present:
                raise StudyNotFoundError(self._no_study(name, present))

    def read_study(self, name: str) -> OptunaStudy:
        """The study ``name`` with every trial, in number order; :class:`StudyNotFoundError` if
        there is none, :class:`StorageError` naming the row if a value is not Optuna's."""
        query = sa.select(_studies.c.study_id).where(_studies.c.study_name == name)
        study_id = self._connection.execute(query).scalar()
        if study_id is None:
            raise StudyNotFoundError(self._no_study(name, self.study_names()))
        system_attrs = self._study_attributes(_study_system_attrs, study_id, name)
        directions = self._directions(study_id, name)
        names = metric_names(system_attrs.get(OPTUNA_METRIC_NAMES_KEY), len(directions))
        if names is not None:
            del system_attrs[OPTUNA_METRIC_NAMES_KEY]
        return OptunaStudy(
            name=name,
            directions=directions,
            metric_names=names,
            user_attrs=self._study_attributes(_study_user_attrs, study_id, name),
            system_attrs=system_attrs,
            trials=self._trials(study_id, name),
        )

    def _no_study(self, name: str, names: list[str]) -> str:
        if not names:
            return f"the Optuna storage {self.shown_url} holds no study, so none named {name!r}."
        listed = ", ".join(repr(n) for n in names[:_LISTED]) + (", ..." if names[_LISTED:] else "")
        return (
            f"the Optuna storage {self.shown_url} has no study {name!r}"
            f"{did_you_mean(name, names)}; it has {len(names)}: {listed}. Give one of those names "
            "with --study, or leave --study out to import them all."
        )

    def _directions(self, study_id: int, name: str) -> tuple[str, ...]:
        query = (
            sa.select(_directions.c.direction)
            .where(_directions.c.study_id == study_id)
            .order_by(_directions.c.objective)
        )
        stored = list(self._connection.execute(query).scalars())
        if not stored or any(d not in DIRECTIONS for d in stored):
            raise unreadable(
                f"Optuna study {name!r}", ValueError(f"directions {stored} are not MINIMIZE or "
                                                     "MAXIMIZE, one per objective")
            )
        return tuple(DIRECTIONS[d] for d in stored)

    def _study_attributes(self, table: sa.Table, study_id: int, name: str) -> dict[str, Any]:
        query = sa.select(table.c.key, table.c.value_json).where(table.c.study_id == study_id)
        return _attribute_values(self._connection.execute(query), f"Optuna study {name!r}")

    def _trials(self, study_id: int, name: str) -> list[TrialRecord]:
        query = (
            sa.select(_trials)
            .where(_trials.c.study_id == study_id)
            .order_by(_trials.c.number, _trials.c.trial_id)
        )
        rows = list(self._connection.execute(query))
        children = _Children(
            params=self._by_trial(_params, study_id),
            values=self._by_trial(_values, study_id),
            steps=self._by_trial(_steps, study_id),
            user_attrs=self._by_trial(_trial_user_attrs, study_id),
            system_attrs=self._by_trial(_trial_system_attrs, study_id),
        )
        return [self._record(row, children, f"trial {row.number} of Optuna study {name!r}")
                for row in rows]

    def _by_trial(self, table: sa.Table, study_id: int) -> Mapping[int, list[Row[Any]]]:
        """Every row of ``table`` that belongs to a trial of the study, in one query."""
        query = (
            sa.select(table)
            .join(_trials, _trials.c.trial_id == table.c.trial_id)
            .where(_trials.c.study_id == study_id)
        )
        grouped: defaultdict[int, list[Row[Any]]] = defaultdict(list)
        for row in self._connection.execute(query):
            grouped[row.trial_id].append(row)
        return grouped

    def _record(self, row: Row[Any], children: _Children, where: str) -> TrialRecord:
        trial_id = row.trial_id
        try:
            state = trial_state(row.state)
            distributions, params = _parameters(children.params.get(trial_id, ()))
            objectives = sorted(children.values.get(trial_id, ()), key=lambda v: v.objective)
            values = tuple(tagged_float(v.value, v.value_type) for v in objectives) or None
            steps = {
                s.step: tagged_float(s.intermediate_value, s.intermediate_value_type)
                for s in children.steps.get(trial_id, ())
            }
        except (TunelabError, ValueError, KeyError, TypeError) as error:
            raise unreadable(where, error) from None
        system_attrs = _attribute_values(_pairs(children.system_attrs, trial_id), where)
        return TrialRecord(
            trial_id=trial_id,
            number=row.number,
            state=TrialState.FAIL if state is TrialState.RUNNING else state,
            values=values,
            params=freeze(params),
            distributions=freeze(distributions),
            intermediate_values=freeze(steps),
            user_attrs=freeze(_attribute_values(_pairs(children.user_attrs, trial_id), where)),
            system_attrs=freeze(trial_system_attrs(system_attrs)),
            datetime_start=self._as_utc(row.datetime_start),
            datetime_complete=self._as_utc(row.datetime_complete),
            fail_reason=RUNNING_REASON if state is TrialState.RUNNING else None,
        )


def _parameters(
    rows: Sequence[Row[Any]],
) -> tuple[dict[str, Distribution], dict[str, JsonScalar]]:
    distributions, params = {}, {}
    for row in rows:
        try:
            distributions[row.param_name], params[row.param_name] = parameter(
                row.distribution_json, row.param_value
            )
        except (TunelabError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"parameter {row.param_name!r}: {error}") from None
    return distributions, params


def _pairs(rows: Mapping[int, list[Row[Any]]], trial_id: int) -> Iterator[tuple[str, str | None]]:
    return ((row.key, row.value_json) for row in rows.get(trial_id, ()))


def _attribute_values(pairs: Iterable[tuple[str, str | None]], owner: str) -> dict[str, Any]:
    values = {}
    for key, text in pairs:
        try:
            values[key] = json_value(text)
        except ValueError as error:
            raise unreadable(f"attribute {key!r} of {owner}", error) from None
    return values


def _checked_revision(connection: Connection, shown_url: str) -> str:
    """The schema revision Alembic stamped, if the database is an Optuna storage tunelab reads."""
    present = set(sa.inspect(connection).get_table_names())
    missing = sorted(set(_metadata.tables) - present)
    if missing:
        listed = ", ".join(missing[:_LISTED_TABLES]) + (", ..." if missing[_LISTED_TABLES:] else "")
        found = "a tunelab storage" if "tunelab_studies" in present else (
            f"a database without Optuna's tables {listed}"
        )
        raise StorageError(
            f"{shown_url} is not an Optuna storage: it is {found}. Give the URL that Optuna's "
            "RDBStorage wrote to (the storage= of optuna.create_study), such as "
            "'sqlite:///optuna.db'."
        )
    revision = connection.execute(sa.select(_alembic_version.c.version_num)).scalar()
    if revision not in READABLE_REVISIONS:
        raise StorageError(
            f"the Optuna storage {shown_url} has the schema version {revision!r}, which tunelab "
            f"cannot read: it reads {' and '.join(READABLE_REVISIONS)}, which Optuna 3.0 to 5.x "
            "write. An older storage can be upgraded first, with Optuna 3 or later: `optuna "
            f"storage upgrade --storage {shown_url}`; a newer one needs a tunelab that knows its "
            "schema."
        )
    return str(revision)


@contextmanager
def open_optuna_storage(url: str) -> Iterator[OptunaStorage]:
    """The Optuna storage at ``url`` (SQLite or PostgreSQL), read in one read-only transaction
    that ends with the block."""
    shown = _shown(url)
    engine = _sqlite_engine(url, shown) if url.lower().startswith("sqlite") else _server_engine(
        url
    )
    try:
        with _connected(engine, shown) as connection, connection.begin():
            try:
                storage = OptunaStorage(connection, shown)
            except DBAPIError as error:
                raise StorageError(
                    f"{shown} cannot be read as an Optuna storage: {_first_line(error)}."
                ) from error
            yield storage
    finally:
        engine.dispose()


def _shown(url: str) -> str:
    """``url`` as messages show it: checked, and without its password."""
    try:
        check_storage_url(url)
    except StorageError as error:
        raise StorageError(f"the Optuna storage URL: {error}") from None
    return make_url(url).render_as_string(hide_password=True)


@contextmanager
def _connected(engine: Engine, shown: str) -> Iterator[Connection]:
    try:
        connection = engine.connect()
    except DBAPIError as error:
        raise StorageError(
            f"cannot open the Optuna storage {shown}: {_first_line(error)}. Check the URL."
        ) from error
    with connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        yield connection


def _sqlite_engine(url: str, shown: str) -> Engine:
    path = sqlite_file(url)
    if path is None or not path.is_file():
        where = "names no file" if path is None else (
            f"names {str(path)!r}, which does not exist (looked in {path.resolve().parent})"
        )
        raise StorageError(
            f"the Optuna storage URL {shown} {where}; give the SQLite file Optuna wrote, as "
            "'sqlite:///path/to/optuna.db'."
        )
    uri = path.resolve().as_uri() + "?mode=ro"
    engine = sa.create_engine(
        "sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, isolation_level=None)
    )

    # sqlite3 starts no transaction for a SELECT: one BEGIN makes all the reads one snapshot.
    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def _server_engine(url: str) -> Engine:
    timeout = {} if "connect_timeout" in make_url(url).query else {
        "connect_timeout": CONNECT_TIMEOUT
    }
    try:
        return sa.create_engine(url, connect_args=timeout)
    except (NoSuchModuleError, ModuleNotFoundError):
        raise MissingExtraError(
            "psycopg[binary]", "distributed", "Reading an Optuna storage on PostgreSQL"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
