"""NumPy ``.npz`` archives: a features array and a labels array, stored under keys of their own."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import Source, check_task, option_error, resolve_path
from tunelab.torch.data.labels import class_labels

NPZ_OPTIONS: dict[str, Any] = {"path": None, "x": "x", "y": "y", "task": None}


def load_npz(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """The features and labels of the archive that the options name."""
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as error:
        raise option_error("path", f"{path} cannot be read ({error.strerror or error}); check "
                           "that it is a file you may read.") from None
    except (ValueError, zipfile.BadZipFile):
        raise option_error("path", f"{path} is not a .npz archive of plain arrays; save it with "
                           "numpy.savez(path, x=features, y=labels).") from None
    if isinstance(archive, np.ndarray):
        raise option_error("path", f"{path} holds a single array, not an archive of x and y; "
                           "save it with numpy.savez(path, x=features, y=labels).")
    with archive:
        x = _npz_array(archive, options, "x", path)
        y = _npz_array(archive, options, "y", path)

    def locate(row: int) -> str:
        return f"row {row} of {path}"

    if len(x) != len(y) or len(x) == 0:
        raise option_error("y", f"{path}: x has {len(x)} rows and y has {len(y)}; give one label "
                           "per sample, and at least one sample.")
    task = options["task"] or ("regression" if y.dtype.kind == "f" else "classification")
    y, class_names = _npz_targets(y, task, path, locate)
    return Source(_npz_features(x, path), y, task, class_names, "x", "y", locate)


def _npz_array(archive: Any, options: Mapping[str, Any], option: str, path: Path) -> np.ndarray:
    key = options[option]
    if key not in archive.files:
        raise option_error(option, f"{path} has no array {key!r}"
                           f"{did_you_mean(str(key), archive.files)}; it holds: "
                           f"{', '.join(archive.files) or 'nothing'}. Set {option} to the key of "
                           "the array to use.")
    try:
        array: np.ndarray = archive[key]
    except ValueError as error:
        raise option_error(option, f"array {key!r} of {path} cannot be loaded ({error}); save it "
                           "as a plain numeric array.") from None
    return array


def _npz_features(x: np.ndarray, path: Path) -> np.ndarray:
    if x.dtype.kind not in "biuf" or x.ndim not in (2, 3, 4):
        raise option_error("x", f"the features in {path} are {x.dtype} with shape {x.shape}; "
                           "give numbers shaped (N, features), (N, H, W) or (N, C, H, W).")
    # A stack of single-channel images comes without its channel axis; models expect one.
    return (x[:, None] if x.ndim == 3 else x).astype(np.float32)


def _npz_targets(
    y: np.ndarray, task: str, path: Path, locate: Callable[[int], str]
) -> tuple[np.ndarray, tuple[str, ...]]:
    if y.dtype.kind not in "biufUS":
        raise option_error("y", f"the labels in {path} are {y.dtype}; give integers or text for "
                           "class labels, or floats for regression targets.")
    if task == "regression":
        if y.dtype.kind in "US" or y.ndim not in (1, 2):
            raise option_error("y", f"regression needs numeric targets shaped (N,) or (N, "
                               f"targets), but y in {path} is {y.dtype} with shape {y.shape}; "
                               "fix y, or set task: classification for class labels.")
        return y.astype(np.float32).reshape(len(y), -1), ()
    if y.ndim != 1 and y.shape[1:] != (1,):
        raise option_error("y", f"classification needs one label per sample, but y in {path} has "
                           f"shape {y.shape}; give labels shaped (N,), or set task: regression.")
    values = y.reshape(-1)
    return class_labels(values.astype(np.int64) if values.dtype.kind == "b" else values,
                        "y", locate)
