"""Splitting checked rows into training, validation and test tensors, seeded and stratified."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from tunelab.torch.data.base import DataSplit, option_error, sklearn_module


def split(
    x: np.ndarray,
    y: np.ndarray,
    class_names: tuple[str, ...],
    options: Mapping[str, Any],
    feature_names: tuple[str, ...] = (),
) -> DataSplit:
    """The rows split by ``val_fraction``, ``test_fraction``, ``seed`` and ``train_per_class``.

    ``y`` holds class indices (N,) for classification and targets (N, T) for regression;
    ``feature_names`` names the columns of ``x``, where the source has names.
    """
    classification = y.ndim == 1
    train, val, test = split_rows(y, class_names, options)
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
        feature_names=feature_names,
    )


def split_rows(
    y: np.ndarray, class_names: tuple[str, ...], options: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of the training, validation and test parts, as :func:`split` deals them;
    labels (N,) are stratified, targets (N, T) are not."""
    classification = y.ndim == 1
    n_train, n_val, n_test = _part_sizes(len(y), options)
    if classification:
        _check_class_sizes(y, class_names, 3 if n_test else 2, options)
    minimum = len(np.unique(y)) if classification else 1
    _check_part_sizes(len(y), (n_train, n_val, n_test), minimum, options)
    seed = options["seed"]
    # Imported here: a worker process given the data already split never needs scikit-learn.
    model_selection = sklearn_module("sklearn.model_selection")
    rows = np.arange(len(y))
    test: np.ndarray = rows[:0]
    if n_test:
        rows, test = model_selection.train_test_split(
            rows, test_size=n_test, random_state=seed, stratify=y if classification else None
        )
    if classification:
        _check_rest_after_test(y, rows, class_names, options)
    train, val = model_selection.train_test_split(
        rows, test_size=n_val, random_state=seed, stratify=y[rows] if classification else None
    )
    if options["train_per_class"] is not None:
        train = _few_per_class(train, y, options["train_per_class"], seed)
    return train, val, test


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
            raise option_error(option, f"{fractions} leave {max(size, 0)} samples for the {part} "
                               f"part, {need}; {fix}, or give more data.")


def _check_class_sizes(
    y: np.ndarray, class_names: tuple[str, ...], n_parts: int, options: Mapping[str, Any]
) -> None:
    counts = np.bincount(y, minlength=len(class_names))
    # Classes that were asked for must all be there; bare integer labels may skip an index.
    needed = np.arange(len(counts)) if options["classes"] is not None else np.flatnonzero(counts)
    for index in needed:
        if counts[index] < n_parts:
            raise option_error("classes", f"class {class_names[index]!r} has {counts[index]} "
                               f"sample(s), too few to stratify: each class needs at least "
                               f"{n_parts} (one for each part of the split); give more samples "
                               "of it, or leave it out with classes: [...].")


def _check_rest_after_test(
    y: np.ndarray, rest: np.ndarray, class_names: tuple[str, ...], options: Mapping[str, Any]
) -> None:
    """After the test part is taken, every class must still split into training and validation."""
    left = np.bincount(y[rest], minlength=len(class_names))
    for index in np.flatnonzero((np.bincount(y, minlength=len(class_names)) > 0) & (left < 2)):
        raise option_error("test_fraction", f"test_fraction={options['test_fraction']} leaves "
                           f"class {class_names[index]!r} only {left[index]} sample(s) outside "
                           "the test part, too few for training and validation; lower "
                           "test_fraction, or leave that class out with classes: [...].")


def _few_per_class(train: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kept = np.concatenate([
        rng.permutation(train[y[train] == label])[:per_class] for label in np.unique(y[train])
    ])
    return train[np.isin(train, kept)]


def _tensor(array: np.ndarray) -> torch.Tensor:
    assert array.dtype in (np.float32, np.int64), array.dtype
    return torch.from_numpy(np.ascontiguousarray(array))
