"""NumPy ``.npz`` archives: a features array and a labels array, stored under keys of their own."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import (
    Source,
    check_task,
    option_error,
    resolve_path,
    unreadable_file,
)
from tunelab.torch.data.labels import class_labels

NPZ_OPTIONS: dict[str, Any] = {"path": None, "x": "x", "y": "y", "task": None}


def load_npz(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """The features and labels of the archive that the options name.

    Arrays are read without pickle (an object array is refused, never unpickled), and every way
    a file can fail to be such an archive is told as what the file must contain instead.
    """
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    contents = (f"a .npz archive holding the features under {options['x']!r} and the labels "
                f"under {options['y']!r}, as numpy.savez(path, {options['x']}=features, "
                f"{options['y']}=labels) writes it")
    try:
        archive = np.load(path, allow_pickle=False)
    except EOFError:  # numpy's word for a file of no bytes at all
        raise option_error("path", f"{path} is empty (0 bytes); it must be {contents}.") from None
    except OSError as error:
        raise unreadable_file(path, error) from None
    except (ValueError, zipfile.BadZipFile):
        raise option_error("path", f"{path} is not a .npz archive of plain arrays; it must be "
                           f"{contents}.") from None
    if isinstance(archive, np.ndarray):
        raise option_error("path", f"{path} holds a single array, not an archive; it must be "
                           f"{contents}.")
    with archive:
        if not archive.files:
            raise option_error("path", f"{path} is an archive with no arrays in it; it must be "
                               f"{contents}.")
        x = _npz_array(archive, options, "x", path)
        y = _npz_array(archive, options, "y", path)

    def locate(row: int) -> str:
        return f"row {row} of {path}"

    if len(x) != len(y):
        raise option_error("y", f"{path}: x has {len(x)} rows and y has {len(y)}; give one label "
                           "per sample.")
    task = options["task"] or ("regression" if y.dtype.kind == "f" else "classification")
    y, class_names = _npz_targets(y, task, path, locate)
    return Source(_npz_features(x, path), y, task, class_names, "x", "y", locate)


def _npz_array(archive: Any, options: Mapping[str, Any], option: str, path: Path) -> np.ndarray:
    """The array under the option's key, with at least one row and a value in each."""
    key = options[option]
    if key not in archive.files:
        raise option_error(option, f"{path} has no array {key!r}"
                           f"{did_you_mean(str(key), archive.files)}; it holds: "
                           f"{', '.join(archive.files)}. Set {option} to the key of the array to "
                           "use.")
    what = f"array {key!r} of {path}"
    try:
        array = archive[key]
    except ValueError as error:  # an object array, or a header numpy cannot parse
        raise option_error(option, f"{what} cannot be loaded ({error}); save it as a plain "
                           "numeric array.") from None
    except MemoryError as error:  # a header that claims more than the file could hold
        raise option_error(option, f"{what} does not fit in memory ({error}); check that the "
                           "file is what you meant to load.") from None
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise option_error(option, f"{what} is damaged ({error}); save the archive "
                           "again.") from None
    # numpy hands back the raw bytes of an archive member that is not a .npy array.
    if not isinstance(array, np.ndarray):
        raise option_error(option, f"{what} is not a NumPy array; save it with numpy.savez.")
    if array.ndim == 0 or array.size == 0:
        raise option_error(option, f"{what} has shape {array.shape}; it must have at least one "
                           "row (one per sample) and at least one value in each row.")
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
