"""Storages: where studies and trials live. ``make_storage`` turns a URL into one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab.exceptions import StorageError
from tunelab.storage.base import BaseStorage, StudyInfo, StudySummary
from tunelab.storage.memory import InMemoryStorage

if TYPE_CHECKING:
    from tunelab.storage.optuna_import import import_optuna

DEFAULT_STORAGE = "sqlite:///tunelab.db"
MEMORY_URLS = ("memory", "memory://", ":memory:")
SQL_BACKENDS = ("sqlite", "postgresql")


def check_storage_url(url: str) -> str:
    """``url`` if it names a storage tunelab can open; :class:`StorageError` otherwise.

    Nothing is connected to or created, so a study file can be checked before anything is touched.
    """
    if url in MEMORY_URLS:
        return url
    if not isinstance(url, str) or "://" not in url:
        hint = f"sqlite:///{url}" if isinstance(url, str) and url.strip() else DEFAULT_STORAGE
        raise StorageError(
            f"{url!r} is not a storage URL; write a URL such as {hint!r}, "
            "'postgresql://user:password@host/dbname' or 'memory'"
        )
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except (ArgumentError, ValueError):
        raise StorageError(
            f"{url!r} is a malformed URL; write 'sqlite:///path/to/file.db' (three slashes, then "
            "the file) or 'postgresql://user:password@host:5432/dbname'"
        ) from None
    if backend not in SQL_BACKENDS:
        raise StorageError(
            f"{url!r} uses the database {backend!r}, which tunelab does not support; use "
            "'sqlite:///path/to/file.db' or 'postgresql://user:password@host/dbname'"
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise StorageError(
            f"{parsed.render_as_string(hide_password=True)!r} names port {parsed.port}, which "
            "no server can listen on; give the server's port, from 1 to 65535 (PostgreSQL's "
            "default, 5432, when the URL names none)"
        )
    return url


def make_storage(storage: str | BaseStorage | None) -> BaseStorage:
    """A storage from a URL (``sqlite:///file.db``, ``postgresql://...``, ``memory``) or as given.

    ``None`` gives a new in-memory storage: nothing is kept after the process ends.
    """
    if isinstance(storage, BaseStorage):
        return storage
    if storage is None or check_storage_url(storage) in MEMORY_URLS:
        return InMemoryStorage()
    from tunelab.storage.sql import SQLStorage

    return SQLStorage(storage)


def shared_url(storage: BaseStorage) -> str | None:
    """The URL by which other processes open ``storage``; None for one that lives in this
    process only (in memory, or an in-memory SQLite database)."""
    url: str | None = getattr(storage, "url", None)
    if url is None or url in MEMORY_URLS:
        return None
    path = url.partition("?")[0]
    if path.startswith("sqlite:") and path.removeprefix("sqlite:").lstrip("/") in ("", ":memory:"):
        return None
    return url


def __getattr__(name: str) -> Any:
    # The import reads Optuna's tables with SQLAlchemy, which `import tunelab` leaves unloaded.
    if name == "import_optuna":
        from tunelab.storage.optuna_import import import_optuna

        return import_optuna
    raise AttributeError(f"module 'tunelab.storage' has no attribute {name!r}")


__all__ = [
    "DEFAULT_STORAGE",
    "BaseStorage",
    "InMemoryStorage",
    "StudyInfo",
    "StudySummary",
    "check_storage_url",
    "import_optuna",
    "make_storage",
]
