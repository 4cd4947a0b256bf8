"""Class labels: read as indices, checked to be in range, chosen and renumbered by ``classes``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import LazySource, Source, is_integer, option_error


def prepare_labels(
    source: Source | LazySource, options: Mapping[str, Any]
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
            raise option_error("classes", f"lists class {twice!r} twice; list each class once.")
        renumber = np.full(len(names), -1, dtype=np.int64)
        renumber[chosen] = np.arange(len(chosen))
        rows = np.flatnonzero(renumber[y] >= 0)
        y = renumber[y[rows]]
        names = tuple(names[index] for index in chosen)
    present = np.unique(y)
    if len(present) < 2:
        field = "classes" if options["classes"] is not None else source.y_field
        raise option_error(field, f"only {len(present)} class(es) left "
                           f"({', '.join(names[i] for i in present) or 'none'}); a classifier "
                           "needs at least 2 classes with samples, so keep more classes or give "
                           "data with more.")
    return rows, y, names


def _check_label_range(source: Source | LazySource, declared: int | None) -> int:
    """The number of classes, after checking that every label is a valid index."""
    y = source.y
    assert y.dtype == np.int64 and y.ndim == 1 and len(y) > 0, (y.dtype, y.shape)
    if y.min() < 0:
        row = int(np.argmin(y))
        raise option_error(source.y_field, f"label {y[row]} at {source.locate(row)} is out of "
                           "range: class labels are indices 0..n_classes-1; renumber the labels "
                           "from 0, or store them as text names.")
    if declared is not None and y.max() >= declared:
        row = int(np.argmax(y >= declared))
        label = source.class_names[y[row]] if source.class_names else int(y[row])
        raise option_error("n_classes", f"label {label!r} at {source.locate(row)} is out of "
                           f"range: n_classes={declared} allows labels 0..{declared - 1}; raise "
                           f"n_classes to at least {int(y.max()) + 1}, or fix the label.")
    return declared or max(len(source.class_names), int(y.max()) + 1)


def _class_index(label: Any, names: tuple[str, ...]) -> int:
    if is_integer(label) and 0 <= label < len(names):
        return int(label)
    if isinstance(label, str) and label in names:
        return names.index(label)
    hint = did_you_mean(label, names) if isinstance(label, str) else ""
    raise option_error("classes", f"there is no class {label!r}{hint}; the classes are "
                       f"{', '.join(names)} (indices 0..{len(names) - 1}); list names or indices "
                       "from those.")


def class_labels(
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
            raise option_error("task", f"classification needs whole-number or text labels, but "
                               f"{what} holds {values[row].item()!r} at {locate(row)}; set task: "
                               "regression for a numeric target, or round the labels.")
    return values.astype(np.int64), ()
