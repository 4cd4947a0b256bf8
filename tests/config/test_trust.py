"""What a stored study may make a command import and read: every place of a record that names
code or a file is found, and checked against the trust without importing or reading anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tunelab.config import StorageTrust, UntrustedStorageError
from tunelab.config.trust import check_stored_fields
from tunelab.exceptions import ConfigError

SOURCE = "study 'demo'"


def task(**parts: Any) -> dict[str, Any]:
    return {"task": {"data": {"name": "digits"}, **parts}}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"objective": "planted.objectives:objective"}, "objective"),
        (task(model="planted.nets:build"), "task.model"),
        (task(model={"name": "planted.nets:build", "width": 8}), "task.model"),
        (task(pretrain={"data": {"name": "digits"}, "model": {"name": "planted.nets:build"}}),
         "task.pretrain.model.name"),
        (task(search={"model.name": ["mlp", "planted.nets:build"]}), "task.search.model.name"),
        (task(search={"model.name": {"choices": ["planted.nets:build"]}}),
         "task.search.model.name"),
        ({"sampler": "planted.search:Sampler"}, "sampler"),
        ({"sampler": {"name": "planted.search:Sampler", "width": 0.1}}, "sampler"),
        ({"pruner": {"name": "patience", "patience": 2, "wrapped": "planted.stop:Pruner"}},
         "pruner"),
    ],
)
def test_every_place_that_names_code_is_checked(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(UntrustedStorageError) as refused:
        check_stored_fields(fields, None, StorageTrust(trusted_modules=["my_lab"]), SOURCE)

    assert str(refused.value).startswith(f"{SOURCE}: field {field!r} names code in the module ")
    assert "'planted." in str(refused.value)
    assert refused.value.field == "trusted_modules"
    check_stored_fields(fields, None, StorageTrust(trusted_modules=["planted"]), SOURCE)
    check_stored_fields(fields, None, StorageTrust(), SOURCE)  # by default: as stored


def test_a_prefix_trusts_its_submodules_only_and_tunelab_is_always_trusted() -> None:
    trust = StorageTrust(trusted_modules=["my_lab"])
    own = {"sampler": "tunelab.samplers.random:RandomSampler", "objective": "my_lab.deep:f"}

    check_stored_fields(own, None, trust, SOURCE)
    with pytest.raises(UntrustedStorageError, match="'my_labs', which is not among"):
        check_stored_fields({"objective": "my_labs:objective"}, None, trust, SOURCE)


def test_text_that_the_registry_would_not_import_is_not_taken_for_code() -> None:
    fields = {"sampler": {"name": "grid", "search_space": {"time": ["10:00", "a b:c"]}}}

    check_stored_fields(fields, None, StorageTrust(trusted_modules=[]), SOURCE)


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """A study file's folder, a private folder beside it and a current directory."""
    made = {name: tmp_path / name for name in ("lab", "private", "cwd")}
    for folder in made.values():
        folder.mkdir()
    (made["lab"] / "study.yaml").write_text("")
    monkeypatch.chdir(made["cwd"])
    return made


@pytest.mark.parametrize(
    ("part", "field"),
    [
        ({"data": {"name": "csv", "path": "../private/x.csv"}}, "task.data.path"),
        ({"pretrain": {"data": {"name": "npz", "path": "../private/x.npz"}}},
         "task.pretrain.data.path"),
        ({"recipe": {"pretrained": "../private/w.pt"}}, "task.recipe.pretrained"),
        ({"pretrain": {"data": "digits", "recipe": {"pretrained": "../private/w.pt"}}},
         "task.pretrain.recipe.pretrained"),
        ({"search": {"pretrained": ["../private/w.pt"]}}, "task.search.pretrained"),
        ({"artifacts": "../private/runs"}, "task.artifacts"),
    ],
)
def test_every_path_a_task_names_must_lie_under_the_data_roots(
    folders: dict[str, Path], part: dict[str, Any], field: str
) -> None:
    fields = {"task": {"data": {"name": "digits"}, **part}}
    study_file = folders["lab"] / "study.yaml"

    with pytest.raises(UntrustedStorageError) as refused:
        check_stored_fields(fields, study_file, StorageTrust(), SOURCE)

    message = str(refused.value)
    assert message.startswith(f"{SOURCE}: field {field!r}: '../private/")
    assert f"lies outside the data roots ({folders['lab']}, {folders['cwd']})" in message
    assert f"add --data-root {folders['private']}" in message
    assert refused.value.field == "data_roots"
    check_stored_fields(fields, study_file, StorageTrust(data_roots=[folders["private"]]), SOURCE)


def test_data_paths_start_from_the_study_file_and_the_others_from_here(
    folders: dict[str, Path]
) -> None:
    (folders["lab"] / "data").mkdir()
    fields = task(data={"name": "csv", "path": "data/x.csv"}, artifacts="runs")
    only_lab = StorageTrust(data_roots=[folders["lab"]])

    check_stored_fields(fields, folders["lab"] / "study.yaml", StorageTrust(), SOURCE)
    with pytest.raises(UntrustedStorageError, match=r"field 'task.artifacts': 'runs' \("):
        check_stored_fields(fields, folders["lab"] / "study.yaml", only_lab, SOURCE)


def test_a_link_out_of_a_data_root_is_followed_before_the_check(folders: dict[str, Path]) -> None:
    (folders["private"] / "secret.csv").write_text("")
    (folders["lab"] / "innocent.csv").symlink_to(folders["private"] / "secret.csv")
    fields = task(data={"name": "csv", "path": "innocent.csv"})

    with pytest.raises(UntrustedStorageError, match="secret.csv"):
        check_stored_fields(fields, folders["lab"] / "study.yaml", StorageTrust(), SOURCE)


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"trusted_modules": "my_lab"}, "trusted_modules", "must be a list; write trusted_mod"),
        ({"trusted_modules": ["my lab"]}, "trusted_modules", "'my lab' is not a module name"),
        ({"trusted_modules": ["my_lab:objective"]}, "trusted_modules", "is not a module name"),
        ({"data_roots": ["missing"]}, "data_roots", "data root 'missing' is not a folder"),
    ],
)
def test_a_bad_trust_names_the_option(
    folders: dict[str, Path], options: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        StorageTrust(**options)

    assert error.value.field == field
