from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.torch.data import load_data

from .helpers import BAD_ARCHIVES, config_error


def test_npz_vectors_round_trip(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    np.savez(tmp_path / "data.npz", features=x, labels=np.arange(20) % 2)

    data = load_data({"name": "npz", "path": "data.npz", "x": "features", "y": "labels"},
                     base_dir=tmp_path)

    assert data.task == "classification" and data.n_classes == 2 and data.input_shape == (3,)
    assert torch.equal(data.y_train, (data.x_train[:, 0].long() // 3) % 2)


def test_npz_images_get_a_channel_axis_and_float_targets_mean_regression(tmp_path):
    gray = np.random.default_rng(0).random((10, 5, 6))
    np.savez(tmp_path / "gray.npz", x=gray, y=np.linspace(0, 1, 10))
    rgb = np.zeros((12, 3, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", x=rgb, y=np.arange(12) % 3)

    gray_data = load_data({"name": "npz", "path": "gray.npz"}, base_dir=tmp_path)
    rgb_spec = {"name": "npz", "path": "rgb.npz", "val_fraction": 0.25}
    rgb_data = load_data(rgb_spec, base_dir=tmp_path)

    assert gray_data.input_shape == (1, 5, 6) and gray_data.task == "regression"
    assert gray_data.y_train.shape == (8, 1)
    assert rgb_data.input_shape == (3, 4, 4) and rgb_data.n_classes == 3
    assert rgb_data.x_train.dtype == torch.float32


def test_missing_npz_key_lists_the_keys(tmp_path):
    np.savez(tmp_path / "data.npz", inputs=np.ones((4, 2)), y=np.zeros(4))

    message = config_error({"name": "npz", "path": "data.npz"}, "data.x", base_dir=tmp_path)

    assert "inputs, y" in message



@pytest.mark.parametrize("case", BAD_ARCHIVES, ids=[case.id for case in BAD_ARCHIVES])
def test_a_file_that_is_not_an_archive_of_samples_says_what_it_must_hold(tmp_path, case):
    path = tmp_path / "data.npz"
    case.write(path)

    message = config_error({"name": "npz", "path": "data.npz"}, case.field, base_dir=tmp_path)

    assert str(path) in message
    for word in case.words:
        assert word in message

