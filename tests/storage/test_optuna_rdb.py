"""Reading Optuna storages: read only, on SQLite and PostgreSQL, and each database or value that
is not what Optuna 3.0 to 5.x write refused with a message that names it."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import tunelab
from tests.conftest import POSTGRES_URL_VARIABLE
from tests.storage.optuna_studies import (
    MIXED,
    PARETO,
    assert_came_across,
    optuna,
    write_optuna_storage,
)
from tunelab.exceptions import StorageError, StudyNotFoundError
from tunelab.storage import InMemoryStorage, import_optuna
from tunelab.storage.optuna_rdb import open_optuna_storage


@pytest.fixture(scope="module")
def small_optuna_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("optuna") / "optuna.db"
    write_optuna_storage(f"sqlite:///{path}", n_mixed=30, n_pareto=6)
    return path


@pytest.fixture
def optuna_file(small_optuna_file: Path, tmp_path: Path) -> Path:
    """A copy of the small Optuna storage that the test may change."""
    return Path(shutil.copy(small_optuna_file, tmp_path / "optuna.db"))


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def change(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute(statement)


def test_the_storage_is_read_without_being_changed(optuna_file):
    before = hashlib.sha256(optuna_file.read_bytes()).hexdigest()
    assert import_optuna(url_of(optuna_file), InMemoryStorage()) == [MIXED, PARETO]
    assert hashlib.sha256(optuna_file.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in optuna_file.parent.iterdir()) == ["optuna.db"]


def test_every_study_is_listed_and_read(optuna_file):
    with open_optuna_storage(url_of(optuna_file)) as source:
        assert source.study_names() == [MIXED, PARETO]
        assert source.read_study(PARETO).directions == ("minimize", "minimize")
        assert len(source.read_study(MIXED).trials) == 32


def test_the_schema_optuna_3_0_stamped_is_read_too(optuna_file):
    # v3.0.0.d (Optuna 3.0 and 3.1) has the same tables and columns; v3.2.0.a adds an index.
    change(optuna_file, "UPDATE alembic_version SET version_num = 'v3.0.0.d'")
    assert import_optuna(url_of(optuna_file), InMemoryStorage(), [PARETO]) == [PARETO]


@pytest.mark.parametrize("revision", ["v2.6.0.a", "v9.0.0.a"])
def test_another_schema_version_is_refused_by_name(optuna_file, revision):
    change(optuna_file, f"UPDATE alembic_version SET version_num = '{revision}'")
    with pytest.raises(StorageError, match=rf"schema version '{revision}', which tunelab cannot "
                                           r"read: it reads v3.0.0.d and v3.2.0.a.*upgrade"):
        import_optuna(url_of(optuna_file), InMemoryStorage())


def test_an_unknown_study_is_named_with_the_studies_there_are(optuna_file):
    with pytest.raises(StudyNotFoundError, match=r"no study 'mixd' \(did you mean 'mixed'\?\); "
                                                 r"it has 2: 'mixed', 'pareto'"):
        import_optuna(url_of(optuna_file), InMemoryStorage(), ["mixd"])


def test_a_tunelab_storage_is_not_taken_for_an_optuna_one(tmp_path):
    url = url_of(tmp_path / "tunelab.db")
    tunelab.create_study("demo", storage=url)
    with pytest.raises(StorageError, match="is not an Optuna storage: it is a tunelab storage"):
        import_optuna(url, InMemoryStorage())


def test_a_database_without_optuna_tables_is_refused(tmp_path):
    change(tmp_path / "other.db", "CREATE TABLE things (id INTEGER)")
    with pytest.raises(StorageError, match="not an Optuna storage: it is a database without "
                                           "Optuna's tables alembic_version, studies"):
        import_optuna(url_of(tmp_path / "other.db"), InMemoryStorage())


def test_a_file_that_is_no_database_is_refused(tmp_path):
    (tmp_path / "notes.db").write_text("not a database\n" * 100)
    with pytest.raises(StorageError, match="cannot be read as an Optuna storage: file is not a "
                                           "database"):
        import_optuna(url_of(tmp_path / "notes.db"), InMemoryStorage())


def test_a_missing_file_is_named_and_not_created(tmp_path):
    with pytest.raises(StorageError, match="names '.*missing.db', which does not exist"):
        import_optuna(url_of(tmp_path / "missing.db"), InMemoryStorage())
    assert not (tmp_path / "missing.db").exists()


def test_a_database_tunelab_cannot_read_is_named():
    with pytest.raises(StorageError, match="Optuna storage URL: 'mysql://u@h/optuna' uses the "
                                           "database 'mysql'"):
        import_optuna("mysql://u@h/optuna", InMemoryStorage())


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("UPDATE trial_params SET param_value = 99 WHERE param_name = 'opt'",
         r"holds what Optuna does not write \(parameter 'opt': 99.0 is not the index of one of"),
        ("UPDATE trial_values SET value_type = 'HUGE'", r"unknown value type 'HUGE'"),
        ("UPDATE trials SET state = 'DONE'", r"unknown trial state 'DONE'"),
        ("UPDATE trial_user_attributes SET value_json = '{oops'",
         r"holds what Optuna does not write \(Expecting property name"),
    ],
)
def test_a_value_optuna_does_not_write_names_where_it_is(optuna_file, statement, problem):
    change(optuna_file, statement)
    with pytest.raises(StorageError, match=r"trial 0 of Optuna study 'mixed' .*" + problem):
        import_optuna(url_of(optuna_file), InMemoryStorage())


# PostgreSQL ------------------------------------------------------------------------------


@pytest.fixture
def postgres_schema_url() -> str:
    """A URL whose tables live in a schema of their own, dropped afterwards."""
    base = os.environ.get(POSTGRES_URL_VARIABLE)
    if not base:
        pytest.skip(f"PostgreSQL: set {POSTGRES_URL_VARIABLE} to a database URL to run these.")
    schema = f"optuna_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(base)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
    engine.dispose()


def test_an_optuna_storage_on_postgresql_comes_across(postgres_schema_url):
    write_optuna_storage(postgres_schema_url, n_mixed=40, n_pareto=8)
    store = InMemoryStorage()
    assert import_optuna(postgres_schema_url, store) == [MIXED, PARETO]
    for name in (MIXED, PARETO):
        theirs = optuna.load_study(study_name=name, storage=postgres_schema_url).trials
        ours = tunelab.load_study(name, store).trials
        assert len(ours) == len(theirs)
        for mine, other in zip(ours, theirs):
            assert_came_across(mine, other)
