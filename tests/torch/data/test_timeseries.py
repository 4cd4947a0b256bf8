from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tunelab.torch.data import load_data
from tunelab.torch.data.timeseries import STATSMODELS_SERIES, part_bounds

from .helpers import config_error, write_csv


def _series(tmp_path, n=100, columns=1):
    values = np.arange(n, dtype=np.float64)[:, None] * (10.0 ** np.arange(columns))
    np.save(tmp_path / "series.npy", values if columns > 1 else values[:, 0])
    return {"name": "timeseries", "path": str(tmp_path / "series.npy")}


def test_windows_look_back_and_targets_lie_horizon_rows_after(tmp_path):
    data = load_data({**_series(tmp_path), "window": 3, "horizon": 2})

    assert data.task == "regression" and data.input_shape == (3, 1)
    assert data.x_train[0, :, 0].tolist() == [0.0, 1.0, 2.0]
    assert data.y_train[0].tolist() == [4.0]  # two rows after the window's last
    assert data.x_train.dtype == data.y_train.dtype == torch.float32


def test_parts_follow_in_time_and_no_window_straddles_a_boundary(tmp_path):
    data = load_data({**_series(tmp_path), "window": 5, "val_fraction": 0.2,
                      "test_fraction": 0.1})

    # 100 rows: training 0-69, validation 70-89, test 90-99, each losing window + horizon - 1.
    assert part_bounds(100, {"val_fraction": 0.2, "test_fraction": 0.1}) == [
        (0, 70), (70, 90), (90, 100)]
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (65, 15, 5)
    for x, y, (start, stop) in [(data.x_train, data.y_train, (0, 70)),
                                (data.x_val, data.y_val, (70, 90)),
                                (data.x_test, data.y_test, (90, 100))]:
        assert x.min() >= start and y.max() <= stop - 1
        assert torch.equal(y[:, 0], x[:, -1, 0] + 1)  # in time order, never shuffled


def test_features_and_targets_choose_columns_of_a_csv_file(tmp_path):
    rows = [[f"2024-01-{day:02d}", day, 100 + day] for day in range(1, 31)]
    path = write_csv(tmp_path / "s.csv", ["date", "load", "price"], rows)

    data = load_data({"name": "timeseries", "path": str(path), "window": 4,
                      "features": ["load", "price"], "target": "price"})

    assert data.input_shape == (4, 2) and data.n_outputs == 1
    assert data.x_train[0].tolist() == [[1, 101], [2, 102], [3, 103], [4, 104]]
    assert data.y_train[0].tolist() == [105.0]


def test_npy_columns_are_named_by_index(tmp_path):
    data = load_data({**_series(tmp_path, columns=2), "window": 2, "target": [1]})

    assert data.input_shape == (2, 2)
    assert data.y_train[0].tolist() == [20.0]


def test_a_window_longer_than_the_series_is_refused(tmp_path):
    message = config_error({**_series(tmp_path, n=30), "window": 40}, "data.window")

    assert "need a series of at least 41 rows, but it has 30" in message


def test_a_part_too_short_for_the_window_names_the_part(tmp_path):
    message = config_error({**_series(tmp_path, n=100), "window": 25, "val_fraction": 0.2},
                           "data.window")

    assert "the validation part holds rows 80 to 99 (20 of 100)" in message


@pytest.mark.parametrize(
    ("options", "field", "words"),
    [
        ({"window": 0}, "data.window", "whole number >= 1"),
        ({"window": 3, "horizon": 0}, "data.horizon", "whole number >= 1"),
        ({"window": 3, "target": "price"}, "data.target", "'price' is not a column"),
        ({"window": 3, "dataset": "sunspots"}, "data.path", "not both"),
        ({"window": 3, "classes": [0, 1]}, "data.classes", "classification only"),
    ],
)
def test_bad_options_are_refused(tmp_path, options, field, words):
    assert words in config_error({**_series(tmp_path), **options}, field)


def test_a_nan_in_the_series_names_its_line(tmp_path):
    rows = [[day, "nan" if day == 7 else day] for day in range(20)]
    path = write_csv(tmp_path / "s.csv", ["day", "value"], rows)

    message = config_error({"name": "timeseries", "path": str(path), "window": 3}, "data.path")

    assert "line 9 of" in message and "'value'" in message


def test_an_unknown_statsmodels_series_lists_the_known_ones():
    message = config_error({"name": "timeseries", "dataset": "sunspot", "window": 3},
                           "data.dataset")

    assert "did you mean 'sunspots'" in message and ", ".join(STATSMODELS_SERIES) in message


def _statsmodels():
    if os.environ.get("CI") == "true":
        import statsmodels  # the timeseries extra is installed in CI: its tests must run

        return statsmodels
    return pytest.importorskip("statsmodels")


@pytest.mark.parametrize(("dataset", "rows"), [("sunspots", 309), ("elnino", 61 * 12)])
def test_statsmodels_series_load_in_time_order(dataset, rows):
    _statsmodels()
    data = load_data({"name": "timeseries", "dataset": dataset, "window": 12})

    assert len(data.x_train) + len(data.x_val) == rows - 2 * 12
    assert data.input_shape == (12, 1)
