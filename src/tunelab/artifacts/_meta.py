"""Uploading a file to a store, recording it on a trial or study, and getting it back.

Each upload's meta (id, file name, MIME type, encoding) is a system attribute of the trial or
study under ``artifacts:ID``, Optuna's key, written in one call, so that uploads from several
threads or processes never lose one another's. The file is stored first; if the meta cannot be
recorded (the trial has finished), the stored file is removed again.
"""

from __future__ import annotations

import functools
import json
import mimetypes
import os
import uuid
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from tunelab._attrs import ARTIFACT_META_PREFIX, IMPORTED_FROM_ATTR, OPTUNA_SYSTEM_ATTRS_ATTR
from tunelab.artifacts._store import ArtifactStore, copy_to_new_file
from tunelab.exceptions import ConfigError
from tunelab.storage import BaseStorage, make_storage
from tunelab.study import Study
from tunelab.trial import Trial, TrialRecord

DEFAULT_MIMETYPE = "application/octet-stream"
# Optuna before 4.0 took these three positionally; Optuna 5 still does, with a FutureWarning.
_OLD_POSITIONAL = ("study_or_trial", "file_path", "artifact_store")

StudyOrTrial = Trial | TrialRecord | Study
_P = ParamSpec("_P")
_T = TypeVar("_T")


@dataclass
class ArtifactMeta:
    """What is recorded of an uploaded artifact: its id in the store, the uploaded file's name,
    its MIME type and its encoding (``gzip`` and the like, or None)."""

    artifact_id: str
    filename: str
    mimetype: str
    encoding: str | None


class ArtifactFileExistsError(ConfigError, FileExistsError):
    """``download_artifact`` was given a file that exists: tunelab never overwrites a file
    that it did not create."""


def _accepting_old_positional_form(function: Callable[_P, _T]) -> Callable[_P, _T]:
    by_keywords: Callable[..., _T] = function

    @functools.wraps(function)
    def accepting(*args: Any, **kwargs: Any) -> _T:
        if len(args) > len(_OLD_POSITIONAL):
            raise TypeError(f"upload_artifact() takes at most 3 positional arguments ({args!r})")
        if args:
            warnings.warn(
                "upload_artifact(study_or_trial, file_path, artifact_store) is deprecated; give "
                "them as keywords: upload_artifact(artifact_store=..., file_path=..., "
                "study_or_trial=...).",
                FutureWarning,
                stacklevel=2,
            )
        for name, value in zip(_OLD_POSITIONAL, args):
            if name in kwargs:
                raise TypeError(f"upload_artifact() got multiple values for {name!r}")
            kwargs[name] = value
        return by_keywords(**kwargs)

    return accepting


@_accepting_old_positional_form
def upload_artifact(
    *,
    artifact_store: ArtifactStore,
    file_path: str | os.PathLike[str],
    study_or_trial: StudyOrTrial,
    storage: BaseStorage | str | None = None,
    mimetype: str | None = None,
    encoding: str | None = None,
) -> str:
    """Copy the file ``file_path`` into ``artifact_store`` and record it on ``study_or_trial``
    (a running Trial, a Study, or a FrozenTrial with ``storage=``); the new artifact's id.

    ``mimetype`` and ``encoding`` are guessed from the file's name when not given.
    """
    path = Path(file_path)
    holder = _holder(study_or_trial, storage, "upload_artifact")
    if not path.is_file():
        raise ConfigError(
            f"upload_artifact: file_path {str(path)!r} is not a file; give the path of the "
            "file to upload.",
            field="file_path",
        )
    guessed_type, guessed_encoding = mimetypes.guess_type(path.name)
    meta = ArtifactMeta(
        artifact_id=str(uuid.uuid4()),
        filename=path.name,
        mimetype=mimetype or guessed_type or DEFAULT_MIMETYPE,
        encoding=encoding or guessed_encoding,
    )
    with open(path, "rb") as file:
        artifact_store.write(meta.artifact_id, file)
    try:
        holder.record(ARTIFACT_META_PREFIX + meta.artifact_id, asdict(meta))
    except BaseException:
        artifact_store.remove(meta.artifact_id)  # stored by this call, recorded nowhere
        raise
    return meta.artifact_id


