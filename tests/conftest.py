"""Shared fixtures: storage-dependent tests run on both backends."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa

import tunelab
from tunelab.storage import BaseStorage, make_storage

POSTGRES_URL_VARIABLE = "TUNELAB_TEST_POSTGRES_URL"
TABLES = ("tunelab_intermediate_values", "tunelab_trials", "tunelab_studies", "tunelab_schema")

# What `make test-quick` leaves out (pytest -m "not slow"): tests that train models, start
# processes, a server or a browser, or fit many Gaussian processes. Single slow tests elsewhere
# carry @pytest.mark.slow themselves.
SLOW_PATHS = (
    "tests/torch/",
    "tests/analysis/",
    "tests/report/",
    "tests/execution/",
    "tests/cli/",
    "tests/storage/test_sql_reconnect.py",
    "tests/samplers/test_gp.py",
    "tests/test_readme.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        if where.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A storage URL: in memory, a fresh SQLite file, or an emptied PostgreSQL database."""
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tunelab.db'}"
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"PostgreSQL: set {POSTGRES_URL_VARIABLE} to a database URL to run these.")
    return _emptied(url)


def _emptied(url: str) -> str:
    """Drop tunelab's tables so that each test starts from an empty database."""
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        for table in TABLES:
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table} CASCADE")
    engine.dispose()
    return url


@pytest.fixture
def storage(storage_url: str) -> BaseStorage:
    """One storage object for the test (``make_storage("memory")`` makes a new one per call)."""
    store = make_storage(storage_url)
    yield store
    store.close()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """A SQLite file for tests that need persistence across storage objects or processes."""
    return f"sqlite:///{tmp_path / 'tunelab.db'}"


@pytest.fixture
def make_study(storage: BaseStorage):
    """``create_study`` on the test's storage, seeded, with any other options."""

    def make(**options) -> tunelab.Study:
        options.setdefault("seed", 0)
        return tunelab.create_study(storage=storage, **options)

    return make
