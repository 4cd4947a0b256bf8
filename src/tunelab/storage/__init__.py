"""Storages: where studies and trials live. ``make_storage`` turns a URL into one."""

from __future__ import annotations

from tunelab.exceptions import StorageError
from tunelab.storage.base import BaseStorage, StudyInfo, StudySummary
from tunelab.storage.memory import InMemoryStorage

_MEMORY_URLS = ("memory", "memory://", ":memory:")


def make_storage(storage: str | BaseStorage | None) -> BaseStorage:
    """A storage from a URL (``sqlite:///file.db``, ``postgresql://...``, ``memory``) or as given.

    ``None`` gives a new in-memory storage: nothing is kept after the process ends.
    """
    if storage is None or storage in _MEMORY_URLS:
        return InMemoryStorage()
    if isinstance(storage, BaseStorage):
        return storage
    if not isinstance(storage, str) or "://" not in storage:
        hint = f"sqlite:///{storage}" if isinstance(storage, str) and storage else "sqlite:///tunelab.db"
        raise StorageError(
            f"storage={storage!r} is not a storage URL; write a URL such as {hint!r}, "
            "'postgresql://user:password@host/dbname' or 'memory'."
        )
    from tunelab.storage.sql import SQLStorage

    return SQLStorage(storage)


__all__ = ["BaseStorage", "InMemoryStorage", "StudyInfo", "StudySummary", "make_storage"]
