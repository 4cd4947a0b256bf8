"""Bringing the studies of an Optuna storage into a tunelab storage.

An import is all or nothing. Every name is checked before anything is written; each study is
read and converted whole before it is created, and its trials go in with one ``add_trials``
write; if anything fails, the studies this import created are deleted again.

What tunelab has no place for is kept with the study rather than dropped: Optuna's study user
and system attributes in the study system attribute ``imported_from`` (tunelab studies have no
user attributes), and each trial's Optuna system attributes other than its constraints and
enqueued parameters under the trial's ``optuna_system_attrs``. Only CMA-ES's pickled optimizer
state and the heartbeats of running trials stay behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunelab._attrs import IMPORTED_FROM_ATTR
from tunelab.exceptions import ConfigError, DuplicatedStudyError, StorageError, StudyNotFoundError
from tunelab.storage import BaseStorage, check_storage_url, make_storage
from tunelab.storage.base import check_study_name
from tunelab.storage.files import sqlite_file, sqlite_files
from tunelab.storage.optuna_rdb import OptunaStorage, OptunaStudy, open_optuna_storage


def import_optuna(
    source_url: str,
    target: str | BaseStorage,
    study_names: Sequence[str] | None = None,
    *,
    new_name: str | None = None,
    skip_existing: bool = False,
) -> list[str]:
    """Import studies of the Optuna RDB storage at ``source_url`` (SQLite or PostgreSQL, read
    without being changed) into ``target``; the names they have there, in the order imported.

    Args:
        study_names: the studies to import; all of them when None.
        new_name: the name the one study imported gets in ``target`` (by default, its own).
        skip_existing: leave out the studies whose name ``target`` already has, instead of
            refusing the import.

    Trials keep their order, states, values, parameters, distributions, intermediate values,
    attributes and times. A trial that Optuna has as RUNNING comes in as FAIL, with the reason.
    """
    with open_optuna_storage(source_url) as source:
        named = _named(source, study_names, new_name)
        _refuse_same_file(source_url, target)
        store = make_storage(target)
        try:
            plan = _new_ones(store, named, skip_existing)
            return _write(source, store, plan)
        finally:
            if store is not target:
                store.close()


def _refuse_same_file(source_url: str, target: str | BaseStorage) -> None:
    """A SQLite file cannot be both: the import reads the source in a transaction that would
    keep tunelab from writing to the same file."""
    source = sqlite_file(source_url)
    files = target.files() if isinstance(target, BaseStorage) else sqlite_files(
        check_storage_url(target)
    )
    if source is not None and any(source.resolve() == Path(f).resolve() for f in files):
        raise ConfigError(
            f"the Optuna storage and the tunelab storage are the same file, {str(source)!r}; "
            "import into another one (--storage sqlite:///tunelab.db, say).",
            field="storage",
        )


def _named(
    source: OptunaStorage, study_names: Sequence[str] | None, new_name: str | None
) -> list[tuple[str, str]]:
    """(Optuna's name, tunelab's name) of each study to import, checked before the tunelab
    storage is even opened."""
    chosen = list(dict.fromkeys(study_names)) if study_names is not None else source.study_names()
    source.check_studies(chosen)
    if new_name is not None and len(chosen) != 1:
        raise ConfigError(
            f"--as (new_name) renames one study, but this import has {len(chosen)}; choose it "
            "with --study (study_names).",
            field="new_name",
        )
    for name in chosen:
        try:
            check_study_name(new_name or name)
        except StorageError as error:
            raise StorageError(
                f"Optuna study {name!r} cannot be imported under that name: {error} Give it "
                "another with --as NEW_NAME (new_name)."
            ) from None
    return [(name, new_name or name) for name in chosen]


def _new_ones(
    store: BaseStorage, named: list[tuple[str, str]], skip_existing: bool
) -> list[tuple[str, str]]:
    """The studies of ``named`` that ``store`` does not have yet; an error for one it has,
    unless ``skip_existing``."""
    plan = []
    for name, target_name in named:
        if not _exists(store, target_name):
            plan.append((name, target_name))
        elif not skip_existing:
            raise DuplicatedStudyError(
                f"the tunelab storage already has a study {target_name!r}. Import Optuna's "
                f"{name!r} under another name with --as NEW_NAME (new_name), leave the studies "
                "it already has out with --skip-existing (skip_existing), or delete that study "
                f"first (`tunelab delete {target_name}`)."
            )
    return plan


def _exists(store: BaseStorage, name: str) -> bool:
    try:
        store.get_study(name)
    except StudyNotFoundError:
        return False
    return True


def _write(source: OptunaStorage, store: BaseStorage, plan: list[tuple[str, str]]) -> list[str]:
    created: list[int] = []
    try:
        for source_name, target_name in plan:
            study = source.read_study(source_name)
            info = store.create_study(target_name, study.directions, study.metric_names)
            created.append(info.study_id)
            store.set_study_system_attr(info.study_id, IMPORTED_FROM_ATTR, _origin(source, study))
            store.add_trials(info.study_id, study.trials)
    except BaseException:
        for study_id in created:
            store.delete_study(study_id)
        raise
    return [target_name for _, target_name in plan]


def _origin(source: OptunaStorage, study: OptunaStudy) -> dict[str, Any]:
    return {
        "optuna_storage": source.shown_url,
        "optuna_study": study.name,
        "optuna_version": source.library_version,
        "schema_version": source.revision,
        "user_attrs": dict(study.user_attrs),
        "system_attrs": dict(study.system_attrs),
    }
