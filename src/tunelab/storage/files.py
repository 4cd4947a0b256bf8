"""Files on disk: the ones a SQLite storage lives in, and the files that commands write for the
user (exports, reports), which must never destroy data.

A file is written to a temporary file in the same folder and renamed over the target, so an
interrupted write leaves either the old file or the new one, never half of one. An existing
file is replaced only when the user says so, and the storage a study was read from never is:
a report written over ``tunelab.db`` would lose every study in it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tunelab.exceptions import ConfigError, StorageError

# SQLite keeps uncommitted and recent pages beside the database, under these suffixes.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
SQLITE_HEADER = b"SQLite format 3\x00"  # how every SQLite database file begins
_JOURNAL_LINE_LIMIT = 1 << 20  # bytes of an Optuna journal's first line that are read


def is_optuna_journal(path: Path) -> bool:
    """Whether ``path`` is a log that Optuna's ``JournalFileBackend`` wrote: JSON lines, each
    an operation with its ``op_code``. Only read, never changed; False if it cannot be read."""
    try:
        with open(path, "rb") as file:
            first = file.readline(_JOURNAL_LINE_LIMIT)
    except OSError:
        return False
    if first.startswith(SQLITE_HEADER):
        return False
    try:
        operation = json.loads(first)
    except ValueError:
        return False
    return isinstance(operation, dict) and "op_code" in operation


def optuna_journal_error(path: Path) -> StorageError:
    """The refusal of an Optuna journal log found where a SQLite database was to be."""
    return StorageError(
        f"{path} is an Optuna journal log (written by JournalFileBackend), which tunelab "
        "cannot read: tunelab's storages, JournalStorage's file included, are SQLite "
        "databases. The file was left as it is. Give another path for tunelab's database, or "
        "move the journal aside; to bring its studies over, have Optuna copy them into a "
        "SQLite database (optuna.copy_study(..., to_storage='sqlite:///optuna.db')), then run "
        "`tunelab import-optuna sqlite:///optuna.db`."
    )


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (relative to the current directory); None for other storages
    and for SQLite in memory."""
    if not url.lower().startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def sqlite_files(url: str) -> tuple[Path, ...]:
    """The SQLite database of ``url`` and its companion files; empty for other storages."""
    database = sqlite_file(url)
    if database is None:
        return ()
    return (database, *(database.with_name(database.name + s) for s in SQLITE_COMPANIONS))


@dataclass(frozen=True)
class OutputOption:
    """How the user named the file to write, so that a refusal points at what to change."""

    where: str  # what a message starts with: "option --output", "write_report: path"
    field: str  # the ConfigError's field
    force: str  # what the user gives to replace an existing file: "--force", "overwrite=True"


def write_text_file(
    path: Path,
    render: Callable[[], str],
    option: OutputOption,
    *,
    overwrite: bool,
    storage_files: Iterable[Path],
) -> None:
    """Write the text that ``render`` makes to ``path``, atomically.

    Refused, before ``render`` runs (a report takes a while), when ``path`` exists and not
    ``overwrite``, and whatever ``overwrite`` says when ``path`` is one of ``storage_files``:
    the storage the text was read from.
    """
    protected = tuple(storage_files)
    _check_target(path, option, overwrite, protected)
    text = render()
    _check_target(path, option, overwrite, protected)  # it may have appeared meanwhile
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        _write_new(temporary, text)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise ConfigError(
            f"{option.where}: cannot write {path} ({error.strerror}); choose another path.",
            field=option.field,
        ) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (with the permissions a new file gets here) holding ``text``, on disk
    before it is renamed into place."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    with open(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


def _check_target(
    path: Path, option: OutputOption, overwrite: bool, storage_files: tuple[Path, ...]
) -> None:
    for stored in storage_files:
        if _same_file(path, stored):
            what = "the storage" if stored == storage_files[0] else (
                f"part of the storage ({storage_files[0]})"
            )
            raise ConfigError(
                f"{option.where}: {path} is {what} that the study was read from; writing there "
                f"would destroy every study in it, {option.force} or not. Choose another path.",
                field=option.field,
            )
    if not overwrite and (path.exists() or path.is_symlink()):
        raise ConfigError(
            f"{option.where}: {path} already exists; choose another path, or give "
            f"{option.force} to replace it.",
            field=option.field,
        )


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file, through links and relative paths."""
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # either is missing: then they are not one file
        return False
