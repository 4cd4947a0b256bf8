"""CSV files: a header of column names, one line per sample, numeric features and one target."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import (
    Source,
    check_task,
    is_list,
    option_error,
    resolve_path,
    unreadable_file,
)
from tunelab.torch.data.labels import class_labels

CSV_OPTIONS: dict[str, Any] = {
    "path": None, "target": None, "features": None, "task": None, "delimiter": ",",
}

# A numeric csv target with at most this many distinct whole values is taken for class labels.
MAX_INFERRED_CLASSES = 20


def load_csv(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """The features and target of the csv file that the options name."""
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    delimiter = options["delimiter"]
    header, rows, lines = _read_csv(path, delimiter)
    target = _csv_column(header, options["target"], "target", delimiter)
    features = _csv_features(header, options["features"], target, delimiter)

    def locate(row: int) -> str:
        return f"line {lines[row]} of {path}"

    x = np.column_stack([_csv_feature(rows, header.index(name), name, locate)
                         for name in features])
    y, task, class_names = _csv_target(rows, header.index(target), target, options["task"], locate)
    return Source(x.astype(np.float32), y, task, class_names, "features", "target",
                  locate, tuple(features))


def _read_csv(path: Path, delimiter: Any) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and each row's line number; blank lines are skipped. The delimiter
    (the data option) must be one character."""
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise option_error("delimiter", f"must be one character such as ',' or ';', got "
                           f"{delimiter!r}.")
    try:
        # utf-8-sig drops the byte-order mark that spreadsheet programs put before the header.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            header = [name.strip() for name in next(reader, [])]
            rows: list[list[str]] = []
            lines: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise option_error("path", f"line {reader.line_num} of {path} has {len(row)} "
                                       f"fields but the header has {len(header)}; give every row "
                                       "one value per column.")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise option_error("path", f"{path} is not UTF-8 text; save it as a UTF-8 csv "
                           "file.") from None
    except csv.Error as error:  # a field longer than the csv module reads, say
        raise option_error("path", f"{path} cannot be read as csv ({error}); check its quotes "
                           "and its delimiter.") from None
    except OSError as error:
        raise unreadable_file(path, error) from None
    if not rows:
        raise option_error("path", f"{path} has no data rows; a csv file needs a header line of "
                           "column names followed by one line per sample.")
    return header, rows, lines


def _csv_column(header: list[str], name: Any, option: str, delimiter: str) -> str:
    if isinstance(name, str) and name in header:
        return name
    hint = did_you_mean(name, header) if isinstance(name, str) else ""
    problem = "is missing" if name is None else f"{name!r} is not a column{hint}"
    single = (f" The header has a single column; if the file is not separated by "
              f"{delimiter!r}, set delimiter." if len(header) == 1 else "")
    raise option_error(option, f"{problem}; the columns are: {', '.join(header)}.{single}")


def _csv_features(header: list[str], features: Any, target: str, delimiter: str) -> list[str]:
    if features is None:
        others = [name for name in header if name != target]
        if not others:
            raise option_error("features", f"the file has no column besides the target "
                               f"{target!r}; add feature columns to it.")
        return others
    if not is_list(features) or not features:
        raise option_error("features", f"must be a non-empty list of column names, got "
                           f"{features!r}.")
    chosen = [_csv_column(header, name, "features", delimiter) for name in features]
    if target in chosen:
        raise option_error("features", f"lists the target column {target!r}; a model must not "
                           "see its own label, so remove it from features.")
    return chosen


def _csv_feature(
    rows: list[list[str]], index: int, name: str, locate: Callable[[int], str]
) -> np.ndarray:
    cells = [row[index] for row in rows]
    values = _as_numbers(cells)
    if values is None:
        row = _first_non_number(cells)
        bad = "an empty cell" if not cells[row].strip() else f"the non-numeric value {cells[row]!r}"
        raise option_error("features", f"column {name!r} holds {bad} at {locate(row)}; features "
                           "must be numbers, so encode that column as numbers or leave it out "
                           "with features: [...].")
    return values


def _csv_target(
    rows: list[list[str]], index: int, name: str, task: str | None, locate: Callable[[int], str]
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    cells = [row[index].strip() for row in rows]
    if "" in cells:
        raise option_error("target", f"column {name!r} has an empty cell at "
                           f"{locate(cells.index(''))}; every sample needs a label, so fill it "
                           "in or drop that line.")
    values = _as_numbers(cells)
    if task is None:
        task = "classification" if values is None or _few_whole_numbers(values) else "regression"
    if task == "regression":
        if values is None:
            row = _first_non_number(cells)
            raise option_error("task", f"regression needs numeric targets, but column {name!r} "
                               f"holds {cells[row]!r} at {locate(row)}; set task: classification "
                               "for text labels.")
        return values.astype(np.float32).reshape(-1, 1), task, ()
    labels, names = class_labels(np.array(cells) if values is None else values,
                                 f"column {name!r}", locate)
    return labels, task, names


def _as_numbers(cells: Sequence[str]) -> np.ndarray | None:
    """The cells as float64, or None if one of them is not a number."""
    try:
        return np.array([float(cell) for cell in cells], dtype=np.float64)
    except ValueError:
        return None


def _first_non_number(cells: Sequence[str]) -> int:
    return next(row for row, cell in enumerate(cells) if _as_numbers([cell]) is None)


def _few_whole_numbers(values: np.ndarray) -> bool:
    whole = bool(np.all(np.isfinite(values) & (values == np.round(values))))
    return whole and len(np.unique(values)) <= MAX_INFERRED_CLASSES
