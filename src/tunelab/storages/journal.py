"""Optuna's journal storage names, over tunelab's SQLite storage.

Optuna's ``JournalStorage(JournalFileBackend(path))`` appends each operation to a log file that
processes share through a lock file. tunelab has no journal format: the same call opens
tunelab's own SQLite storage at ``path``, exactly as ``RDBStorage(f"sqlite:///{path}")`` does,
which processes share as well (WAL mode; SQLite locks the file itself). So the file at ``path``
is a SQLite database, not Optuna's journal log, and Optuna cannot read it back; to hand a study
back to Optuna, copy it into an Optuna storage. A journal log that Optuna wrote at ``path`` is
refused and left as it is, never overwritten.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunelab.exceptions import ConfigError
from tunelab.storage.files import is_optuna_journal, optuna_journal_error
from tunelab.storages._rdb import RDBStorage


class BaseJournalBackend:
    """The base of Optuna's journal backends. tunelab reads and writes no journal log, so the
    one backend :class:`JournalStorage` takes is :class:`JournalFileBackend`, which names a
    SQLite file; a backend of one's own cannot be given to it."""


class BaseJournalFileLock:
    """A lock object of Optuna's file journal, accepted for its scripts and never used:
    SQLite locks the database file itself, so no lock file is made and ``grace_period``
    changes nothing."""

    def __init__(self, filepath: str, grace_period: int | None = 30) -> None:
        self.filepath = filepath
        self.grace_period = grace_period


class JournalFileSymlinkLock(BaseJournalFileLock):
    """Optuna's lock by symbolic link (NFSv2 and later). Accepted and unused: SQLite does its
    own locking on the database file."""


class JournalFileOpenLock(BaseJournalFileLock):
    """Optuna's lock by exclusive creation (NFSv3 and later). Accepted and unused: SQLite does
    its own locking on the database file."""


class JournalFileBackend(BaseJournalBackend):
    """The file of a :class:`JournalStorage`: a SQLite database at ``file_path`` (created if
    missing), not Optuna's journal log, so Optuna cannot read it back.

    ``lock_obj`` (:class:`JournalFileSymlinkLock`, :class:`JournalFileOpenLock`) is accepted
    and unused: SQLite does its own locking. An Optuna journal already at ``file_path`` is
    refused with a :class:`~tunelab.exceptions.StorageError`, and left unchanged.
    """

    def __init__(
        self, file_path: str | os.PathLike[str], lock_obj: BaseJournalFileLock | None = None
    ) -> None:
        path = Path(os.path.abspath(file_path))
        if path.is_dir():
            raise ConfigError(
                f"JournalFileBackend: {path} is a folder; give the path of a file, e.g. "
                f"{path / 'optuna_journal_storage.log'}.",
                field="file_path",
            )
        if is_optuna_journal(path):
            raise optuna_journal_error(path)
        self.file_path = str(path)
        self.lock_obj = lock_obj

    @property
    def url(self) -> str:
        """The SQLite URL of the database the file holds."""
        return f"sqlite:///{self.file_path}"


class JournalStorage(RDBStorage):
    """Optuna's journal storage: tunelab's SQLite storage in ``log_storage``'s file, i.e.
    ``RDBStorage(f"sqlite:///{path}")``. The file is a SQLite database that processes share,
    not Optuna's journal log: Optuna cannot read it back."""

    def __init__(self, log_storage: BaseJournalBackend) -> None:
        if not isinstance(log_storage, JournalFileBackend):
            raise ConfigError(
                f"JournalStorage({type(log_storage).__name__}(...)): tunelab keeps no journal "
                "log, so it can only store studies in a file, as a SQLite database; give "
                "JournalFileBackend(path), or RDBStorage(url) for a database of your choice.",
                field="log_storage",
            )
        self.file_path = log_storage.file_path
        super().__init__(log_storage.url)


class JournalRedisBackend(BaseJournalBackend):
    """Optuna's journal in Redis, which tunelab does not have: making one is a ConfigError
    that names the storages to use instead."""

    def __init__(self, url: str, use_cluster: bool = False, prefix: str = "") -> None:
        raise ConfigError(
            "storage: JournalRedisBackend is Optuna's journal in Redis, which tunelab does not "
            "have. For a storage that processes on several machines share, use "
            "RDBStorage('postgresql://user:password@host/dbname') (pip install "
            "'tunelab[distributed]'); on one machine, JournalFileBackend(path) or "
            "RDBStorage('sqlite:///path.db') keeps a SQLite file that its processes share.",
            field="storage",
        )


__all__ = [
    "BaseJournalBackend",
    "JournalFileBackend",
    "JournalFileOpenLock",
    "JournalFileSymlinkLock",
    "JournalRedisBackend",
    "JournalStorage",
]
