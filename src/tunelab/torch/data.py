"""Datasets for the training engine, checked, split and held in memory as tensors.

Everything a data spec can get wrong (a missing file, a misspelt column, a NaN, a label out of
range, a class too small to stratify) is found here, before the first trial starts, and reported
as a :class:`~tunelab.exceptions.ConfigError` that names the option at fault. A study that would
otherwise fail in every trial, or worse train on garbage, fails once with a message saying what to
fix. Data live in memory as tensors so that a trial spends its time training, not in a loader.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import numbers
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import torch
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.registry import did_you_mean

try:
    from sklearn.datasets import (
        load_breast_cancer,
        load_diabetes,
        load_digits,
        load_iris,
        load_wine,
    )
    from sklearn.model_selection import train_test_split
except ImportError as exc:
    raise MissingExtraError("scikit-learn", "torch", "tunelab.torch.data") from exc

TASKS = ("classification", "regression")
BUILTIN_DATASETS = ("digits", "digits_images", "iris", "wine", "breast_cancer", "diabetes")
NORMALIZATIONS = ("none", "standardize", "minmax")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")

# A numeric csv target with at most this many distinct whole values is taken for class labels.
MAX_INFERRED_CLASSES = 20

_COMMON_OPTIONS: dict[str, Any] = {
    "val_fraction": 0.2,
    "test_fraction": 0.0,
    "seed": 0,
    "classes": None,
    "train_per_class": None,
    "n_classes": None,
}
_FILE_OPTIONS: dict[str, dict[str, Any]] = {
    "csv": {"path": None, "target": None, "features": None, "task": None, "delimiter": ","},
    "npz": {"path": None, "x": "x", "y": "y", "task": None},
    "image_folder": {"path": None, "size": None, "grayscale": True},
}
_CLASSIFICATION_ONLY = ("classes", "train_per_class", "n_classes")
_EXPECTED_LAYOUT = "path/<class>/<image>.png, one subfolder per class"


@dataclass(frozen=True)
class DataSplit:
    """A dataset split into training, validation and (possibly empty) test parts.

    Features are float32, ``(N, features)`` or ``(N, C, H, W)``. Classification labels are int64
    class indices in ``[0, n_classes)``, the form cross-entropy expects; regression targets are
    float32 ``(N, n_targets)``, the form a mean-squared-error loss expects.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str
    n_classes: int | None
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.task in TASKS, self.task
        assert (self.n_classes is None) == (self.task == "regression"), self.n_classes

    @property
    def n_outputs(self) -> int:
        """How many outputs a model needs: one logit per class, or one value per target."""
        if self.n_classes is not None:
            return self.n_classes
        return self.y_train.shape[1]


@dataclass(frozen=True)
class _Source:
    """What a source read, before labels are checked and the rows are split."""

    x: np.ndarray  # float32, (N, F) or (N, C, H, W)
    y: np.ndarray  # int64 (N,) for classification, float32 (N, T) for regression
    task: str
    class_names: tuple[str, ...]  # by index; empty where the labels are bare integers
    x_field: str  # the options the features and labels came from, e.g. "target", for errors
    y_field: str
    locate: Callable[[int], str]  # where row i came from: "row 3", a csv line, an image file
    columns: tuple[str, ...] = ()  # csv feature names, so that an error can name the column


def _error(option: str, message: str) -> ConfigError:
    return ConfigError(f"data.{option}: {message}", field=f"data.{option}")


# --- the spec and the options every source shares ---------------------------------------------


