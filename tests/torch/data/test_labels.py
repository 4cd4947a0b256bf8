from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_wine

from tunelab.torch.data import load_data

from .helpers import config_error, numeric_rows, write_csv


def test_classes_keeps_the_listed_ones_and_renumbers_them_in_order():
    wine = load_wine()
    rows = wine.data.astype(np.float32)
    original = {row.tobytes(): label for row, label in zip(rows, wine.target, strict=True)}

    data = load_data({"name": "wine", "classes": ["class_2", 0]})

    assert data.n_classes == 2 and data.class_names == ("class_2", "class_0")
    x = torch.cat([data.x_train, data.x_val]).numpy()
    y = torch.cat([data.y_train, data.y_val]).tolist()
    assert len(y) == int(np.sum(wine.target != 1))
    assert [original[row.tobytes()] for row in x] == [[2, 0][label] for label in y]


def test_unknown_class_is_refused_with_a_suggestion():
    message = config_error({"name": "iris", "classes": ["setosa", "virginca"]}, "data.classes")
    assert "'virginca'" in message and "did you mean 'virginica'?" in message
    assert "setosa, versicolor, virginica" in message


def test_single_class_is_refused():
    message = config_error({"name": "iris", "classes": ["setosa"]}, "data.classes")
    assert "at least 2 classes" in message and "setosa" in message


def test_label_beyond_declared_n_classes_is_out_of_range(tmp_path):
    rows = numeric_rows()
    rows[6][3] = 4
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label", "n_classes": 3},
                           "data.n_classes", base_dir=tmp_path)

    assert "out of range" in message and "label 4" in message and "line 8" in message


def test_negative_npz_label_is_out_of_range(tmp_path):
    y = np.arange(10) % 2
    y[3] = -1
    np.savez(tmp_path / "data.npz", x=np.ones((10, 2)), y=y)

    message = config_error({"name": "npz", "path": "data.npz"}, "data.y", base_dir=tmp_path)

    assert "out of range" in message and "label -1" in message and "row 3" in message
