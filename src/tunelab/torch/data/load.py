"""The data spec: which source to read, the options every source shares, and the order in which
a dataset is read, checked and split, held in memory or streamed from disk."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean
from tunelab.torch.data.arrays import (
    NPY_OPTIONS,
    NPZ_OPTIONS,
    lazy_npy,
    lazy_npz,
    load_npy,
    load_npz,
)
from tunelab.torch.data.base import (
    DataSplit,
    LazySource,
    Source,
    float32_bytes,
    is_integer,
    is_list,
    is_real,
    option_error,
)
from tunelab.torch.data.builtin import BUILTIN_DATASETS, load_builtin
from tunelab.torch.data.domain import DOMAIN_OPTIONS, check_domain_options, shift_domain
from tunelab.torch.data.factory import (
    FACTORY_OPTIONS,
    call_factory,
    is_factory,
    single_source,
    split_parts,
)
from tunelab.torch.data.images import IMAGE_FOLDER_OPTIONS, lazy_image_folder, load_image_folder
from tunelab.torch.data.labels import prepare_labels
from tunelab.torch.data.split import data_split, split, split_rows
from tunelab.torch.data.streaming import (
    STREAM_OPTIONS,
    LoaderOptions,
    StreamedSplit,
    materialize,
    wants_streaming,
)
from tunelab.torch.data.tabular import CSV_OPTIONS, load_csv
from tunelab.torch.data.text import TEXT_OPTIONS, build_vocabulary, encode, read_text
from tunelab.torch.data.timeseries import TIMESERIES_OPTIONS, read_series, window_split

logger = logging.getLogger("tunelab")

_COMMON_OPTIONS: dict[str, Any] = {
    "val_fraction": 0.2,
    "test_fraction": 0.0,
    "seed": 0,
    "classes": None,
    "train_per_class": None,
    "n_classes": None,
    **DOMAIN_OPTIONS,
}
_CLASSIFICATION_ONLY = ("classes", "train_per_class", "n_classes")


class _FileSource(NamedTuple):
    """A source read from a file: its own options with their defaults, its loader, and the
    loader that leaves the features on disk, for the sources that can stream."""

    options: dict[str, Any]
    load: Callable[[Mapping[str, Any], str | Path | None], Source]
    lazy: Callable[[Mapping[str, Any], str | Path | None], LazySource | None] | None = None


_FILE_SOURCES = {
    "csv": _FileSource(CSV_OPTIONS, load_csv),
    "npz": _FileSource({**NPZ_OPTIONS, **STREAM_OPTIONS}, load_npz, lazy_npz),
    "npy": _FileSource({**NPY_OPTIONS, **STREAM_OPTIONS}, load_npy, lazy_npy),
    "image_folder": _FileSource(
        {**IMAGE_FOLDER_OPTIONS, **STREAM_OPTIONS}, load_image_folder, lazy_image_folder
    ),
}
# Sources that split their rows themselves: by time, or before a vocabulary is learnt from the
# training part; their options, by name.
_SEQUENCE_SOURCES = {"timeseries": TIMESERIES_OPTIONS, "text": TEXT_OPTIONS}


def load_data(
    spec: str | Mapping[str, Any], *, base_dir: str | Path | None = None
) -> DataSplit | StreamedSplit:
    """Load, check and split the dataset that ``spec`` names.

    ``spec`` is a name (one of :data:`BUILTIN_DATASETS`, or ``csv``, ``npz``, ``npy``,
    ``image_folder`` with their options, ``timeseries`` and ``text``, see :mod:`.timeseries`
    and :mod:`.text`, or a user's ``module:function``, see :mod:`.factory`) or a mapping
    ``{name: ..., **options}``. Relative paths are resolved
    against ``base_dir`` (the study file's folder, say) when it is given.

    ``npz``, ``npy``, ``image_folder`` and a function's datasets can stay on disk and be read
    in batches (a :class:`~tunelab.torch.data.streaming.StreamedSplit`), as ``stream`` says:
    ``auto`` streams data too large to hold in memory; ``num_workers``, ``pin_memory``,
    ``persistent_workers`` and ``prefetch_factor`` are the ``DataLoader``'s.

    The split is seeded and, for classification, stratified. The test part
    (``test_fraction`` of all rows) is split off first, then the validation part
    (``val_fraction`` of all rows) from the remainder, so the test part does not move when
    ``val_fraction`` changes. ``classes`` keeps the listed classes (an integer is a class index,
    text a class name) and renumbers them 0..k-1 in the given order; ``train_per_class`` then
    thins the training part only (a class with fewer keeps them all), so that validation and
    test stay the same as without it. ``rotate`` (quarter turns in degrees) and ``invert`` shift
    the domain of image data held in memory (see :mod:`.domain`) and leave the split as it is.
    """
    name, options = _parse_spec(spec)
    _check_common_options(options)
    if name == "timeseries":
        _refuse_classification_options(options)
        series = read_series(options, base_dir)
        _check_finite(series.values, "path", series.locate, series.columns)
        return window_split(series, options)
    if name == "text":
        return _load_text(options, base_dir)
    if is_factory(name):
        _refuse_domain_shift(options, f"the datasets of {name} are made by the function",
                             "turn or invert the images in the function")
        return _load_factory(name, options)
    lazy = _FILE_SOURCES[name].lazy if name in _FILE_SOURCES else None
    if lazy is not None and options["stream"] is not False:
        LoaderOptions.parse(options)
        found = lazy(options, base_dir)
        if found is None:
            logger.info("Data held in memory: its features are compressed, so they can only be "
                        "read whole.")
        elif wants_streaming(options["stream"], found.in_memory_bytes, f"{name} data"):
            _refuse_domain_shift(options, f"these {name} data are streamed from disk",
                                 "set stream: false to hold them in memory")
            return _streamed(found, options)
    source = _load_source(name, options, base_dir)
    _check_finite(source.x, source.x_field, source.locate, source.columns)
    source = shift_domain(source, options)
    if source.task == "regression":
        _refuse_classification_options(options)
        _check_finite(source.y, source.y_field, source.locate, ())
        return split(source.x, source.y, (), options, source.columns)
    rows, y, class_names = prepare_labels(source, options)
    return split(source.x[rows], y, class_names, options, source.columns)


def _load_factory(name: str, options: Mapping[str, Any]) -> DataSplit | StreamedSplit:
    """A user function's datasets, streamed or, where small enough, held in memory."""
    LoaderOptions.parse(options)
    returned = call_factory(name, options, (*_COMMON_OPTIONS, *FACTORY_OPTIONS))
    if isinstance(returned, dict):
        data = split_parts(name, returned, options)
        n_items = sum(data.size(part) for part in ("train", "val", "test"))
    else:
        source = single_source(name, returned, options)
        data, n_items = _streamed(source, options), len(source.y)
    size = float32_bytes(n_items, data.input_shape)
    return data if wants_streaming(options["stream"], size, name) else materialize(data)


def _streamed(source: LazySource, options: Mapping[str, Any]) -> StreamedSplit:
    """A source whose features stay on disk, its labels checked and its rows split as
    :func:`load_data` splits those of a source read whole."""
    class_names: tuple[str, ...] = ()
    if source.task == "regression":
        _refuse_classification_options(options)
        _check_finite(source.y, source.y_field, source.locate, ())
        rows, y = np.arange(len(source.y)), source.y
    else:
        rows, y, class_names = prepare_labels(source, options)
    train, val, test = split_rows(y, class_names, options)
    return StreamedSplit(
        source.items(rows[train], y[train]),
        source.items(rows[val], y[val]),
        source.items(rows[test], y[test]),
        source.task,
        len(class_names) if class_names else None,
        source.input_shape,
        y[train],
        LoaderOptions.parse(options),
        source.x_field,
        source.y_field,
        class_names,
    )


def _parse_spec(spec: str | Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The source name and its options, defaults filled in and unknown options refused."""
    if isinstance(spec, str):
        name, given = spec, {}
    elif isinstance(spec, Mapping):
        given = dict(spec)
        name = given.pop("name", None)
        if not isinstance(name, str):
            raise option_error("name", f"the name is missing or not text ({name!r}); give it, "
                               "e.g. {name: digits} or {name: csv, path: data.csv, target: "
                               "label}.")
    else:
        raise ConfigError(
            f"data: {spec!r} is neither a name nor a mapping; give a name such as 'digits', or a "
            "mapping such as {name: csv, path: data.csv, target: label}.",
            field="data",
        )
    if is_factory(name):  # options besides these are the function's arguments
        return name, {**_COMMON_OPTIONS, **FACTORY_OPTIONS, **given}
    sources = BUILTIN_DATASETS + tuple(_FILE_SOURCES) + tuple(_SEQUENCE_SOURCES)
    if name not in sources:
        raise option_error("name", f"unknown dataset {name!r}{did_you_mean(name, sources)}; "
                           f"choose one of: {', '.join(sources)}, or name a function that "
                           "returns datasets as 'package.module:function'.")
    own = _FILE_SOURCES[name].options if name in _FILE_SOURCES else (
        _SEQUENCE_SOURCES.get(name, {}))
    defaults = {**_COMMON_OPTIONS, **own}
    for option in given:
        if option not in defaults:
            raise option_error(option, f"data '{name}' has no option {option!r}"
                               f"{did_you_mean(option, defaults)}; its options are: "
                               f"{', '.join(defaults)}.")
    return name, {**defaults, **given}


def _check_common_options(options: Mapping[str, Any]) -> None:
    val, test = options["val_fraction"], options["test_fraction"]
    if not is_real(val) or not 0.0 < val < 1.0:
        raise option_error("val_fraction", f"must lie strictly between 0 and 1, got {val!r}; use "
                           "a fraction of all rows such as 0.2.")
    if not is_real(test) or not 0.0 <= test < 1.0:
        raise option_error("test_fraction", f"must lie in [0, 1), got {test!r}; use 0 for no "
                           "test part, or a fraction of all rows such as 0.1.")
    if val + test >= 1.0:
        raise option_error("test_fraction", f"val_fraction={val!r} and test_fraction={test!r} "
                           "add up to 1 or more, leaving nothing to train on; lower one of them "
                           "so that their sum stays below 1.")
    check_domain_options(options)
    seed = options["seed"]
    if not is_integer(seed) or not 0 <= seed < 2**32:
        raise option_error("seed", f"must be a whole number in [0, 2**32), got {seed!r}; use "
                           "e.g. 0.")
    for option, minimum in (("train_per_class", 1), ("n_classes", 2)):
        value = options[option]
        if value is not None and (not is_integer(value) or value < minimum):
            raise option_error(option, f"must be a whole number of at least {minimum}, got "
                               f"{value!r}.")
    classes = options["classes"]
    if classes is not None and (not is_list(classes) or not classes):
        raise option_error("classes", f"must be a non-empty list of class names or indices, got "
                           f"{classes!r}; e.g. [cat, dog] or [3, 5].")


def _load_source(name: str, options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    if name in BUILTIN_DATASETS:
        return load_builtin(name)
    return _FILE_SOURCES[name].load(options, base_dir)


def _load_text(options: Mapping[str, Any], base_dir: str | Path | None) -> DataSplit:
    """Texts as token ids over a vocabulary learnt from the training part (see :mod:`.text`)."""
    tokens, source = read_text(options, base_dir)
    class_names: tuple[str, ...]
    if source.task == "regression":
        _refuse_classification_options(options)
        rows, y, class_names = np.arange(len(source.y)), source.y, ()
    else:
        rows, y, class_names = prepare_labels(source, options)
    parts = split_rows(y, class_names, options)
    kept = [tokens[row] for row in rows]
    vocabulary = build_vocabulary((kept[row] for row in parts[0]), options)
    x = encode(kept, vocabulary, options["max_length"])
    return data_split(x, y, parts, class_names, vocabulary=vocabulary)


def _refuse_domain_shift(options: Mapping[str, Any], why: str, fix: str) -> None:
    """``rotate`` and ``invert`` shift a source read whole (``invert`` needs the extremes of
    all of it); refused for data that are not, with ``why`` not and the ``fix``."""
    for option in DOMAIN_OPTIONS:
        if options[option]:
            raise option_error(option, f"applies to image data that tunelab reads whole, but "
                               f"{why}; remove {option}, or {fix}.")


def _refuse_classification_options(options: Mapping[str, Any]) -> None:
    # Only sources with a task option can be switched; a built-in's task is fixed.
    switch = ""
    if "task" in options:
        switch = ", or set task: classification if the targets are class labels"
    for option in _CLASSIFICATION_ONLY:
        if options[option] is not None:
            raise option_error(option, f"applies to classification only, but this dataset is a "
                               f"regression; remove {option}{switch}.")


def _check_finite(
    values: np.ndarray, field: str, locate: Callable[[int], str], columns: tuple[str, ...]
) -> None:
    bad = ~np.isfinite(values.reshape(len(values), -1))
    if not bad.any():
        return
    row, column = np.argwhere(bad)[0]
    where = f"{locate(row)}, column {columns[column]!r}" if columns else locate(row)
    raise option_error(field, f"{int(bad.sum())} NaN or infinite value(s); the first is at "
                       f"{where}. Training on them would turn the loss into NaN; fill in or drop "
                       "those values before loading.")
