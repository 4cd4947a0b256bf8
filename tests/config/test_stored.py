"""A study rebuilt from what its storage keeps of its study file, as ``tunelab worker`` does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import tunelab
from tests.config.study_files import write_study
from tunelab.config import (
    STUDY_FILE_ATTR,
    StorageTrust,
    UntrustedStorageError,
    config_record,
    load_stored_study,
    load_study_file,
    read_study_file,
    stored_objective,
    validate_study_config,
)
from tunelab.exceptions import ConfigError

STUDY = "name: demo\nobjective: {mod}:objective\nn_trials: 3\nsampler: sobol\nseed: 7\n"
MARKED_OBJECTIVE = """\
import pathlib

pathlib.Path(__file__).with_suffix(".imported").write_text("imported")

def objective(trial):
    return 1.0
"""


class FixedTrial:
    def suggest_float(self, name: str, low: float, high: float) -> float:
        return 3.0


def test_a_record_keeps_the_validated_fields_and_the_file_path(tmp_path: Path) -> None:
    path = write_study(tmp_path, STUDY)
    config, _ = load_study_file(path)

    record = config_record(config, path)

    assert record["path"] == str(path.resolve())
    assert record["fields"]["sampler"] == "sobol"
    assert "pruner" not in record["fields"]  # unset fields are left out
    assert json.loads(json.dumps(record)) == record


def test_a_record_rebuilds_the_config_and_objective_with_changes(tmp_path: Path) -> None:
    path = write_study(tmp_path, STUDY)
    record = config_record(load_study_file(path)[0], path)

    config, objective = stored_objective(record, "stored", {"storage": "memory"}, {"seed": 8})

    assert (config.name, config.storage, config.seed, config.n_trials) == ("demo", "memory", 8, 3)
    assert objective(FixedTrial()) == 4.0


def test_errors_in_a_record_start_with_its_source_and_blame_the_command_line(
    tmp_path: Path,
) -> None:
    record = config_record(load_study_file(write_study(tmp_path, STUDY))[0], None)

    with pytest.raises(ConfigError, match=r"^stored: field 'n_trials' \(given on the command"):
        stored_objective(record, "stored", overrides={"n_trials": 0})


def test_a_study_started_by_run_is_loaded_from_its_storage(tmp_path: Path) -> None:
    path = write_study(tmp_path, STUDY)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tunelab.create_study(name="demo", storage=storage)
    record = config_record(load_study_file(path)[0], path)
    study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)

    config, objective = load_stored_study(storage, "demo", {"n_trials": 5})

    assert (config.storage, config.n_trials, config.sampler) == (storage, 5, "sobol")
    assert objective(FixedTrial()) == 4.0


def test_a_study_not_started_by_run_says_how_to_start_it(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    tunelab.create_study(name="bare", storage=storage)

    with pytest.raises(ConfigError, match="not started by `tunelab run`") as raised:
        load_stored_study(storage, "bare")

    assert raised.value.field == "study"
    assert str(raised.value).startswith(f"study 'bare' in {storage} ")


def unimported_record(tmp_path: Path) -> tuple[dict, str]:
    """The record of a study file whose objective's module leaves a marker when imported, made
    without importing it; the module's name."""
    path = write_study(tmp_path, STUDY, MARKED_OBJECTIVE)
    config = validate_study_config(read_study_file(path), str(path))
    return config_record(config, path), config.objective.partition(":")[0]


def test_an_objective_outside_the_trusted_modules_is_refused_before_it_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    record, module = unimported_record(tmp_path)

    with pytest.raises(UntrustedStorageError, match=f"field 'objective' names code in the "
                                                    f"module {module!r}") as refused:
        stored_objective(record, "stored", trust=StorageTrust(trusted_modules=["my_lab"]))

    assert refused.value.field == "trusted_modules"
    assert module not in sys.modules
    assert not (tmp_path / f"{module}.imported").exists()
    trusted = StorageTrust(trusted_modules=[module])
    assert stored_objective(record, "stored", trust=trusted)[1](FixedTrial()) == 1.0
    assert (tmp_path / f"{module}.imported").exists()


def test_a_worker_loads_a_stored_study_within_its_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    record, module = unimported_record(tmp_path)
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    study = tunelab.create_study(name="demo", storage=storage)
    study.storage.set_study_system_attr(study.study_id, STUDY_FILE_ATTR, record)

    with pytest.raises(UntrustedStorageError, match=f"^study 'demo' in {storage}: field "):
        load_stored_study(storage, "demo", trust=StorageTrust(trusted_modules=[]))

    assert not (tmp_path / f"{module}.imported").exists()
