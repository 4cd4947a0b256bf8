"""Time series: numeric columns in time order, cut into look-back windows and split by time.

A sample is ``window`` consecutive rows of the ``features`` columns, shaped (window, features),
and its target is the ``target`` columns ``horizon`` rows after the window's last row (1: the
next row). The rows are split in time order, never shuffled: the first ones train, the next
ones validate and the last ones test (``val_fraction`` and ``test_fraction`` of the rows), and
every window lies inside one part with its target, so that no sample of a later part lends its
values to an earlier one. Each part thus gives ``window + horizon - 1`` fewer samples than it
has rows.

The series comes from ``path``, a csv file (a header of column names, then one row per time
step, oldest first) or a .npy array shaped (steps,) or (steps, columns), whose columns are
named by their index; or from ``dataset``, the name of a real series that ships inside
statsmodels (the ``timeseries`` extra): ``sunspots`` (yearly sunspot numbers, 1700-2008) or
``elnino`` (monthly sea surface temperature off Peru, 1950-2010, as one column).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.exceptions import MissingExtraError
from tunelab.registry import did_you_mean
from tunelab.torch.data.base import (
    DataSplit,
    is_integer,
    is_list,
    option_error,
    resolve_path,
    unreadable_file,
)
from tunelab.torch.data.split import data_split, part_sizes
from tunelab.torch.data.tabular import _csv_column, _csv_feature, _read_csv

TIMESERIES_OPTIONS: dict[str, Any] = {
    "path": None, "dataset": None, "features": None, "target": None, "window": None,
    "horizon": 1, "delimiter": ",",
}
STATSMODELS_SERIES = ("sunspots", "elnino")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


@dataclass(frozen=True)
class Series:
    """Numeric columns over time (float64, a row per step) and where each row came from."""

    values: np.ndarray
    columns: tuple[str, ...]
    locate: Callable[[int], str]


def read_series(options: Mapping[str, Any], base_dir: str | Path | None) -> Series:
    """The series that ``path`` or ``dataset`` names, with the columns that ``features`` and
    ``target`` use (all of them when neither says)."""
    if (options["path"] is None) == (options["dataset"] is None):
        raise option_error("path", "give either path (a csv or .npy file of the series) or "
                           f"dataset (one of {', '.join(STATSMODELS_SERIES)}), not "
                           f"{'both' if options['path'] is not None else 'neither'}.")
    if options["dataset"] is not None:
        return _statsmodels_series(options["dataset"])
    path = resolve_path(options, base_dir, folder=False)
    if path.suffix.lower() == ".npy":
        return _npy_series(path)
    return _csv_series(path, options)


def window_split(series: Series, options: Mapping[str, Any]) -> DataSplit:
    """Windows of the series and their targets, split by time (see the module docstring)."""
    window, horizon = _window_and_horizon(options)
    features = _chosen_columns(series.columns, options["features"], "features")
    targets = _chosen_columns(series.columns, options["target"], "target")
    span = window + horizon
    n = len(series.values)
    if span > n:
        raise option_error("window", f"a window of {window} rows and a horizon of {horizon} "
                           f"need a series of at least {span} rows, but it has {n}; lower window "
                           "(or horizon), or give a longer series.")
    bounds = part_bounds(n, options)
    names = ("training", "validation", "test")
    for part, (start, stop) in zip(names, bounds):
        if part == "test" and start == stop:
            continue
        if stop - start < span:
            raise option_error("window", f"the {part} part holds rows {start} to {stop - 1} "
                               f"({stop - start} of {n}), fewer than the window of {window} and "
                               f"the horizon of {horizon} need ({span}); lower window, or give "
                               "that part more rows (val_fraction, test_fraction).")
    x_parts, y_parts, rows = [], [], []
    count = 0
    for start, stop in bounds:
        x, y = _windows(series.values[start:stop], window, horizon, features, targets)
        x_parts.append(x)
        y_parts.append(y)
        rows.append(np.arange(count, count + len(x)))
        count += len(x)
    return data_split(
        np.concatenate(x_parts).astype(np.float32),
        np.concatenate(y_parts).astype(np.float32),
        (rows[0], rows[1], rows[2]),
        (),
    )


def part_bounds(n_rows: int, options: Mapping[str, Any]) -> list[tuple[int, int]]:
    """The [start, stop) rows of the training, validation and test parts, in time order."""
    n_train, n_val, _ = part_sizes(n_rows, options)
    return [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n_rows)]


def _windows(
    values: np.ndarray, window: int, horizon: int, features: list[int], targets: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Every window of ``values`` (window, features) and its target row's target columns."""
    span = window + horizon
    if len(values) < span:  # an empty test part
        return np.empty((0, window, len(features))), np.empty((0, len(targets)))
    # (samples, columns, span): each sample's rows, as a view.
    views = np.lib.stride_tricks.sliding_window_view(values, span, axis=0)
    x = views[:, features, :window].transpose(0, 2, 1)
    y = views[:, targets, span - 1]
    return x, y


