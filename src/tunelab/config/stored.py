"""A study file as a study keeps it in its storage, and the study rebuilt from it, so that
``tunelab worker`` can join a study and the report can rebuild its task on any machine.

Rebuilding imports the code and reads the files the stored fields name, so it is limited by a
:class:`~tunelab.config.trust.StorageTrust`, checked before anything is imported or read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.config.loading import prepare_objective
from tunelab.config.objective import extend_import_path
from tunelab.config.schema import StudyConfig, validate_study_config
from tunelab.config.trust import StorageTrust, check_stored_fields
from tunelab.exceptions import ConfigError
from tunelab.storage import make_storage


def config_record(config: StudyConfig, study_file: str | Path | None) -> dict[str, Any]:
    """What a study keeps of its study file, so that ``tunelab worker`` can join it anywhere:
    the validated fields, and the file's path (its folder holds the objective's module)."""
    path = str(Path(study_file).resolve()) if study_file is not None else None
    return {"fields": config.model_dump(mode="json", exclude_none=True), "path": path}


def load_stored_study(
    storage: str,
    name: str,
    overrides: Mapping[str, Any] | None = None,
    trust: StorageTrust | None = None,
) -> tuple[StudyConfig, Callable[..., Any]]:
    """The config and objective of a study that ``tunelab run`` started, read from its storage.

    The objective's module is looked for next to the original study file when this machine
    has it at the same path, else in the current directory. ``trust`` limits what may be
    imported and read (by default, as :class:`StorageTrust` says).
    """
    store = make_storage(storage)
    try:
        record = store.get_study(name).system_attrs.get(STUDY_FILE_ATTR)
    finally:
        store.close()
    source = f"study {name!r} in {storage}"
    if record is None:
        raise ConfigError(
            f"{source} was not started by `tunelab run`, so its objective is not stored with "
            "it; start it with `tunelab run STUDY_FILE --storage URL` first, or run the study "
            "file itself here.",
            field="study",
        )
    return stored_objective(record, source, {"storage": storage}, overrides, trust)


def stored_objective(
    record: Mapping[str, Any],
    source: str,
    changes: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    trust: StorageTrust | None = None,
) -> tuple[StudyConfig, Callable[..., Any]]:
    """The config and objective of a study file as a study keeps it (:func:`config_record`),
    with ``changes`` and the command line's ``overrides`` applied; ``source`` starts errors.

    An :class:`~tunelab.config.trust.UntrustedStorageError` refuses, before anything is
    imported or read, a module or file that ``trust`` does not allow.
    """
    data = {**record["fields"], **(changes or {}), **(overrides or {})}
    path = stored_study_file(record)
    check_stored_fields(data, path, trust or StorageTrust(), source)
    extend_import_path(path)  # validation builds the sampler and pruner it names
    config = validate_study_config(data, source, set(overrides or ()))
    return prepare_objective(config, path, source=source)


def stored_study_file(record: Mapping[str, Any]) -> Path | None:
    """The study file a study was started from, when this machine has it at the same path."""
    path = record.get("path")
    return Path(path) if isinstance(path, str) and Path(path).is_file() else None
