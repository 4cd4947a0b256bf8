"""Shared fixtures: storage-dependent tests run on both backends."""

from __future__ import annotations

import pytest

import tunelab
from tunelab.storage import BaseStorage, make_storage


@pytest.fixture(params=["memory", "sqlite"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A storage URL: the in-memory backend, or a fresh SQLite file in tmp_path."""
    if request.param == "memory":
        return "memory"
    return f"sqlite:///{tmp_path / 'tunelab.db'}"


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