def _window_and_horizon(options: Mapping[str, Any]) -> tuple[int, int]:
    window, horizon = options["window"], options["horizon"]
    if not is_integer(window) or window < 1:
        raise option_error("window", f"must be the number of past rows each sample looks back "
                           f"on, a whole number >= 1, got {window!r}; e.g. window: 12.")
    if not is_integer(horizon) or horizon < 1:
        raise option_error("horizon", f"must be how many rows after the window the target lies, "
                           f"a whole number >= 1 (1: the next row), got {horizon!r}.")
    return int(window), int(horizon)


def _chosen_columns(columns: tuple[str, ...], chosen: Any, option: str) -> list[int]:
    """Indices of the columns an option lists (a name or a list of names; all if None)."""
    if chosen is None:
        return list(range(len(columns)))
    names = list(chosen) if is_list(chosen) else [chosen]
    if not names:
        raise option_error(option, "must name at least one column; leave it out to use them all.")
    indices = []
    for name in names:
        text = str(name)  # a .npy array's columns are named by index: 0 and "0" alike
        if text not in columns:
            raise option_error(option, f"{name!r} is not a column of the series"
                               f"{did_you_mean(text, columns)}; its columns are: "
                               f"{', '.join(columns)}.")
        indices.append(columns.index(text))
    return indices


def _csv_series(path: Path, options: Mapping[str, Any]) -> Series:
    delimiter = options["delimiter"]
    header, rows, lines = _read_csv(path, delimiter)

    def locate(row: int) -> str:
        return f"line {lines[row]} of {path}"

    # Only the columns in use must be numbers: a date column may stay as it is.
    used: list[str] = []
    for option in ("features", "target"):
        chosen = options[option]
        names = header if chosen is None else list(chosen) if is_list(chosen) else [chosen]
        used += [_csv_column(header, name, option, delimiter) for name in names]
    columns = tuple(dict.fromkeys(used))
    values = np.column_stack([_csv_feature(rows, header.index(name), name, locate)
                              for name in columns])
    return Series(values, columns, locate)


def _npy_series(path: Path) -> Series:
    try:
        values = np.load(path, allow_pickle=False)
    except OSError as error:
        raise unreadable_file(path, error) from None
    except (ValueError, EOFError):
        raise option_error("path", f"{path} is not a .npy array of numbers; save the series "
                           "with numpy.save(path, array), a row per time step.") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "biuf" or not (
        1 <= values.ndim <= 2
    ) or values.size == 0:
        shape = getattr(values, "shape", None)
        raise option_error("path", f"{path} holds {getattr(values, 'dtype', 'no array')} with "
                           f"shape {shape}; a series is numbers shaped (steps,) or (steps, "
                           "columns).")
    values = values.reshape(len(values), -1).astype(np.float64)
    columns = tuple(str(index) for index in range(values.shape[1]))
    return Series(values, columns, lambda row: f"row {row} of {path}")


def _statsmodels_series(name: Any) -> Series:
    if name not in STATSMODELS_SERIES:
        hint = did_you_mean(name, STATSMODELS_SERIES) if isinstance(name, str) else ""
        raise option_error("dataset", f"unknown series {name!r}{hint}; choose one of: "
                           f"{', '.join(STATSMODELS_SERIES)}.")
    try:
        module = importlib.import_module(f"statsmodels.datasets.{name}")
    except ImportError as exc:
        raise MissingExtraError("statsmodels", "timeseries", f"data 'timeseries' {name}") from exc
    frame = module.load_pandas().data
    years = frame["YEAR"].to_numpy().astype(int)
    if name == "sunspots":
        return Series(frame[["SUNACTIVITY"]].to_numpy(np.float64), ("SUNACTIVITY",),
                      lambda row: f"year {years[row]} of sunspots")
    # elnino is a row per year and a column per month: read in time order as one column.
    values = frame[list(_MONTHS)].to_numpy(np.float64).reshape(-1, 1)
    return Series(values, ("temperature",),
                  lambda row: f"{_MONTHS[row % 12]} {years[row // 12]} of elnino")

