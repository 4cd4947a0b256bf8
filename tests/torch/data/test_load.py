from __future__ import annotations

import numpy as np
import pytest

from .helpers import config_error, numeric_rows, write_csv


def test_classification_options_are_refused_for_regression():
    message = config_error({"name": "diabetes", "train_per_class": 3}, "data.train_per_class")
    assert "regression" in message


def test_unknown_dataset_name_lists_the_names():
    message = config_error("digts", "data.name")
    assert "did you mean 'digits'?" in message
    assert "iris" in message and "image_folder" in message


def test_unknown_option_lists_the_options():
    message = config_error({"name": "iris", "val_fractoin": 0.1}, "data.val_fractoin")
    assert "did you mean 'val_fraction'?" in message and "train_per_class" in message


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction", "field"),
    [
        (0.0, 0.0, "data.val_fraction"),
        (1.0, 0.0, "data.val_fraction"),
        (-0.1, 0.0, "data.val_fraction"),
        ("0.2", 0.0, "data.val_fraction"),
        (0.2, -0.1, "data.test_fraction"),
        (0.2, 1.0, "data.test_fraction"),
        (0.6, 0.4, "data.test_fraction"),
    ],
)
def test_bad_fractions_are_refused(val_fraction, test_fraction, field):
    spec = {"name": "iris", "val_fraction": val_fraction, "test_fraction": test_fraction}
    assert "fraction" in config_error(spec, field)


def test_nan_in_features_names_count_line_and_column(tmp_path):
    rows = numeric_rows()
    rows[2][1] = "nan"
    rows[5][1] = "inf"
    path = write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": path, "target": "label"}, "data.features")

    assert "2 NaN or infinite" in message
    assert f"line 4 of {path}" in message and "column 'b'" in message


def test_nan_in_npz_features_names_the_row(tmp_path):
    x = np.ones((10, 2))
    x[7, 1] = np.nan
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(10) % 2)

    message = config_error({"name": "npz", "path": "data.npz"}, "data.x", base_dir=tmp_path)

    assert "1 NaN or infinite" in message and "row 7" in message