def load_data(spec: str | Mapping[str, Any], *, base_dir: str | Path | None = None) -> DataSplit:
    """Load, check and split the dataset that ``spec`` names.

    ``spec`` is a name (one of :data:`BUILTIN_DATASETS`, or ``csv``, ``npz``, ``image_folder``
    with their options) or a mapping ``{name: ..., **options}``. Relative paths are resolved
    against ``base_dir`` (the study file's folder, say) when it is given.

    The split is seeded and, for classification, stratified. The test part
    (``test_fraction`` of all rows) is split off first, then the validation part
    (``val_fraction`` of all rows) from the remainder, so the test part does not move when
    ``val_fraction`` changes. ``classes`` keeps the listed classes (an integer is a class index,
    text a class name) and renumbers them 0..k-1 in the given order; ``train_per_class`` then
    thins the training part only (a class with fewer keeps them all), so that validation and
    test stay the same as without it.
    """
    name, options = _parse_spec(spec)
    _check_common_options(options)
    source = _load_source(name, options, base_dir)
    _check_finite(source.x, source.x_field, source.locate, source.columns)
    if source.task == "regression":
        _refuse_classification_options(options)
        _check_finite(source.y, source.y_field, source.locate, ())
        return _split(source.x, source.y, (), options)
    rows, y, class_names = _prepare_labels(source, options)
    return _split(source.x[rows], y, class_names, options)


