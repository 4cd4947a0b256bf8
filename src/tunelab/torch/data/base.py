"""What every data source shares: the split it ends as, the record it reads into, and the checks
of options that more than one source has (a path, a task, a list)."""

from __future__ import annotations

import importlib
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.registry import did_you_mean

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class DataSplit:
    """A dataset split into training, validation and (possibly empty) test parts.

    Features are float32, ``(N, features)``, ``(N, steps, features)`` for sequences or
    ``(N, C, H, W)``, or int64 token ids ``(N, steps)`` for text, each an index into
    ``vocabulary`` (the tokens by id, learnt from the training part). Classification labels
    are int64 class indices in ``[0, n_classes)``, the form cross-entropy expects; regression
    targets are float32 ``(N, n_targets)``, the form a mean-squared-error loss expects.
    ``feature_names`` names the features of ``(N, features)`` data where the source names them
    (a csv file's columns, a built-in data set's features); empty otherwise, and for images.
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
    feature_names: tuple[str, ...] = ()
    vocabulary: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.task in TASKS, self.task
        assert not self.vocabulary or self.x_train.dtype == torch.int64, self.x_train.dtype
        assert (self.n_classes is None) == (self.task == "regression"), self.n_classes
        assert not self.feature_names or self.input_shape == (len(self.feature_names),)

    @property
    def n_outputs(self) -> int:
        """How many outputs a model needs: one logit per class, or one value per target."""
        if self.n_classes is not None:
            return self.n_classes
        return self.y_train.shape[1]


@dataclass(frozen=True)
class Source:
    """What a source read, before labels are checked and the rows are split."""

    x: np.ndarray  # float32, (N, F), (N, T, F) or (N, C, H, W)
    y: np.ndarray  # int64 (N,) for classification, float32 (N, T) for regression
    task: str
    class_names: tuple[str, ...]  # by index; empty where the labels are bare integers
    x_field: str  # the options the features and labels came from, e.g. "target", for errors
    y_field: str
    locate: Callable[[int], str]  # where row i came from: "row 3", a csv line, an image file
    columns: tuple[str, ...] = ()  # feature names, where the source has them (csv, built-in)


@dataclass(frozen=True)
class LazySource:
    """What a source read up front when its features stay on disk: the labels, the shape of
    one sample, and how to read the samples of some rows one at a time (see :mod:`.streaming`).
    """

    y: np.ndarray  # as Source.y
    task: str
    class_names: tuple[str, ...]
    x_field: str
    y_field: str
    locate: Callable[[int], str]
    input_shape: tuple[int, ...]  # of one sample, channel axis included for images
    items: Callable[[np.ndarray, np.ndarray], torch.utils.data.Dataset[Any]]
    """The dataset of the given rows with their (checked, renumbered) labels: items (x, y)."""

    @property
    def in_memory_bytes(self) -> int:
        """What the features would take held in memory as float32 tensors."""
        return float32_bytes(len(self.y), self.input_shape)


def float32_bytes(n_samples: int, sample_shape: tuple[int, ...]) -> int:
    """What ``n_samples`` samples of ``sample_shape`` take as float32 tensors."""
    return n_samples * math.prod(sample_shape) * 4


def option_error(option: str, message: str) -> ConfigError:
    """The error for a bad ``data.<option>``, its field named so a study file can point at it."""
    return ConfigError(f"data.{option}: {message}", field=f"data.{option}")


def unreadable_file(path: Path, error: OSError) -> ConfigError:
    """The error for a data file that exists but cannot be opened."""
    return option_error("path", f"{path} cannot be read ({error.strerror or error}); check that "
                        "it is a file you may read.")


def sklearn_module(name: str) -> ModuleType:
    """The scikit-learn module ``name``, or the error that names the extra installing it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError("scikit-learn", "torch", "tunelab.torch.data") from exc


def is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    """Whether a study file gave a list here; text is a sequence too, but never meant as one."""
    return isinstance(value, Sequence) and not isinstance(value, str)


def check_task(task: Any) -> None:
    if task is not None and task not in TASKS:
        raise option_error("task", f"unknown task {task!r}{did_you_mean(str(task), TASKS)}; "
                           f"choose one of: {', '.join(TASKS)}, or leave it out to infer it from "
                           "the labels.")


def resolve_path(
    options: Mapping[str, Any], base_dir: str | Path | None, folder: bool, option: str = "path"
) -> Path:
    """The absolute path the ``option`` names, checked to exist as a regular file or a
    folder (a device or a pipe could be read forever)."""
    raw = options[option]
    expected = "folder of class subfolders" if folder else "file"
    if not isinstance(raw, (str, os.PathLike)) or not str(raw) or "\0" in str(raw):
        raise option_error(option, f"needs the path of the {expected}, got {raw!r}.")
    path = Path(raw).expanduser()
    if base_dir is not None:
        path = Path(base_dir) / path
    path = path.resolve()
    try:
        exists = path.exists()
    except OSError as error:  # a name too long for the file system, say
        raise option_error(option, f"{path} cannot be looked up ({error.strerror}); check the "
                           f"path of the {expected}.") from None
    if not exists:
        start = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        raise option_error(option, f"{path} does not exist (path {str(raw)!r}; relative paths "
                           f"start from {start}); check the spelling, or give the absolute path of "
                           f"the {expected}.")
    if not (path.is_dir() if folder else path.is_file()):
        found = "a folder" if path.is_dir() else "a file" if path.is_file() else (
            "neither a file nor a folder (a device, a pipe or a socket)")
        raise option_error(option, f"{path} is {found}, but a {expected} is needed here.")
    return path
