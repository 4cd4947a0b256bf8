"""The storage suite runs on every built-in backend: in memory, SQLite, and PostgreSQL where
TUNELAB_TEST_POSTGRES_URL names a database (the ``storage_url`` fixture)."""

from __future__ import annotations

import functools

import pytest

from tunelab.storage import MEMORY_URLS, make_storage
from tunelab.testing import StorageContract


class TestBuiltInStorages(StorageContract):
    @pytest.fixture
    def open_storage(self, storage_url: str):
        return functools.partial(make_storage, storage_url)

    @pytest.fixture
    def shared_backend(self, storage_url: str) -> bool:
        return storage_url not in MEMORY_URLS