def _parse_spec(spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The source name and its options, defaults filled in and unknown options refused."""
    if isinstance(spec, str):
        name, given = spec, {}
    elif isinstance(spec, Mapping):
        given = dict(spec)
        name = given.pop("name", None)
        if not isinstance(name, str):
            raise _error("name", f"the name is missing or not text ({name!r}); give it, e.g. "
                         "{name: digits} or {name: csv, path: data.csv, target: label}.")
    else:
        raise ConfigError(
            f"data: {spec!r} is neither a name nor a mapping; give a name such as 'digits', or a "
            "mapping such as {name: csv, path: data.csv, target: label}.",
            field="data",
        )
    sources = BUILTIN_DATASETS + tuple(_FILE_OPTIONS)
    if name not in sources:
        raise _error("name", f"unknown dataset {name!r}{did_you_mean(name, sources)}; choose one "
                     f"of: {', '.join(sources)}.")
    defaults = {**_COMMON_OPTIONS, **_FILE_OPTIONS.get(name, {})}
    for option in given:
        if option not in defaults:
            raise _error(option, f"data '{name}' has no option {option!r}"
                         f"{did_you_mean(option, defaults)}; its options are: "
                         f"{', '.join(defaults)}.")
    return name, {**defaults, **given}


def _check_common_options(options: Mapping[str, Any]) -> None:
    val, test = options["val_fraction"], options["test_fraction"]
    if not _is_real(val) or not 0.0 < val < 1.0:
        raise _error("val_fraction", f"must lie strictly between 0 and 1, got {val!r}; use a "
                     "fraction of all rows such as 0.2.")
    if not _is_real(test) or not 0.0 <= test < 1.0:
        raise _error("test_fraction", f"must lie in [0, 1), got {test!r}; use 0 for no test "
                     "part, or a fraction of all rows such as 0.1.")
    if val + test >= 1.0:
        raise _error("test_fraction", f"val_fraction={val!r} and test_fraction={test!r} add up "
                     "to 1 or more, leaving nothing to train on; lower one of them so that their "
                     "sum stays below 1.")
    seed = options["seed"]
    if not _is_integer(seed) or not 0 <= seed < 2**32:
        raise _error("seed", f"must be a whole number in [0, 2**32), got {seed!r}; use e.g. 0.")
    for option, minimum in (("train_per_class", 1), ("n_classes", 2)):
        value = options[option]
        if value is not None and (not _is_integer(value) or value < minimum):
            raise _error(option, f"must be a whole number of at least {minimum}, got {value!r}.")
    classes = options["classes"]
    if classes is not None and (isinstance(classes, str) or not isinstance(classes, Sequence)
                                or not classes):
        raise _error("classes", f"must be a non-empty list of class names or indices, got "
                     f"{classes!r}; e.g. [cat, dog] or [3, 5].")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _load_source(name: str, options: Mapping[str, Any], base_dir: str | Path | None) -> _Source:
    if name in BUILTIN_DATASETS:
        return _load_builtin(name)
    loaders = {"csv": _load_csv, "npz": _load_npz, "image_folder": _load_image_folder}
    return loaders[name](options, base_dir)


def _refuse_classification_options(options: Mapping[str, Any]) -> None:
    # Only sources with a task option can be switched; a built-in's task is fixed.
    switch = ""
    if "task" in options:
        switch = ", or set task: classification if the targets are class labels"
    for option in _CLASSIFICATION_ONLY:
        if options[option] is not None:
            raise _error(option, f"applies to classification only, but this dataset is a "
                         f"regression; remove {option}{switch}.")


def _check_finite(
    values: np.ndarray, field: str, locate: Callable[[int], str], columns: tuple[str, ...]
) -> None:
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if not bad.any():
        return
    row, column = np.argwhere(bad)[0]
    where = f"{locate(row)}, column {columns[column]!r}" if columns else locate(row)
    raise _error(field, f"{int(bad.sum())} NaN or infinite value(s); the first is at {where}. "
                 "Training on them would turn the loss into NaN; fill in or drop those values "
                 "before loading.")


# --- labels -------------------------------------------------------------------------------------


def _prepare_labels(
    source: _Source, options: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The rows to keep, their labels (renumbered when ``classes`` is given) and class names."""
    n_classes = _check_label_range(source, options["n_classes"])
    # Bare integer labels are named by their index, so that every class has a name.
    names = source.class_names + tuple(map(str, range(len(source.class_names), n_classes)))
    rows = np.arange(len(source.y))
    y = source.y
    if options["classes"] is not None:
        chosen = [_class_index(label, names) for label in options["classes"]]
        if len(set(chosen)) < len(chosen):
            twice = next(names[i] for i in chosen if chosen.count(i) > 1)
            raise _error("classes", f"lists class {twice!r} twice; list each class once.")
        renumber = np.full(len(names), -1, dtype=np.int64)
        renumber[chosen] = np.arange(len(chosen))
        rows = np.flatnonzero(renumber[y] >= 0)
        y = renumber[y[rows]]
        names = tuple(names[index] for index in chosen)
    present = np.unique(y)
    if len(present) < 2:
        field = "classes" if options["classes"] is not None else source.y_field
        raise _error(field, f"only {len(present)} class(es) left "
                     f"({', '.join(names[i] for i in present) or 'none'}); a classifier needs at "
                     "least 2 classes with samples, so keep more classes or give data with more.")
    return rows, y, names


def _check_label_range(source: _Source, declared: int | None) -> int:
    """The number of classes, after checking that every label is a valid index."""
    y = source.y
    assert y.dtype == np.int64 and y.ndim == 1 and len(y) > 0, (y.dtype, y.shape)
    if y.min() < 0:
        row = int(np.argmin(y))
        raise _error(source.y_field, f"label {y[row]} at {source.locate(row)} is out of range: "
                     "class labels are indices 0..n_classes-1; renumber the labels from 0, or "
                     "store them as text names.")
    if declared is not None and y.max() >= declared:
        row = int(np.argmax(y >= declared))
        label = source.class_names[y[row]] if source.class_names else int(y[row])
        raise _error("n_classes", f"label {label!r} at {source.locate(row)} is out of range: "
                     f"n_classes={declared} allows labels 0..{declared - 1}; raise n_classes to at "
                     f"least {int(y.max()) + 1}, or fix the label.")
    return declared or max(len(source.class_names), int(y.max()) + 1)


def _class_index(label: Any, names: tuple[str, ...]) -> int:
    if _is_integer(label) and 0 <= label < len(names):
        return int(label)
    if isinstance(label, str) and label in names:
        return names.index(label)
    hint = did_you_mean(label, names) if isinstance(label, str) else ""
    raise _error("classes", f"there is no class {label!r}{hint}; the classes are "
                 f"{', '.join(names)} (indices 0..{len(names) - 1}); list names or indices from "
                 "those.")


def _class_labels(
    values: np.ndarray, what: str, locate: Callable[[int], str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Text labels as indices in sorted order, with their names; whole numbers as they are."""
    if values.dtype.kind in "US":
        names, indices = np.unique(values, return_inverse=True)
        return indices.astype(np.int64), tuple(str(name) for name in names)
    if values.dtype.kind == "f":
        fractional = np.flatnonzero(~np.isfinite(values) | (values != np.round(values)))
        if fractional.size:
            row = fractional[0]
            raise _error("task", f"classification needs whole-number or text labels, but {what} "
                         f"holds {values[row].item()!r} at {locate(row)}; set task: regression "
                         "for a numeric target, or round the labels.")
    return values.astype(np.int64), ()


def _check_task(task: Any) -> None:
    if task is not None and task not in TASKS:
        raise _error("task", f"unknown task {task!r}{did_you_mean(str(task), TASKS)}; choose one "
                     f"of: {', '.join(TASKS)}, or leave it out to infer it from the labels.")


# --- splitting ----------------------------------------------------------------------------------


def _split(
    x: np.ndarray, y: np.ndarray, class_names: tuple[str, ...], options: Mapping[str, Any]
) -> DataSplit:
    classification = y.ndim == 1
    n_train, n_val, n_test = _part_sizes(len(y), options)
    if classification:
        _check_class_sizes(y, class_names, 3 if n_test else 2, options)
    minimum = len(np.unique(y)) if classification else 1
    _check_part_sizes(len(y), (n_train, n_val, n_test), minimum, options)
    seed = options["seed"]
    rows = np.arange(len(y))
    test: np.ndarray = rows[:0]
    if n_test:
        rows, test = train_test_split(
            rows, test_size=n_test, random_state=seed, stratify=y if classification else None
        )
    if classification:
        _check_rest_after_test(y, rows, class_names, options)
    train, val = train_test_split(
        rows, test_size=n_val, random_state=seed, stratify=y[rows] if classification else None
    )
    if options["train_per_class"] is not None:
        train = _few_per_class(train, y, options["train_per_class"], seed)
    return DataSplit(
        x_train=_tensor(x[train]),
        y_train=_tensor(y[train]),
        x_val=_tensor(x[val]),
        y_val=_tensor(y[val]),
        x_test=_tensor(x[test]),
        y_test=_tensor(y[test]),
        task="classification" if classification else "regression",
        n_classes=len(class_names) if classification else None,
        input_shape=tuple(x.shape[1:]),
        class_names=class_names,
    )


def _part_sizes(n: int, options: Mapping[str, Any]) -> tuple[int, int, int]:
    """Rows in the training, validation and test parts; fractions are of all ``n`` rows."""
    # Rounded first so that float noise (0.7 * 10 = 7.000000000000001) does not add a row.
    n_test = math.ceil(round(options["test_fraction"] * n, 9))
    n_val = math.ceil(round(options["val_fraction"] * n, 9))
    return n - n_val - n_test, n_val, n_test


def _check_part_sizes(
    n: int, sizes: tuple[int, int, int], minimum: int, options: Mapping[str, Any]
) -> None:
    fractions = (f"with {n} samples, val_fraction={options['val_fraction']} and "
                 f"test_fraction={options['test_fraction']}")
    need = (f"fewer than the {minimum} classes that a stratified split puts in every part"
            if minimum > 1 else "but it needs at least one")
    parts = (
        ("training", sizes[0], "val_fraction", "lower val_fraction or test_fraction"),
        ("validation", sizes[1], "val_fraction", "raise val_fraction"),
        ("test", sizes[2], "test_fraction", "raise test_fraction"),
    )
    for part, size, option, fix in parts:
        if part == "test" and options["test_fraction"] == 0:
            continue
        if size < minimum:
            raise _error(option, f"{fractions} leave {max(size, 0)} samples for the {part} part, "
                         f"{need}; {fix}, or give more data.")


def _check_class_sizes(
    y: np.ndarray, class_names: tuple[str, ...], n_parts: int, options: Mapping[str, Any]
) -> None:
    counts = np.bincount(y, minlength=len(class_names))
    # Classes that were asked for must all be there; bare integer labels may skip an index.
    needed = np.arange(len(counts)) if options["classes"] is not None else np.flatnonzero(counts)
    for index in needed:
        if counts[index] < n_parts:
            raise _error("classes", f"class {class_names[index]!r} has {counts[index]} "
                         f"sample(s), too few to stratify: each class needs at least {n_parts} "
                         f"(one for each part of the split); give more samples of it, or leave it "
                         "out with classes: [...].")


def _check_rest_after_test(
    y: np.ndarray, rest: np.ndarray, class_names: tuple[str, ...], options: Mapping[str, Any]
) -> None:
    """After the test part is taken, every class must still split into training and validation."""
    left = np.bincount(y[rest], minlength=len(class_names))
    for index in np.flatnonzero((np.bincount(y, minlength=len(class_names)) > 0) & (left < 2)):
        raise _error("test_fraction", f"test_fraction={options['test_fraction']} leaves class "
                     f"{class_names[index]!r} only {left[index]} sample(s) outside the test "
                     "part, too few for training and validation; lower test_fraction, or leave "
                     "that class out with classes: [...].")


def _few_per_class(train: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kept = np.concatenate([
        rng.permutation(train[y[train] == label])[:per_class] for label in np.unique(y[train])
    ])
    return train[np.isin(train, kept)]


def _tensor(array: np.ndarray) -> torch.Tensor:
    assert array.dtype in (np.float32, np.int64), array.dtype
    return torch.from_numpy(np.ascontiguousarray(array))


# --- sources ------------------------------------------------------------------------------------


def _load_builtin(name: str) -> _Source:
    loaders = {
        "digits": load_digits,
        "digits_images": load_digits,
        "iris": load_iris,
        "wine": load_wine,
        "breast_cancer": load_breast_cancer,
        "diabetes": load_diabetes,
    }
    bunch = loaders[name]()
    x = bunch.data.astype(np.float32)
    if name == "digits_images":
        x = x.reshape(-1, 1, 8, 8)
    common = {"x_field": "name", "y_field": "name", "locate": lambda row: f"row {row}"}
    if name == "diabetes":
        y = bunch.target.astype(np.float32).reshape(-1, 1)
        return _Source(x, y, "regression", (), **common)
    names = tuple(str(label) for label in bunch.target_names)
    return _Source(x, bunch.target.astype(np.int64), "classification", names, **common)


def _resolve(options: Mapping[str, Any], base_dir: str | Path | None, folder: bool) -> Path:
    """The absolute path the ``path`` option names, checked to exist as a file or a folder."""
    raw = options["path"]
    expected = "folder of class subfolders" if folder else "file"
    if not isinstance(raw, (str, os.PathLike)) or not str(raw):
        raise _error("path", f"needs the path of the {expected}, got {raw!r}.")
    path = Path(raw).expanduser()
    if base_dir is not None:
        path = Path(base_dir) / path
    path = path.resolve()
    if not path.exists():
        start = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        raise _error("path", f"{path} does not exist (path {str(raw)!r}; relative paths start "
                     f"from {start}); check the spelling, or give the absolute path of the "
                     f"{expected}.")
    if path.is_dir() != folder:
        found = "a folder" if path.is_dir() else "a file"
        raise _error("path", f"{path} is {found}, but a {expected} is needed here.")
    return path


def _load_csv(options: Mapping[str, Any], base_dir: str | Path | None) -> _Source:
    path = _resolve(options, base_dir, folder=False)
    _check_task(options["task"])
    delimiter = options["delimiter"]
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _error("delimiter", f"must be one character such as ',' or ';', got {delimiter!r}.")
    header, rows, lines = _read_csv(path, delimiter)
    target = _csv_column(header, options["target"], "target", delimiter)
    features = _csv_features(header, options["features"], target, delimiter)

    def locate(row: int) -> str:
        return f"line {lines[row]} of {path}"

    x = np.column_stack([_csv_feature(rows, header.index(name), name, locate)
                         for name in features])
    y, task, class_names = _csv_target(rows, header.index(target), target, options["task"], locate)
    return _Source(x.astype(np.float32), y, task, class_names, "features", "target",
                   locate, tuple(features))


def _read_csv(path: Path, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, data rows and each row's line number; blank lines are skipped."""
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
                    raise _error("path", f"line {reader.line_num} of {path} has {len(row)} "
                                 f"fields but the header has {len(header)}; give every row one "
                                 "value per column.")
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise _error("path", f"{path} is not UTF-8 text; save it as a UTF-8 csv file.") from None
    if not rows:
        raise _error("path", f"{path} has no data rows; a csv file needs a header line of column "
                     "names followed by one line per sample.")
    return header, rows, lines


def _csv_column(header: list[str], name: Any, option: str, delimiter: str) -> str:
    if isinstance(name, str) and name in header:
        return name
    hint = did_you_mean(name, header) if isinstance(name, str) else ""
    problem = "is missing" if name is None else f"{name!r} is not a column{hint}"
    single = (f" The header has a single column; if the file is not separated by "
              f"{delimiter!r}, set delimiter." if len(header) == 1 else "")
    raise _error(option, f"{problem}; the columns are: {', '.join(header)}.{single}")


def _csv_features(header: list[str], features: Any, target: str, delimiter: str) -> list[str]:
    if features is None:
        others = [name for name in header if name != target]
        if not others:
            raise _error("features", f"the file has no column besides the target {target!r}; "
                         "add feature columns to it.")
        return others
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise _error("features", f"must be a non-empty list of column names, got {features!r}.")
    chosen = [_csv_column(header, name, "features", delimiter) for name in features]
    if target in chosen:
        raise _error("features", f"lists the target column {target!r}; a model must not see its "
                     "own label, so remove it from features.")
    return chosen


def _csv_feature(
    rows: list[list[str]], index: int, name: str, locate: Callable[[int], str]
) -> np.ndarray:
    cells = [row[index] for row in rows]
    values = _as_numbers(cells)
    if values is None:
        row = _first_non_number(cells)
        bad = "an empty cell" if not cells[row].strip() else f"the non-numeric value {cells[row]!r}"
        raise _error("features", f"column {name!r} holds {bad} at {locate(row)}; features must "
                     "be numbers, so encode that column as numbers or leave it out with "
                     "features: [...].")
    return values


def _csv_target(
    rows: list[list[str]], index: int, name: str, task: str | None, locate: Callable[[int], str]
) -> tuple[np.ndarray, str, tuple[str, ...]]:
    cells = [row[index].strip() for row in rows]
    if "" in cells:
        raise _error("target", f"column {name!r} has an empty cell at {locate(cells.index(''))}; "
                     "every sample needs a label, so fill it in or drop that line.")
    values = _as_numbers(cells)
    if task is None:
        task = "classification" if values is None or _few_whole_numbers(values) else "regression"
    if task == "regression":
        if values is None:
            row = _first_non_number(cells)
            raise _error("task", f"regression needs numeric targets, but column {name!r} holds "
                         f"{cells[row]!r} at {locate(row)}; set task: classification for text "
                         "labels.")
        return values.astype(np.float32).reshape(-1, 1), task, ()
    labels, names = _class_labels(np.array(cells) if values is None else values,
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


def _load_npz(options: Mapping[str, Any], base_dir: str | Path | None) -> _Source:
    path = _resolve(options, base_dir, folder=False)
    _check_task(options["task"])
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as error:
        raise _error("path", f"{path} cannot be read ({error.strerror or error}); check that it "
                     "is a file you may read.") from None
    except (ValueError, zipfile.BadZipFile):
        raise _error("path", f"{path} is not a .npz archive of plain arrays; save it with "
                     "numpy.savez(path, x=features, y=labels).") from None
    if isinstance(archive, np.ndarray):
        raise _error("path", f"{path} holds a single array, not an archive of x and y; save it "
                     "with numpy.savez(path, x=features, y=labels).")
    with archive:
        x = _npz_array(archive, options, "x", path)
        y = _npz_array(archive, options, "y", path)

    def locate(row: int) -> str:
        return f"row {row} of {path}"

    if len(x) != len(y) or len(x) == 0:
        raise _error("y", f"{path}: x has {len(x)} rows and y has {len(y)}; give one label per "
                     "sample, and at least one sample.")
    task = options["task"] or ("regression" if y.dtype.kind == "f" else "classification")
    y, class_names = _npz_targets(y, task, path, locate)
    return _Source(_npz_features(x, path), y, task, class_names, "x", "y", locate)


def _npz_array(archive: Any, options: Mapping[str, Any], option: str, path: Path) -> np.ndarray:
    key = options[option]
    if key not in archive.files:
        raise _error(option, f"{path} has no array {key!r}{did_you_mean(str(key), archive.files)}; "
                     f"it holds: {', '.join(archive.files) or 'nothing'}. Set {option} to the "
                     "key of the array to use.")
    try:
        return archive[key]
    except ValueError as error:
        raise _error(option, f"array {key!r} of {path} cannot be loaded ({error}); save it as a "
                     "plain numeric array.") from None


def _npz_features(x: np.ndarray, path: Path) -> np.ndarray:
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3, 4):
        raise _error("x", f"the features in {path} are {x.dtype} with shape {x.shape}; give "
                     "numbers shaped (N, features), (N, H, W) or (N, C, H, W).")
    # A stack of single-channel images comes without its channel axis; models expect one.
    return (x[:, None] if x.ndim == 3 else x).astype(np.float32)


def _npz_targets(
    y: np.ndarray, task: str, path: Path, locate: Callable[[int], str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    if y.dtype.kind not in "biufUS":
        raise _error("y", f"the labels in {path} are {y.dtype}; give integers or text for class "
                     "labels, or floats for regression targets.")
    if task == "regression":
        if y.dtype.kind in "US" or y.ndim not in (1, 2):
            raise _error("y", f"regression needs numeric targets shaped (N,) or (N, targets), "
                         f"but y in {path} is {y.dtype} with shape {y.shape}; fix y, or set "
                         "task: classification for class labels.")
        return y.astype(np.float32).reshape(len(y), -1), ()
    if y.ndim != 1 and y.shape[1:] != (1,):
        raise _error("y", f"classification needs one label per sample, but y in {path} has shape "
                     f"{y.shape}; give labels shaped (N,), or set task: regression.")
    values = y.reshape(-1)
    return _class_labels(values.astype(np.int64) if values.dtype.kind == "b" else values,
                         "y", locate)


def _load_image_folder(options: Mapping[str, Any], base_dir: str | Path | None) -> _Source:
    root = _resolve(options, base_dir, folder=True)
    grayscale = options["grayscale"]
    if not isinstance(grayscale, bool):
        raise _error("grayscale", f"must be true or false, got {grayscale!r}.")
    size = _image_size(options["size"])
    files, labels, class_names = _image_files(root)
    size = size or _size_of(files[0])
    mode = "L" if grayscale else "RGB"
    x = np.stack([_read_image(file, mode, size) for file in files])
    return _Source(x, np.array(labels, dtype=np.int64), "classification", class_names,
                   "path", "path", lambda row: str(files[row]))


def _image_files(root: Path) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Every image with its class index; a class is a subfolder, in sorted order."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise _error("path", f"{root} has no class subfolders ({_contents(root)}); lay the images "
                     f"out as {_EXPECTED_LAYOUT}.")
    files: list[Path] = []
    labels: list[int] = []
    for index, folder in enumerate(folders):
        images = sorted(p for p in folder.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise _error("path", f"the class folder {folder} holds no images ({_contents(folder)});"
                         f" lay the images out as {_EXPECTED_LAYOUT}, with extensions "
                         f"{', '.join(IMAGE_EXTENSIONS)}.")
        files += images
        labels += [index] * len(images)
    return files, labels, tuple(folder.name for folder in folders)


def _contents(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return "it is empty"
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"it holds {', '.join(names[:5])}{more}"


def _image_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    if (isinstance(size, str) or not isinstance(size, Sequence) or len(size) != 2
            or not all(_is_integer(side) and side > 0 for side in size)):
        raise _error("size", f"must be [height, width] in pixels, got {size!r}; e.g. [28, 28].")
    return int(size[0]), int(size[1])


def _pillow() -> Any:
    # Imported on first use: only image folders need Pillow.
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingExtraError("Pillow", "torch", "data 'image_folder'") from exc
    return Image


def _size_of(file: Path) -> tuple[int, int]:
    """(height, width) of an image, read from its header."""
    try:
        with _pillow().open(file) as image:
            return image.height, image.width
    except (OSError, ValueError) as error:
        raise _unreadable(file, error) from None


def _read_image(file: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    """The image as float32 (C, H, W) in [0, 1], converted to ``mode`` and resized."""
    try:
        with _pillow().open(file) as image:
            converted = image.convert(mode)
            if converted.size != (size[1], size[0]):  # Pillow sizes are (width, height)
                converted = converted.resize((size[1], size[0]))
            pixels = np.asarray(converted, dtype=np.float32) / 255.0
    except (OSError, ValueError) as error:
        raise _unreadable(file, error) from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _unreadable(file: Path, error: Exception) -> ConfigError:
    return _error("path", f"cannot read the image {file} ({error}); replace it with a valid "
                  "image, or remove it from the folder.")


# --- normalization ------------------------------------------------------------------------------


def normalize(split: DataSplit, mode: str) -> DataSplit:
    """The split with its features rescaled by statistics of the training part only.

    ``standardize`` gives zero mean and unit variance, ``minmax`` the range [0, 1], per feature
    for vectors and per channel for images; ``none`` returns the split as it is. Validation and
    test features go through the same shift and scale, so no information about them leaks into
    training. A feature that is constant in training keeps a scale of 1 and so becomes 0 there,
    not NaN. Targets are left alone.
    """
    if mode not in NORMALIZATIONS:
        raise ConfigError(
            f"normalization: unknown mode {mode!r}{did_you_mean(str(mode), NORMALIZATIONS)}; "
            f"choose one of: {', '.join(NORMALIZATIONS)}.",
            field="normalization",
        )
    if mode == "none":
        return split
    shift, scale = _statistics(split.x_train, mode)
    return dataclasses.replace(
        split,
        x_train=(split.x_train - shift) / scale,
        x_val=(split.x_val - shift) / scale,
        x_test=(split.x_test - shift) / scale,
    )


def _statistics(x_train: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift and scale, shaped to broadcast over (N, F) or (N, C, H, W)."""
    assert len(x_train) > 0
    dims = [dim for dim in range(x_train.dim()) if dim != 1]
    x = x_train.double()  # sums of many float32 values lose digits
    low = x.amin(dim=dims, keepdim=True)
    high = x.amax(dim=dims, keepdim=True)
    if mode == "standardize":
        shift, scale = x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True, correction=0)
    else:
        shift, scale = low, high - low
    # Compare extremes, not the spread: a rounded mean leaves a tiny nonzero spread on a constant.
    constant = low == high
    shift = torch.where(constant, low, shift)
    scale = torch.where(constant, torch.ones_like(scale), scale)
    return shift.float(), scale.float()
