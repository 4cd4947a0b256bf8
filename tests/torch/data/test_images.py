from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from tunelab.torch.data import load_data
from tunelab.torch.data.images import _image_files

from .helpers import config_error, image_folder, write_image


def test_image_folder_grayscale_takes_the_size_of_the_first_image(tmp_path):
    root = image_folder(tmp_path / "shapes")

    data = load_data({"name": "image_folder", "path": str(root), "val_fraction": 0.34})

    assert data.class_names == ("blue", "red") and data.n_classes == 2
    assert data.input_shape == (1, 4, 6)
    assert (len(data.y_train), len(data.y_val)) == (3, 3)
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    # Pillow's luma of pure red is 76 and of pure blue 29, out of 255.
    expected = torch.where(y == 1, 76 / 255, 29 / 255)
    assert torch.allclose(x.mean(dim=(1, 2, 3)), expected.float(), atol=1e-6)


def test_image_folder_rgb_resized(tmp_path):
    image_folder(tmp_path / "shapes")

    data = load_data({"name": "image_folder", "path": "shapes", "grayscale": False,
                      "size": [3, 2], "val_fraction": 0.34}, base_dir=tmp_path)

    assert data.input_shape == (3, 3, 2)
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    red = torch.tensor([1.0, 0.0, 0.0])
    blue = torch.tensor([0.0, 0.0, 1.0])
    for image, label in zip(x, y, strict=True):
        assert torch.allclose(image.mean(dim=(1, 2)), red if label == 1 else blue)


def test_image_folder_without_images_shows_what_is_there_and_the_layout(tmp_path):
    (tmp_path / "pictures" / "cats").mkdir(parents=True)
    (tmp_path / "pictures" / "cats" / "cat.tiff").write_bytes(b"")

    message = config_error({"name": "image_folder", "path": "pictures"}, "data.path",
                           base_dir=tmp_path)

    assert "cat.tiff" in message and "<class>/<image>.png" in message


def test_image_folder_without_subfolders_shows_what_is_there(tmp_path):
    write_image(tmp_path / "flat" / "a.png", (0, 0, 0), (2, 2))

    message = config_error({"name": "image_folder", "path": "flat"}, "data.path", base_dir=tmp_path)

    assert "a.png" in message and "<class>/<image>.png" in message


def test_unreadable_image_is_named(tmp_path):
    root = image_folder(tmp_path / "shapes")
    (root / "red" / "broken.png").write_text("not a png")

    message = config_error({"name": "image_folder", "path": root}, "data.path")

    assert str(root / "red" / "broken.png") in message


def test_a_folder_is_listed_as_bytes_under_it_in_the_order_of_its_paths(tmp_path: Path) -> None:
    for name in ("b/10.png", "b/2.png", "a/1.png", "b/notes.txt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    files, labels, classes = _image_files(tmp_path)

    assert files.names.dtype.kind == "S"  # no object per file
    expected = [tmp_path / "a/1.png", tmp_path / "b/10.png", tmp_path / "b/2.png"]
    assert [files.path(i) for i in range(len(files))] == [str(p) for p in expected]
    assert labels.tolist() == [0, 1, 1] and classes == ("a", "b")
    assert files.subset(np.array([2, 0])).path(0) == str(expected[2])
