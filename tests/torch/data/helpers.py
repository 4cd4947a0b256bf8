"""Files and checks that the tests of several data sources share."""

from __future__ import annotations

from pathlib import Path

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
