"""Where artifacts are kept: a folder of files named by their ids.

An artifact id names one file directly in the store's folder. An id is refused unless it is a
plain name (letters, digits, ``.``, ``_``, ``-``, not starting with a dot), so that no id, not
even one read from a storage that someone else wrote, can reach a file outside that folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import BinaryIO, Protocol

from tunelab.artifacts.exceptions import ArtifactNotFound
from tunelab.exceptions import ConfigError

_ARTIFACT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


class ArtifactStore(Protocol):
    """What ``upload_artifact`` and ``download_artifact`` need of a store (Optuna's protocol)."""

    def open_reader(self, artifact_id: str) -> BinaryIO: ...

    def write(self, artifact_id: str, content_body: BinaryIO) -> None: ...

    def remove(self, artifact_id: str) -> None: ...


def check_artifact_id(artifact_id: object) -> str:
    """``artifact_id`` if it is a plain file name; a ConfigError otherwise."""
    if isinstance(artifact_id, str) and _ARTIFACT_ID.fullmatch(artifact_id):
        return artifact_id
    raise ConfigError(
        f"artifact_id {artifact_id!r} is not an artifact id: one is a plain name of letters, "
        "digits, '.', '_' and '-' that starts with a letter or digit, so that it names a file "
        "inside the store's folder and nowhere else. Give the id that upload_artifact "
        "returned, or one that get_all_artifact_meta lists.",
        field="artifact_id",
    )


class FileSystemArtifactStore:
    """Artifacts as files in the folder ``base_path`` (made on the first upload if missing),
    one per artifact, named by its id.

    A file already there is never replaced: writing an id that the store holds is refused.
    """

    def __init__(self, base_path: str | os.PathLike[str]) -> None:
        self.base_path = Path(base_path)
        if self.base_path.exists() and not self.base_path.is_dir():
            raise ConfigError(
                f"FileSystemArtifactStore: {self.base_path} is a file, not a folder; give the "
                "path of a folder for the artifacts (it is made if missing).",
                field="base_path",
            )

    def _path(self, artifact_id: str) -> Path:
        return self.base_path / check_artifact_id(artifact_id)

    def open_reader(self, artifact_id: str) -> BinaryIO:
        """The artifact's content, open for reading; close it when done."""
        path = self._path(artifact_id)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise self._not_found(artifact_id) from None

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        """Store what ``content_body`` holds as a new artifact ``artifact_id``."""
        path = self._path(artifact_id)  # checked before anything is created
        self.base_path.mkdir(parents=True, exist_ok=True)
        try:
            copy_to_new_file(content_body, path)
        except FileExistsError:
            raise ConfigError(
                f"artifact {artifact_id!r} is already in {self.base_path}, and a stored artifact "
                "is never replaced; store the new content under another id, or remove the old "
                "one first (store.remove(artifact_id)).",
                field="artifact_id",
            ) from None

    def remove(self, artifact_id: str) -> None:
        """Delete the artifact ``artifact_id`` from the store."""
        try:
            self._path(artifact_id).unlink()
        except FileNotFoundError:
            raise self._not_found(artifact_id) from None

    def _not_found(self, artifact_id: str) -> ArtifactNotFound:
        return ArtifactNotFound(
            f"no artifact {artifact_id!r} in {self.base_path}: it was never uploaded to this "
            "store, or was removed. get_all_artifact_meta(trial or study) lists the ids that "
            "were uploaded; check that the store's folder is the one they were uploaded to."
        )


class _OnlyFileSystem:
    """Optuna's store in a cloud bucket, which tunelab does not have."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise ConfigError(
            f"{type(self).__name__}: tunelab provides only FileSystemArtifactStore, which keeps "
            "artifacts in a folder; give it a folder that every worker can reach "
            "(FileSystemArtifactStore(base_path)).",
            field="artifact_store",
        )


class Boto3ArtifactStore(_OnlyFileSystem):
    """Optuna's store in Amazon S3: not in tunelab (a ConfigError names the file store)."""


class GCSArtifactStore(_OnlyFileSystem):
    """Optuna's store in Google Cloud Storage: not in tunelab (a ConfigError names the file
    store)."""


def copy_to_new_file(reader: BinaryIO, path: Path) -> None:
    """Copy ``reader`` into ``path``, which must not exist yet (FileExistsError otherwise);
    a copy that fails leaves no half-written file behind."""
    with open(path, "xb") as writer:
        try:
            shutil.copyfileobj(reader, writer)
        except BaseException:
            writer.close()
            path.unlink(missing_ok=True)  # the half-written file this call created
            raise
