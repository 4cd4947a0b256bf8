"""Files and checks that the tests of several data sources share."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
from PIL import Image

from tunelab.exceptions import ConfigError
from tunelab.torch.data import load_data


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    lines = [",".join(header)] + [",".join(str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_image(path: Path, color: tuple[int, int, int], size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def config_error(spec, field: str, **kwargs) -> str:
    """The message of the ConfigError that ``load_data(spec)`` raises, checked to name ``field``."""
    with pytest.raises(ConfigError) as caught:
        load_data(spec, **kwargs)
    assert caught.value.field == field, str(caught.value)
    return str(caught.value)


def numeric_rows(n_per_class: int = 10) -> list[list[object]]:
    return [[i, 2 * i + 0.5, -i, i % 2] for i in range(2 * n_per_class)]


def image_folder(root: Path) -> Path:
    """Three red and three blue images of mixed sizes, the first 6 wide and 4 high."""
    for i, size in enumerate([(6, 4), (5, 5), (6, 4)]):
        write_image(root / "red" / f"{i}.png", (255, 0, 0), size)
        write_image(root / "blue" / f"{i}.PNG", (0, 0, 255), size)
    (root / "red" / "notes.txt").write_text("not an image")
    return root


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _damaged(path: Path) -> None:
    np.savez_compressed(path, x=np.random.default_rng(0).random((100, 3)), y=np.arange(100) % 2)
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))


def _single_array(path: Path) -> None:
    with path.open("wb") as file:  # np.save(path) would add .npy to the name
        np.save(file, np.ones(3))


def _claims_more_than_it_holds(path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (2**40, 3)}
    )
    _zip(path, {"x.npy": header.getvalue() + bytes(64), "y.npy": header.getvalue()})


class BadArchive(NamedTuple):
    """A .npz file that holds no samples to train on: how to write it, the option at fault and
    words its error must contain."""

    id: str
    write: Callable[[Path], Any]
    field: str
    words: tuple[str, ...]


_MUST_HOLD = "holding the features under 'x' and the labels under 'y'"

BAD_ARCHIVES = [
    BadArchive("zero-bytes", lambda p: p.write_bytes(b""), "data.path",
               ("empty (0 bytes)", _MUST_HOLD)),
    BadArchive("no-arrays", lambda p: np.savez(p), "data.path",
               ("no arrays", _MUST_HOLD, "numpy.savez(path, x=features, y=labels)")),
    BadArchive("text", lambda p: p.write_text("x,y\n1,0\n"), "data.path",
               ("not a .npz archive", _MUST_HOLD)),
    BadArchive("truncated-zip", lambda p: p.write_bytes(b"PK\x03\x04\x14\x00"), "data.path",
               ("not a .npz archive", _MUST_HOLD)),
    BadArchive("single-array", _single_array, "data.path", ("a single array", _MUST_HOLD)),
    BadArchive("zero-rows", lambda p: np.savez(p, x=np.ones((0, 3)), y=np.zeros(0)), "data.x",
               ("shape (0, 3)", "at least one row")),
    BadArchive("zero-labels", lambda p: np.savez(p, x=np.ones((4, 3)), y=np.zeros(0)), "data.y",
               ("shape (0,)", "at least one row")),
    BadArchive("zero-features", lambda p: np.savez(p, x=np.ones((4, 0)), y=np.zeros(4)),
               "data.x", ("shape (4, 0)", "at least one value in each row")),
    BadArchive("scalar", lambda p: np.savez(p, x=np.float64(1.0), y=np.int64(0)), "data.x",
               ("shape ()",)),
    BadArchive("member-not-an-array", lambda p: _zip(p, {"x.npy": b"text", "y.npy": b"text"}),
               "data.x", ("not a NumPy array",)),
    BadArchive("damaged", _damaged, "data.x", ("damaged", "save the archive again")),
    BadArchive("header-claims-too-much", _claims_more_than_it_holds, "data.x", ("array 'x'",)),
]
