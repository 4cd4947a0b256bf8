from __future__ import annotations

import numpy as np
import torch

from tunelab.torch.data import load_data

from .helpers import config_error, numeric_rows, write_csv


def test_csv_with_numeric_labels_round_trips(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": "data.csv", "target": "label"}, base_dir=tmp_path)

    assert data.task == "classification" and data.n_classes == 2
    assert data.class_names == ("0", "1") and data.input_shape == (3,)
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    assert torch.equal(x[:, 1], 2 * x[:, 0] + 0.5) and torch.equal(x[:, 2], -x[:, 0])
    assert torch.equal(y, x[:, 0].long() % 2)


def test_csv_features_subset_keeps_the_given_order(tmp_path):
    path = write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": str(path), "target": "label", "features": ["c", "a"]})

    assert data.input_shape == (2,) and data.feature_names == ("c", "a")
    assert torch.equal(data.x_train[:, 0], -data.x_train[:, 1])


def test_csv_with_text_labels_maps_them_in_sorted_order(tmp_path):
    animals = ["dog", "cat", "bird"]
    rows = [[i, animals[i % 3]] for i in range(15)]
    path = write_csv(tmp_path / "pets.csv", ["size", "animal"], rows)

    data = load_data({"name": "csv", "path": path, "target": "animal"})

    assert data.class_names == ("bird", "cat", "dog")
    x = torch.cat([data.x_train, data.x_val])[:, 0].long()
    y = torch.cat([data.y_train, data.y_val])
    assert [data.class_names[label] for label in y] == [animals[size % 3] for size in x]


def test_csv_task_is_inferred_from_the_target(tmp_path):
    continuous = [[i, i / 3] for i in range(20)]
    many_integers = [[i, 10 * i] for i in range(30)]
    write_csv(tmp_path / "float.csv", ["x", "y"], continuous)
    write_csv(tmp_path / "ints.csv", ["x", "y"], many_integers)

    floats = load_data({"name": "csv", "path": "float.csv", "target": "y"}, base_dir=tmp_path)
    ints = load_data({"name": "csv", "path": "ints.csv", "target": "y"}, base_dir=tmp_path)

    assert floats.task == ints.task == "regression"
    assert floats.n_classes is None and floats.n_outputs == 1
    assert floats.y_train.dtype == torch.float32 and floats.y_train.shape == (16, 1)
    np.testing.assert_allclose(floats.y_train[:, 0], floats.x_train[:, 0] / 3, rtol=1e-6)
    assert torch.equal(ints.y_train[:, 0], 10 * ints.x_train[:, 0])


def test_csv_task_can_be_forced(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": "data.csv", "target": "label", "task": "regression"},
                     base_dir=tmp_path)

    assert data.task == "regression" and data.y_train.shape[1] == 1


def test_wrong_target_column_lists_the_columns(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    message = config_error({"name": "csv", "path": "data.csv", "target": "lable"}, "data.target",
                           base_dir=tmp_path)

    assert "'lable'" in message and "did you mean 'label'?" in message
    assert "a, b, c, label" in message


def test_non_numeric_feature_names_the_column_and_line(tmp_path):
    rows = numeric_rows()
    rows[3][2] = "high"
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label"}, "data.features",
                           base_dir=tmp_path)

    assert "column 'c'" in message and "'high'" in message and "line 5" in message


def test_a_cell_longer_than_the_csv_reader_takes_names_the_file(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "y"], [["1" * 200_000, 0], [2, 1]])

    message = config_error({"name": "csv", "path": "data.csv", "target": "y"}, "data.path",
                           base_dir=tmp_path)

    assert "data.csv cannot be read as csv" in message and "field limit" in message
