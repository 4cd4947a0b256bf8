"""Image folders: one subfolder per class, read with Pillow into one size and colour mode, all
at once or one image at a time as training asks for them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.torch.data.base import (
    LazySource,
    Source,
    is_integer,
    is_list,
    option_error,
    resolve_path,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
IMAGE_FOLDER_OPTIONS: dict[str, Any] = {"path": None, "size": None, "grayscale": True}

_EXPECTED_LAYOUT = "path/<class>/<image>.png, one subfolder per class"


def load_image_folder(options: Mapping[str, Any], base_dir: str | Path | None) -> Source:
    """Every image below the folder the options name, labelled by its subfolder."""
    files, labels, class_names, mode, size = _survey(options, base_dir)
    x = np.stack([_read_image(files.path(row), mode, size) for row in range(len(files))])
    return Source(x, labels, "classification", class_names, "path", "path", files.path)


def lazy_image_folder(options: Mapping[str, Any], base_dir: str | Path | None) -> LazySource:
    """The folder's images listed with their labels, each to be read when training asks."""
    files, labels, class_names, mode, size = _survey(options, base_dir)
    channels = 1 if mode == "L" else 3
    return LazySource(labels, "classification", class_names, "path", "path", files.path,
                      (channels, *size),
                      lambda rows, y: ImageFiles(files.subset(rows), y, mode, size))


class FileNames:
    """File paths held as one array of bytes under their folder, not as path objects.

    A loader worker forked from the training process shares its memory until it writes to
    it, and reading a Python object writes its reference count: over an epoch, each worker
    reading a list of a million paths would copy them all (about 500 MB for 1.3 M files),
    and the list itself would take as much in the training process.
    """

    def __init__(self, root: str, names: np.ndarray) -> None:
        self.root, self.names = root, names  # names: relative paths, encoded (numpy bytes)

    def __len__(self) -> int:
        return len(self.names)

    def path(self, index: int) -> str:
        return os.path.join(self.root, os.fsdecode(self.names[index]))

    def subset(self, rows: np.ndarray) -> FileNames:
        return FileNames(self.root, self.names[np.asarray(rows, dtype=np.int64)])


class ImageFiles(torch.utils.data.Dataset[Any]):
    """Image files with their labels: items (x, y), x float32 (C, H, W) in [0, 1]."""

    def __init__(self, files: FileNames, labels: np.ndarray, mode: str,
                 size: tuple[int, int]) -> None:
        self.files, self.labels, self.mode, self.size = files, labels, mode, size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        image = _read_image(self.files.path(index), self.mode, self.size)
        return torch.from_numpy(image), self.labels[index]

    def locate(self, index: int) -> str:
        return self.files.path(index)


def _survey(
    options: Mapping[str, Any], base_dir: str | Path | None
) -> tuple[FileNames, np.ndarray, tuple[str, ...], str, tuple[int, int]]:
    """The images, their labels, the class names, and the colour mode and size to read in."""
    root = resolve_path(options, base_dir, folder=True)
    grayscale = options["grayscale"]
    if not isinstance(grayscale, bool):
        raise option_error("grayscale", f"must be true or false, got {grayscale!r}.")
    size = _image_size(options["size"])
    files, labels, class_names = _image_files(root)
    return files, labels, class_names, "L" if grayscale else "RGB", size or _size_of(files.path(0))


def _image_files(root: Path) -> tuple[FileNames, np.ndarray, tuple[str, ...]]:
    """Every image with its class index; a class is a subfolder, in sorted order. Listed a
    folder at a time, as names, so that a million files never become a million objects."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise option_error("path", f"{root} has no class subfolders ({_contents(root)}); lay the "
                           f"images out as {_EXPECTED_LAYOUT}.")
    names: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    for index, folder in enumerate(folders):
        with os.scandir(folder) as entries:
            images = sorted(entry.name for entry in entries if entry.is_file()
                            and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS)
        if not images:
            raise option_error("path", f"the class folder {folder} holds no images "
                               f"({_contents(folder)}); lay the images out as "
                               f"{_EXPECTED_LAYOUT}, with extensions "
                               f"{', '.join(IMAGE_EXTENSIONS)}.")
        prefix = os.fsencode(folder.name) + b"/"
        names.append(np.array([prefix + os.fsencode(name) for name in images], dtype=np.bytes_))
        labels.append(np.full(len(images), index, dtype=np.int64))
    files = FileNames(str(root), np.concatenate(names))
    return files, np.concatenate(labels), tuple(folder.name for folder in folders)


def _contents(folder: Path) -> str:
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    if not names:
        return "it is empty"
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"it holds {', '.join(names[:5])}{more}"


def _image_size(size: Any) -> tuple[int, int] | None:
    if size is None:
        return None
    if not is_list(size) or len(size) != 2 or not all(is_integer(side) and side > 0
                                                       for side in size):
        raise option_error("size", f"must be [height, width] in pixels, got {size!r}; e.g. "
                           "[28, 28].")
    return int(size[0]), int(size[1])


def _pillow() -> Any:
    # Imported on first use: only image folders need Pillow.
    try:
        from PIL import Image
    except ImportError as exc:
        raise MissingExtraError("Pillow", "torch", "data 'image_folder'") from exc
    return Image


def _size_of(file: str | Path) -> tuple[int, int]:
    """(height, width) of an image, read from its header."""
    try:
        with _pillow().open(file) as image:
            return image.height, image.width
    except (OSError, ValueError) as error:
        raise _unreadable(file, error) from None


def _read_image(file: str | Path, mode: str, size: tuple[int, int]) -> np.ndarray:
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


def _unreadable(file: str | Path, error: Exception) -> ConfigError:
    return option_error("path", f"cannot read the image {file} ({error}); replace it with a "
                        "valid image, or remove it from the folder.")
