"""tunelab.artifacts: files uploaded to a folder store, their meta recorded on the trial or
study, downloaded into new files only, and ids that cannot leave the store's folder."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

import tunelab
from tests.cli.helpers import python_env
from tunelab._attrs import ARTIFACT_META_PREFIX, OPTUNA_SYSTEM_ATTRS_ATTR
from tunelab.artifacts import (
    ArtifactFileExistsError,
    ArtifactMeta,
    ArtifactNotFound,
    Boto3ArtifactStore,
    FileSystemArtifactStore,
    GCSArtifactStore,
    download_artifact,
    get_all_artifact_meta,
    upload_artifact,
)
from tunelab.exceptions import ConfigError, TrialFinishedError
from tunelab.trial import FixedTrial


@pytest.fixture
def store(tmp_path) -> FileSystemArtifactStore:
    return FileSystemArtifactStore(tmp_path / "artifacts")


@pytest.fixture
def study(sqlite_url) -> tunelab.Study:
    return tunelab.create_study(study_name="s", storage=sqlite_url)


def write(path, content: bytes):
    path.write_bytes(content)
    return path


def test_an_upload_in_an_objective_is_recorded_on_its_trial_and_downloaded(tmp_path, store, study):
    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        model = write(tmp_path / f"model-{trial.number}.json", b'{"n": %d}' % trial.number)
        upload_artifact(artifact_store=store, file_path=str(model), study_or_trial=trial)
        return x

    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        [meta] = get_all_artifact_meta(trial, storage=study.storage)
        assert (meta.filename, meta.mimetype, meta.encoding) == (
            f"model-{trial.number}.json", "application/json", None
        )
        target = tmp_path / f"copy-{trial.number}.json"
        download_artifact(artifact_store=store, artifact_id=meta.artifact_id, file_path=target)
        assert target.read_bytes() == b'{"n": %d}' % trial.number
        assert trial.params  # the parameters were written before the meta


def test_a_studys_artifacts_are_its_own_and_kept_in_upload_order(tmp_path, store, study):
    notes = write(tmp_path / "notes.csv.gz", b"\x1f\x8b")
    first = upload_artifact(artifact_store=store, file_path=notes, study_or_trial=study)
    second = upload_artifact(artifact_store=store, file_path=notes, study_or_trial=study,
                             mimetype="text/plain", encoding="identity")
    trial = study.ask()
    assert get_all_artifact_meta(trial) == []
    assert get_all_artifact_meta(tunelab.load_study(study_name="s", storage=study.storage)) == [
        ArtifactMeta(first, "notes.csv.gz", "text/csv", "gzip"),
        ArtifactMeta(second, "notes.csv.gz", "text/plain", "identity"),
    ]
    assert ARTIFACT_META_PREFIX + first in study.system_attrs


def test_a_file_of_unknown_kind_is_an_octet_stream(tmp_path, store, study):
    upload_artifact(artifact_store=store, file_path=write(tmp_path / "blob", b"\0"),
                    study_or_trial=study)
    assert get_all_artifact_meta(study)[0].mimetype == "application/octet-stream"


def test_download_never_overwrites_a_file(tmp_path, store, study):
    artifact_id = upload_artifact(artifact_store=store, file_path=write(tmp_path / "a", b"new"),
                                  study_or_trial=study)
    target = write(tmp_path / "mine.txt", b"the user's")
    with pytest.raises(ArtifactFileExistsError, match="move that file aside") as caught:
        download_artifact(artifact_store=store, artifact_id=artifact_id, file_path=target)
    assert isinstance(caught.value, FileExistsError) and caught.value.field == "file_path"
    assert target.read_bytes() == b"the user's"


def test_an_upload_to_a_finished_trial_is_refused_and_leaves_no_file(tmp_path, store, study):
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    with pytest.raises(TrialFinishedError):
        upload_artifact(artifact_store=store, file_path=write(tmp_path / "a", b"x"),
                        study_or_trial=study.trials[0], storage=study.storage)
    assert list(store.base_path.iterdir()) == []


@pytest.mark.parametrize(
    "artifact_id", ["../outside", "/etc/passwd", "a/b", "a\\b", "..", ".hidden", "", "x\0", 7]
)
def test_an_id_that_could_leave_the_store_is_refused(tmp_path, store, artifact_id):
    for use in (store.open_reader, store.remove, lambda i: store.write(i, io.BytesIO(b"x"))):
        with pytest.raises(ConfigError, match="is not an artifact id") as caught:
            use(artifact_id)
        assert caught.value.field == "artifact_id"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_store_replaces_no_artifact_and_names_a_missing_one(store):
    store.write("model.pt", io.BytesIO(b"first"))
    with pytest.raises(ConfigError, match="never replaced"):
        store.write("model.pt", io.BytesIO(b"second"))
    with store.open_reader("model.pt") as reader:
        assert reader.read() == b"first"
    store.remove("model.pt")
    for use in (store.open_reader, store.remove):
        with pytest.raises(ArtifactNotFound, match="no artifact 'model.pt'"):
            use("model.pt")


def test_the_store_must_be_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="is a file, not a folder") as caught:
        FileSystemArtifactStore(write(tmp_path / "f", b""))
    assert caught.value.field == "base_path"


@pytest.mark.parametrize(
    ("study_or_trial", "field"),
    [(lambda study: study.trials[0], "storage"), (lambda study: FixedTrial({}), "study_or_trial")],
)
def test_what_holds_no_storage_is_named(study, study_or_trial, field):
    study.optimize(lambda trial: 0.0, n_trials=1)
    with pytest.raises(ConfigError) as caught:
        get_all_artifact_meta(study_or_trial(study))
    assert caught.value.field == field


def test_optunas_positional_form_warns_and_works(tmp_path, store, study):
    with pytest.warns(FutureWarning, match="give them as keywords"):
        artifact_id = upload_artifact(study, write(tmp_path / "a.txt", b"x"), store)
    assert [m.artifact_id for m in get_all_artifact_meta(study)] == [artifact_id]


def test_artifacts_of_a_trial_imported_from_optuna_are_listed(study):
    meta = {"artifact_id": "a1", "filename": "m.pt", "mimetype": "x/y", "encoding": None}
    imported = {OPTUNA_SYSTEM_ATTRS_ATTR: {ARTIFACT_META_PREFIX + "a1": json.dumps(meta)}}
    study.add_trial(tunelab.create_trial(value=1.0, system_attrs=imported))
    assert get_all_artifact_meta(study.trials[0], storage=study.storage) == [ArtifactMeta(**meta)]


@pytest.mark.parametrize("cloud", [Boto3ArtifactStore, GCSArtifactStore])
def test_cloud_stores_are_refused_with_the_file_store_named(cloud):
    with pytest.raises(ConfigError, match="only FileSystemArtifactStore") as caught:
        cloud("bucket")
    assert caught.value.field == "artifact_store"


def test_the_module_is_loaded_on_first_use():
    code = (
        "import sys, tunelab; before = 'tunelab.artifacts' in sys.modules; "
        "tunelab.artifacts.FileSystemArtifactStore; "
        "print(before, 'tunelab.artifacts' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=python_env(), capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "True"]
