"""NumPy arrays: a ``.npz`` archive holding features and labels under keys of their own, or two
``.npy`` files. Either can stay on disk and be read row by row through a memory map (an archive's
arrays must then be stored uncompressed, as ``numpy.savez`` writes them)."""

from __future__ import annotations

import io
import math
import struct
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.registry import did_you_mean
from tunelab.torch.data.base import (
    LazySource,
    Source,
    check_task,
    option_error,
    resolve_path,
    unreadable_file,
)
from tunelab.torch.data.labels import class_labels

NPZ_OPTIONS: dict[str, Any] = {"path": None, "x": "x", "y": "y", "task": None}
NPY_OPTIONS: dict[str, Any] = {"x": None, "y": None, "task": None}
_ZIP_LOCAL_HEADER = 30  # bytes before a zip member's name: signature, versions, sizes, lengths


def load_npz(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """The features and labels of the archive that the options name.

    Arrays are read without pickle (an object array is refused, never unpickled), and every way
    a file can fail to be such an archive is told as what the file must contain instead.
    """
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    with _open_archive(path, options) as archive:
        x = _npz_array(archive, options, "x", path)
        y = _npz_array(archive, options, "y", path)
    locate, task, y, class_names = _labels(x.shape, y, options["task"], path, path)
    return Source(_npz_features(x, path), y, task, class_names, "x", "y", locate)


def lazy_npz(options: Mapping[str, Any], base_dir: str | Path | None) -> LazySource | None:
    """The archive's labels, its features left on disk to be read row by row; None for
    features compressed in the archive, unless ``stream: true`` asks (then an error), since
    those can only be read whole."""
    path = resolve_path(options, base_dir, folder=False)
    check_task(options["task"])
    with _open_archive(path, options) as archive:
        if options["x"] not in archive.files:
            _npz_array(archive, options, "x", path)  # says which arrays there are
        x = _mapped_member(path, options["x"], required=options["stream"] is True)
        if x is None:
            return None
        y = _npz_array(archive, options, "y", path)
    return _lazy(x, y, options["task"], path, path)


def load_npy(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """The features and labels of the two ``.npy`` files that options ``x`` and ``y`` name."""
    x_path, y_path = _npy_paths(options, base_dir)
    x = np.asarray(_mapped_npy(x_path, "x").open())
    y = np.asarray(_mapped_npy(y_path, "y").open())
    locate, task, y, class_names = _labels(x.shape, y, options["task"], x_path, y_path)
    return Source(_npz_features(x, x_path), y, task, class_names, "x", "y", locate)


def lazy_npy(options: Mapping[str, Any], base_dir: str | Path | None) -> LazySource:
    """The labels of the ``y`` file, the features of the ``x`` file left on disk."""
    x_path, y_path = _npy_paths(options, base_dir)
    y = np.asarray(_mapped_npy(y_path, "y").open())
    return _lazy(_mapped_npy(x_path, "x"), y, options["task"], x_path, y_path)


@dataclass(frozen=True)
class MappedArray:
    """Where a plain array lies in a file, to be memory-mapped in each process that reads it."""

    path: Path
    offset: int
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran_order: bool

    def open(self) -> np.memmap[Any, Any]:
        order = "F" if self.fortran_order else "C"
        return np.memmap(self.path, self.dtype, "r", self.offset, self.shape, order)  # type: ignore[call-overload]


class ArrayRows(torch.utils.data.Dataset[Any]):
    """Rows of a features array on disk with their labels: items (x, y), x in the array's own
    dtype (training turns it into float32 on its device).

    A row of a C-ordered array is one read of its bytes; the pages read stay in the operating
    system's cache rather than in the process, whose memory would otherwise grow to the
    array's size as a memory map is read through. A Fortran-ordered array is memory-mapped.
    """

    def __init__(self, array: MappedArray, rows: np.ndarray, labels: np.ndarray) -> None:
        self.array, self.rows, self.labels = array, rows, labels
        self.row_shape = array.shape[1:]
        self.row_bytes = math.prod(self.row_shape) * array.dtype.itemsize
        self._file: io.FileIO | None = None
        self._mapped: np.memmap[Any, Any] | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        row = int(self.rows[index])
        if self.array.fortran_order:
            if self._mapped is None:
                self._mapped = self.array.open()
            x = np.array(self._mapped[row])
        else:
            if self._file is None:
                self._file = io.FileIO(self.array.path, "r")
            self._file.seek(self.array.offset + row * self.row_bytes)
            raw = bytearray(self.row_bytes)  # writable, as torch wants its memory
            self._file.readinto(raw)
            x = np.frombuffer(raw, self.array.dtype).reshape(self.row_shape)
        # A stack of single-channel images comes without its channel axis; models expect one.
        return torch.from_numpy(x[None] if x.ndim == 2 else x), self.labels[index]

    def locate(self, index: int) -> str:
        return f"row {self.rows[index]} of {self.array.path}"

    def __getstate__(self) -> dict[str, Any]:
        # A loader's worker opens the file itself rather than receive a copy of it.
        return {**self.__dict__, "_file": None, "_mapped": None}


def _lazy(x: MappedArray, y: np.ndarray, task: str | None, x_path: Path, y_path: Path
          ) -> LazySource:
    _check_features(x.dtype, x.shape, x_path)
    locate, task, y, class_names = _labels(x.shape, y, task, x_path, y_path)
    sample = x.shape[1:] if len(x.shape) != 3 else (1, *x.shape[1:])
    return LazySource(y, task, class_names, "x", "y", locate, sample,
                      lambda rows, labels: ArrayRows(x, rows, labels))


def _labels(
    x_shape: tuple[int, ...], y: np.ndarray, task: str | None, x_path: Path, y_path: Path
) -> tuple[Callable[[int], str], str, np.ndarray, tuple[str, ...]]:
    """Where a row lies, the task, and the checked labels of the features' rows."""

    def locate(row: int) -> str:
        return f"row {row} of {y_path}"

    if x_shape[0] != len(y):
        where = str(x_path) if x_path == y_path else f"{x_path} and {y_path}"
        raise option_error("y", f"{where}: x has {x_shape[0]} rows and y has {len(y)}; give one "
                           "label per sample.")
    task = task or ("regression" if y.dtype.kind == "f" else "classification")
    y, class_names = _npz_targets(y, task, y_path, locate)
    return locate, task, y, class_names


def _open_archive(path: Path, options: Mapping[str, Any]) -> Any:
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
    if not archive.files:
        archive.close()
        raise option_error("path", f"{path} is an archive with no arrays in it; it must be "
                           f"{contents}.")
    return archive


def _npy_paths(options: Mapping[str, Any], base_dir: str | Path | None) -> tuple[Path, Path]:
    check_task(options["task"])
    return (resolve_path(options, base_dir, folder=False, option="x"),
            resolve_path(options, base_dir, folder=False, option="y"))


def _mapped_npy(path: Path, option: str) -> MappedArray:
    return _mapped(path, 0, path.stat().st_size, option, f"{path}", "save it with numpy.save")


def _mapped_member(path: Path, key: str, required: bool) -> MappedArray | None:
    """The archive member ``key`` as a memory-mappable array; None if it is compressed and
    not ``required``."""
    what = f"array {key!r} of {path}"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(f"{key}.npy")
        with open(path, "rb") as file:
            file.seek(info.header_offset + 26)
            name_length, extra_length = struct.unpack("<HH", file.read(4))
    except (OSError, KeyError, zipfile.BadZipFile, struct.error) as error:
        raise option_error("x", f"{what} cannot be found in the archive ({error}); save the "
                           "archive again with numpy.savez.") from None
    if info.compress_type != zipfile.ZIP_STORED:
        if not required:
            return None
        raise option_error("x", f"{what} is compressed (numpy.savez_compressed), so it cannot be "
                           "read in place; save the archive with numpy.savez, or the arrays as "
                           ".npy files (data name: npy), to stream it, or set stream: false.")
    start = info.header_offset + _ZIP_LOCAL_HEADER + name_length + extra_length
    fix = "save the archive again with numpy.savez"
    return _mapped(path, start, info.file_size, "x", what, fix)


def _mapped(
    path: Path, start: int, size: int, option: str, what: str, fix: str
) -> MappedArray:
    """The plain array whose .npy file of ``size`` bytes starts at byte ``start`` of ``path``."""
    try:
        with open(path, "rb") as file:
            file.seek(start)
            version = np.lib.format.read_magic(file)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, fortran_order, dtype = read_header(file)
            offset = file.tell()
    except OSError as error:
        raise unreadable_file(path, error) from None
    except ValueError as error:
        raise option_error(option, f"{what} is not a NumPy array file ({error}); {fix}.") from None
    if dtype.hasobject:
        raise option_error(option, f"{what} holds Python objects; save it as a plain numeric "
                           "array.")
    if len(shape) == 0 or 0 in shape:
        raise option_error(option, f"{what} has shape {shape}; it must have at least one row "
                           "(one per sample) and at least one value in each row.")
    if offset - start + math.prod(shape) * dtype.itemsize > size:
        raise option_error(option, f"{what} claims shape {shape}, more than its file holds; "
                           f"{fix}.")
    return MappedArray(path, offset, dtype, tuple(shape), fortran_order)


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
    _check_features(x.dtype, x.shape, path)
    # A stack of single-channel images comes without its channel axis; models expect one.
    return (x[:, None] if x.ndim == 3 else x).astype(np.float32)


def _check_features(dtype: np.dtype[Any], shape: tuple[int, ...], path: Path) -> None:
    if dtype.kind not in "biuf" or len(shape) not in (2, 3, 4):
        raise option_error("x", f"the features in {path} are {dtype} with shape {shape}; "
                           "give numbers shaped (N, features), (N, H, W) or (N, C, H, W).")


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
