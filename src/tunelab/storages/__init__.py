"""Optuna's storage names over tunelab's storages.

``RDBStorage(url)`` is tunelab's SQL storage (SQLite or PostgreSQL) and ``InMemoryStorage()``
its storage in memory; either goes wherever a storage is accepted. Optuna keeps heartbeat
options on the storage object, tunelab with each study, so that every process and machine
working on it follows them: an ``RDBStorage`` given ``heartbeat_interval`` (and
``grace_period``, and ``failed_trial_callback=RetryFailedTrialCallback(max_retry=n)`` for
retries) stores them with each study created or loaded through it.

``JournalStorage(journal.JournalFileBackend(path))`` is a SQLite database at ``path``, shared
by the processes that open it, not Optuna's journal log (see :mod:`tunelab.storages.journal`).
"""

from __future__ import annotations

import os
import warnings

from tunelab.storage import BaseStorage, InMemoryStorage
from tunelab.storages import journal
from tunelab.storages._rdb import (
    RDBStorage,
    RetryFailedTrialCallback,
    RetryHeartbeatStaleTrialCallback,
    fail_stale_trials,
)
from tunelab.storages.journal import (
    BaseJournalBackend,
    JournalFileBackend,
    JournalRedisBackend,
    JournalStorage,
)

BaseJournalLogStorage = BaseJournalBackend  # Optuna's name before 4.0


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"{old} is deprecated; use {new} instead.", FutureWarning, stacklevel=3)


class JournalFileStorage(JournalFileBackend):
    """Optuna's name before 4.0 for :class:`~tunelab.storages.journal.JournalFileBackend`:
    a SQLite database at ``file_path``, not a journal log."""

    def __init__(
        self, file_path: str | os.PathLike[str], lock_obj: journal.BaseJournalFileLock | None = None
    ) -> None:
        _deprecated("JournalFileStorage", "journal.JournalFileBackend")
        super().__init__(file_path, lock_obj)


class JournalFileSymlinkLock(journal.JournalFileSymlinkLock):
    """Optuna's name before 4.0 for :class:`journal.JournalFileSymlinkLock` (unused)."""

    def __init__(self, filepath: str, grace_period: int | None = 30) -> None:
        _deprecated("storages.JournalFileSymlinkLock", "journal.JournalFileSymlinkLock")
        super().__init__(filepath, grace_period)


class JournalFileOpenLock(journal.JournalFileOpenLock):
    """Optuna's name before 4.0 for :class:`journal.JournalFileOpenLock` (unused)."""

    def __init__(self, filepath: str, grace_period: int | None = 30) -> None:
        _deprecated("storages.JournalFileOpenLock", "journal.JournalFileOpenLock")
        super().__init__(filepath, grace_period)


JournalRedisStorage = JournalRedisBackend  # Optuna's name before 4.0; refused the same way

__all__ = [
    "BaseJournalLogStorage",
    "BaseStorage",
    "InMemoryStorage",
    "JournalFileOpenLock",
    "JournalFileStorage",
    "JournalFileSymlinkLock",
    "JournalRedisStorage",
    "JournalStorage",
    "RDBStorage",
    "RetryFailedTrialCallback",
    "RetryHeartbeatStaleTrialCallback",
    "fail_stale_trials",
    "journal",
]
