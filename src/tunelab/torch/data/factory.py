"""A user's own datasets: ``data: {name: "package.module:function", ...}``.

The function returns ``torch.utils.data.Dataset``s whose items are pairs (input, label): the
parts already split, as a tuple ``(train, val)`` or ``(train, val, test)`` or a mapping with
those keys; or one dataset, which is split like a file is (seeded, by ``val_fraction`` and
``test_fraction``, stratified by class). The data spec's options other than the common ones are
the function's keyword arguments.

Labels are read cheaply where a dataset has them as a ``targets`` attribute (as torchvision's
do); otherwise one pass over the dataset (or the training part) reads them, and says so. The
task is inferred from the first label (an integer is a class, a float a regression target)
unless ``task`` is given; the number of classes from ``n_classes``, else the dataset's
``classes`` attribute, else the largest label.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset

from tunelab.exceptions import TunelabError
from tunelab.torch.data.base import LazySource, check_task, option_error
from tunelab.torch.data.streaming import (
    PARTS,
    STREAM_OPTIONS,
    Collate,
    Indexed,
    LoaderOptions,
    StreamedSplit,
)

FACTORY_OPTIONS: dict[str, Any] = {**STREAM_OPTIONS, "task": None}
_RETURNS = ("a Dataset, a tuple (train, val) or (train, val, test) of Datasets, or a mapping "
            "{train: ..., val: ..., test: ...}")
logger = logging.getLogger("tunelab")


def is_factory(name: str) -> bool:
    """Whether a data name is a function's ``module:function`` rather than a source's name."""
    return ":" in name


def call_factory(
    name: str, options: Mapping[str, Any], reserved: Sequence[str]
) -> Dataset[Any] | dict[str, Dataset[Any]]:
    """What the function returns when called with the options that are not ``reserved``: one
    dataset, or the parts by name."""
    from tunelab.torch.models import import_factory

    check_task(options["task"])
    factory = import_factory(name, "data.name", f"returns {_RETURNS}")
    arguments = {key: value for key, value in options.items() if key not in reserved}
    try:
        inspect.signature(factory).bind(**arguments)
    except TypeError as error:
        raise option_error("name", f"{name!r} cannot be called with the options "
                           f"{sorted(arguments)} ({error}); give the keyword arguments that "
                           f"its signature {inspect.signature(factory)} takes.") from None
    except ValueError:  # a builtin without a signature: let the call say
        pass
    try:
        returned = factory(**arguments)
    except TunelabError:
        raise
    except Exception as error:
        raise option_error("name", f"{name!r} raised {type(error).__name__}: {error}; fix the "
                           "function (it runs before any trial), or its options.") from None
    return _parts(name, returned)


def single_source(name: str, dataset: Dataset[Any], options: Mapping[str, Any]) -> LazySource:
    """One dataset as a source to split, its labels read (cheaply where it can)."""
    input_shape, task = _first_item(name, dataset, "train", options["task"])
    labels = _labels(dataset, "the dataset", task, options)
    y, class_names = labels, _class_names(dataset)

    def locate(row: int) -> str:
        return f"item {row} of the dataset"

    return LazySource(y, task, class_names, "name", "name", locate, input_shape,
                      lambda rows, part_labels: Relabelled(dataset, rows, part_labels))


def split_parts(
    name: str, parts: dict[str, Dataset[Any]], options: Mapping[str, Any]
) -> StreamedSplit:
    """Parts the function split itself, checked up to what reading them all would cost."""
    for option in ("classes", "train_per_class"):
        if options[option] is not None:
            raise option_error(option, f"applies to a dataset that tunelab splits, but {name!r} "
                               f"returns the parts already split; remove {option}, or choose "
                               "the samples in the function.")
    input_shape, task = _first_item(name, parts["train"], "train", options["task"])
    y_train = _labels(parts["train"], "the training part", task, options)
    n_classes = None
    if task == "classification":
        n_classes = _n_classes(parts["train"], y_train, options)
    return StreamedSplit(
        parts["train"], parts["val"], parts.get("test") or _EMPTY, task, n_classes, input_shape,
        y_train, LoaderOptions.parse(options), "name", "name",
        class_names=_class_names(parts["train"]) or tuple(map(str, range(n_classes or 0))),
    )


class Relabelled(Dataset[Any]):
    """Rows of a dataset with new labels (renumbered classes, checked targets)."""

    def __init__(self, dataset: Dataset[Any], rows: np.ndarray, labels: np.ndarray) -> None:
        self.dataset, self.rows, self.labels = dataset, rows, labels

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.dataset[int(self.rows[index])][0], self.labels[index]

    def locate(self, index: int) -> str:
        return f"item {self.rows[index]} of the dataset"


class _Empty(Dataset[Any]):
    def __len__(self) -> int:
        return 0

    def __getitem__(self, index: int) -> Any:
        raise IndexError(index)


_EMPTY = _Empty()


def _parts(name: str, returned: Any) -> Dataset[Any] | dict[str, Dataset[Any]]:
    if isinstance(returned, Mapping):
        unknown = sorted(set(returned) - set(PARTS))
        if unknown or not {"train", "val"} <= set(returned):
            raise option_error("name", f"{name!r} returned a mapping with keys "
                               f"{sorted(returned)}; it needs train and val, and may have test.")
        parts = dict(returned)
    elif isinstance(returned, (tuple, list)) and len(returned) in (2, 3):
        parts = dict(zip(PARTS, returned))
    elif isinstance(returned, (tuple, list)):
        raise option_error("name", f"{name!r} returned {len(returned)} datasets; return "
                           f"{_RETURNS}.")
    else:
        return _checked_dataset(name, returned, "dataset")
    returned_type = type(returned).__name__
    return {part: _checked_dataset(name, dataset, f"a {returned_type} whose {part} part is")
            for part, dataset in parts.items()}


def _checked_dataset(name: str, dataset: Any, part: str) -> Dataset[Any]:
    """``dataset`` checked to be a map-style dataset; ``part`` says where it was returned."""
    what = f"{name!r} returned {part}" if part != "dataset" else f"{name!r} returned"
    if isinstance(dataset, IterableDataset):
        raise option_error("name", f"{what} an IterableDataset, which has no length to split "
                           "or index; return a map-style Dataset (__getitem__ and __len__).")
    if not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
        raise option_error("name", f"{what} a {type(dataset).__name__}; return {_RETURNS}.")
    if len(dataset) == 0 and not part.endswith("test part is"):
        raise option_error("name", f"{what} an empty dataset; give it at least one item.")
    return dataset


def _first_item(
    name: str, dataset: Dataset[Any], part: str, task: str | None
) -> tuple[tuple[int, ...], str]:
    """The input shape and the task, from the first item."""
    try:
        item = dataset[0]
    except TunelabError:
        raise
    except Exception as error:
        raise option_error("name", f"reading item 0 of the {part} part of {name!r} raised "
                           f"{type(error).__name__}: {error}; fix the dataset.") from None
    collated = Collate(part, "name", None, task != "regression")([(0, item)])
    if not isinstance(collated, tuple):
        collated.raise_error()
    x = torch.as_tensor(item[0])
    if x.dtype == torch.bool or x.is_complex() or not x.dim():
        raise option_error("name", f"item 0 of the {part} part of {name!r} has an input of "
                           f"dtype {x.dtype} and shape {tuple(x.shape)}; give a numeric array "
                           "per item, shaped (features,) or (C, H, W).")
    label = torch.as_tensor(item[1])
    inferred = "regression" if label.is_floating_point() else "classification"
    return tuple(x.shape), task or inferred


def _labels(
    dataset: Dataset[Any], what: str, task: str, options: Mapping[str, Any]
) -> np.ndarray:
    """Every label of the dataset: its ``targets`` if it has them, else read in one pass."""
    size = len(dataset)  # type: ignore[arg-type]
    targets = getattr(dataset, "targets", None)
    if targets is not None and len(targets) == size:
        y = np.asarray(targets.cpu() if torch.is_tensor(targets) else targets)
    else:
        logger.info("Reading the labels of %s (%d items) in one pass: it has no targets "
                    "attribute to read them from.", what, size)
        classification = task == "classification"
        collate = Collate("train", "name", None, classification)
        loader = LoaderOptions.parse(options).loader(Indexed(dataset), 1024, collate,
                                                     torch.device("cpu"))
        batches = []
        for batch in loader:
            if not isinstance(batch, tuple):
                batch.raise_error()
            batches.append(batch[2].numpy())
        y = np.concatenate(batches)
    if task == "classification":
        return y.astype(np.int64).reshape(-1)
    return y.astype(np.float32).reshape(len(y), -1)


def _class_names(dataset: Dataset[Any]) -> tuple[str, ...]:
    classes = getattr(dataset, "classes", None)
    return tuple(map(str, classes)) if isinstance(classes, Sequence) else ()


def _n_classes(dataset: Dataset[Any], y: np.ndarray, options: Mapping[str, Any]) -> int:
    """The number of classes, the training labels checked against it."""
    declared = options["n_classes"] or len(_class_names(dataset)) or None
    n_classes = declared or int(y.max()) + 1
    bad = np.flatnonzero((y < 0) | (y >= n_classes))
    if bad.size:
        raise option_error("n_classes" if options["n_classes"] else "name",
                           f"label {y[bad[0]]} of item {bad[0]} of the training part is out of "
                           f"range: class labels are indices 0..{n_classes - 1}; renumber the "
                           "labels from 0, or set n_classes.")
    if len(np.unique(y)) < 2:
        raise option_error("name", f"the training part has labels of {len(np.unique(y))} "
                           "class; a classifier needs at least 2 classes with samples.")
    return n_classes