def download_artifact(
    *, artifact_store: ArtifactStore, file_path: str | os.PathLike[str], artifact_id: str
) -> None:
    """Copy the artifact ``artifact_id`` out of ``artifact_store`` into the new file
    ``file_path``; an existing file there is refused, never overwritten."""
    path = Path(file_path)
    if path.exists() or path.is_symlink():
        raise _exists(path)
    with artifact_store.open_reader(artifact_id) as reader:
        try:
            copy_to_new_file(reader, path)
        except FileExistsError:  # it appeared meanwhile
            raise _exists(path) from None


def _exists(path: Path) -> ArtifactFileExistsError:
    return ArtifactFileExistsError(
        f"download_artifact: {path} already exists, and tunelab never overwrites a file it did "
        "not create; give a file_path that does not exist yet, or move that file aside.",
        field="file_path",
    )


def get_all_artifact_meta(
    study_or_trial: StudyOrTrial, *, storage: BaseStorage | str | None = None
) -> list[ArtifactMeta]:
    """The meta of each artifact uploaded to ``study_or_trial``, oldest first (a study's own
    artifacts only, not its trials'); a FrozenTrial needs ``storage=``.

    The artifacts of a study or trial imported from Optuna (``tunelab import-optuna``) are
    listed too; they are downloaded from the store that Optuna uploaded them to.
    """
    attrs = _holder(study_or_trial, storage, "get_all_artifact_meta").attrs()
    imported = attrs.get(IMPORTED_FROM_ATTR, {}).get("system_attrs", {})
    found = {**attrs.get(OPTUNA_SYSTEM_ATTRS_ATTR, {}), **imported, **attrs}
    return [
        _meta(value) for key, value in found.items() if key.startswith(ARTIFACT_META_PREFIX)
    ]


def _meta(value: Any) -> ArtifactMeta:
    """The meta as stored: an object, or the JSON text of one (Optuna's form)."""
    fields = json.loads(value) if isinstance(value, str) else value
    return ArtifactMeta(
        artifact_id=fields["artifact_id"],
        filename=fields["filename"],
        mimetype=fields["mimetype"],
        encoding=fields.get("encoding"),
    )


@dataclass(frozen=True)
class _Holder:
    """A study or trial whose system attributes hold artifact meta, in ``storage``."""

    storage: BaseStorage
    study: Study | None = None  # None: a trial's
    trial_id: int = -1
    live: Trial | None = None  # a running trial writes through itself, its parameters first

    def attrs(self) -> Mapping[str, Any]:
        if self.study is not None:
            return self.storage.get_study(self.study.study_name).system_attrs
        return self.storage.get_trial(self.trial_id).system_attrs

    def record(self, key: str, value: Any) -> None:
        if self.live is not None:
            self.live.set_system_attr(key, value)
        elif self.study is not None:
            self.storage.set_study_system_attr(self.study.study_id, key, value)
        else:
            self.storage.set_trial_system_attr(self.trial_id, key, value)


def _holder(study_or_trial: object, storage: BaseStorage | str | None, call: str) -> _Holder:
    """The holder of ``study_or_trial``'s artifacts: in ``storage`` if given, else in its own."""
    store = None if storage is None else make_storage(storage)
    if isinstance(study_or_trial, Study):
        return _Holder(store or study_or_trial.storage, study=study_or_trial)
    if isinstance(study_or_trial, Trial) and store is None:
        trial = study_or_trial
        return _Holder(trial.study.storage, trial_id=trial.trial_id, live=trial)
    if isinstance(study_or_trial, (Trial, TrialRecord)):
        if store is None:
            raise ConfigError(
                f"{call}: a FrozenTrial does not know the storage it was read from; give it "
                "as storage=..., e.g. storage=study.storage (or pass the running Trial or the "
                "Study instead).",
                field="storage",
            )
        return _Holder(store, trial_id=study_or_trial.trial_id)
    raise ConfigError(
        f"{call}: study_or_trial is a {type(study_or_trial).__name__}, which belongs to no "
        "stored study; give the Trial an objective receives, a Study, or a FrozenTrial with "
        "storage=....",
        field="study_or_trial",
    )
