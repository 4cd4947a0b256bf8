from __future__ import annotations

import importlib
import os
import sys

import pytest

from tunelab.exceptions import MissingExtraError

from .helpers import config_error


def test_missing_csv_file_names_the_absolute_path(tmp_path):
    message = config_error({"name": "csv", "path": "nope.csv", "target": "y"}, "data.path",
                           base_dir=tmp_path)
    assert str(tmp_path.resolve() / "nope.csv") in message


def test_missing_npz_file_names_the_absolute_path(tmp_path):
    message = config_error({"name": "npz", "path": str(tmp_path / "sub" / "nope.npz")}, "data.path")
    assert str(tmp_path.resolve() / "sub" / "nope.npz") in message


def test_missing_image_folder_names_the_absolute_path(tmp_path):
    message = config_error({"name": "image_folder", "path": "pictures"}, "data.path",
                           base_dir=tmp_path)
    assert str(tmp_path.resolve() / "pictures") in message


def forget_tunelab_torch(monkeypatch):
    for name in list(sys.modules):
        if name == "tunelab.torch" or name.startswith("tunelab.torch."):
            monkeypatch.delitem(sys.modules, name)


def test_missing_torch_names_the_extra_to_install(monkeypatch):
    forget_tunelab_torch(monkeypatch)
    monkeypatch.setitem(sys.modules, "torch", None)

    with pytest.raises(MissingExtraError, match=r"'torch'.*tunelab\[torch\]"):
        importlib.import_module("tunelab.torch")


def test_missing_scikit_learn_names_the_extra_to_install(monkeypatch):
    forget_tunelab_torch(monkeypatch)
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)

    data = importlib.import_module("tunelab.torch.data")  # scikit-learn is needed to load only
    with pytest.raises(MissingExtraError, match=r"'scikit-learn'.*tunelab\[torch\]"):
        data.load_data("digits")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_path_that_is_not_a_regular_file_is_refused_before_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")  # reading it would wait for a writer forever

    message = config_error({"name": "csv", "path": "pipe.csv", "target": "y"}, "data.path",
                           base_dir=tmp_path)

    assert "neither a file nor a folder" in message


@pytest.mark.parametrize("path", ["data\0.npz", "x" * 5000])
def test_a_path_no_file_system_accepts_names_the_option(tmp_path, path):
    config_error({"name": "npz", "path": path}, "data.path", base_dir=tmp_path)
