"""Files kept with a trial or a study (Optuna's artifacts): a model's weights, a plot, a log.

``upload_artifact(artifact_store=..., file_path=..., study_or_trial=trial)`` copies a file into
a store and records its meta (:class:`ArtifactMeta`: id, file name, MIME type, encoding) in the
trial's or study's system attributes; ``get_all_artifact_meta`` lists what was recorded and
``download_artifact`` copies an artifact into a new file. The store is a folder,
:class:`FileSystemArtifactStore`; tunelab has no cloud store. Nothing here replaces a file:
neither a stored artifact nor the file a download would write to.
"""

from __future__ import annotations

from tunelab.artifacts import exceptions
from tunelab.artifacts._meta import (
    ArtifactFileExistsError,
    ArtifactMeta,
    download_artifact,
    get_all_artifact_meta,
    upload_artifact,
)
from tunelab.artifacts._store import (
    ArtifactStore,
    Boto3ArtifactStore,
    FileSystemArtifactStore,
    GCSArtifactStore,
    check_artifact_id,
)
from tunelab.artifacts.exceptions import ArtifactNotFound

__all__ = [
    "ArtifactFileExistsError",
    "ArtifactMeta",
    "ArtifactNotFound",
    "ArtifactStore",
    "Boto3ArtifactStore",
    "FileSystemArtifactStore",
    "GCSArtifactStore",
    "check_artifact_id",
    "download_artifact",
    "exceptions",
    "get_all_artifact_meta",
    "upload_artifact",
]
