"""The task that trained a study, for what rebuilds the trials' models (the report's ensemble
and attributions, `tunelab explain`): the one the caller gives, else the one ``tunelab run``
stored with the study.

Rebuilding a stored task imports the code and reads the files its record names, and every
trial's weights are read from the folder its record names; both happen only within the limits
of a :class:`~tunelab.config.StorageTrust`, checked before anything is imported or read.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tunelab._attrs import STUDY_FILE_ATTR
from tunelab.exceptions import TunelabError
from tunelab.study import Study
from tunelab.telemetry import artifact_dir

if TYPE_CHECKING:
    from tunelab.config import StorageTrust
    from tunelab.torch.task import Task

T = TypeVar("T")


def from_storage(
    study: Study, trust: StorageTrust | None, build: Callable[[StorageTrust], T]
) -> T | str:
    """What ``build`` makes from what the storage names, within ``trust``; or, as a sentence
    that says what to change, why it cannot: the report was not asked to trust the storage, or
    what ``build`` needs is missing (no task, no weights). Crossing a limit the user set is
    an error, not a missing section: it propagates."""
    if trust is None:
        return (
            "it is built from what the storage names (the study's task, rebuilt by importing "
            "its code and reading its data, and the trials' saved weights), which the report "
            "uses only when asked; if you trust this storage, run `tunelab report "
            f"{shlex.quote(study.study_name)} --trust-storage` (from Python: "
            "write_report(..., trust_storage=True))."
        )
    from tunelab.config import UntrustedStorageError  # importable: the trust was made from it

    try:
        return build(trust)
    except UntrustedStorageError:
        raise
    except TunelabError as error:  # no task, no weights, no test part: the message says which
        return str(error)


def trusted_task(study: Study, task: Task | None, trust: StorageTrust) -> Task:
    """``task`` if given, else the task stored with ``study`` rebuilt within ``trust``; either
    way, once every trial's stored weights folder is known to lie under the data roots."""
    given = task is not None
    task = task if task is not None else stored_task(study, trust)
    _check_weight_folders(study, task, given, trust)
    return task


def stored_task(study: Study, trust: StorageTrust | None = None) -> Task:
    """The declarative task that ``tunelab run`` stored with ``study`` (its study file's
    ``task:``), rebuilt as `tunelab run` built it, within ``trust`` (by default, as
    :class:`~tunelab.config.StorageTrust` says); a TunelabError saying why when it has none."""
    from tunelab.config import stored_objective

    record = _study_file_record(study)
    if record is None:
        raise TunelabError(
            f"study {study.study_name!r} was not started by `tunelab run` from a study file "
            "with a 'task:', and no task was given, so its trials' models cannot be rebuilt; "
            "from Python, pass the tunelab.torch.Task that trained it: write_report(study, "
            "path, task=task), or explain(study, task)."
        )
    fields: Mapping[str, Any] = record.get("fields", {})
    if "task" not in fields:
        raise TunelabError(
            f"study {study.study_name!r} optimizes the objective {fields.get('objective')!r}, "
            "not a declarative task, so its trials' models cannot be rebuilt; a study file "
            "with a 'task:' section makes them rebuildable (with 'test_fraction' in its data, "
            "ensemble-able)."
        )
    from tunelab.torch.task import Task  # already loaded: the stored task is built with it

    objective = stored_objective(record, f"study {study.study_name!r}", trust=trust)[1]
    assert isinstance(objective, Task)  # a study file with a 'task:' is built into one
    return objective


def _study_file_record(study: Study) -> Mapping[str, Any] | None:
    # Read afresh: `tunelab run` stores the record after the study object was created.
    record = study.storage.get_study(study.study_name).system_attrs.get(STUDY_FILE_ATTR)
    return record if isinstance(record, Mapping) else None


def _check_weight_folders(study: Study, task: Task, given: bool, trust: StorageTrust) -> None:
    """Refuse trials whose stored weights folder lies outside the data roots, before any is
    read; the artifacts folder of a task the caller ``given`` is the caller's, so it counts."""
    from tunelab.config import stored_study_file

    if task.artifacts is None:
        return  # what rebuilds models refuses a task that keeps no weights before reading any
    record = _study_file_record(study)
    roots = trust.roots(stored_study_file(record) if record is not None else None)
    if given:
        roots += (Path(task.artifacts).resolve(),)
    for trial in study.trials:
        folder = artifact_dir(trial)
        if folder is not None:
            where = f"study {study.study_name!r}: the saved weights of trial {trial.number}"
            trust.check_path(folder, Path.cwd(), roots, where)
