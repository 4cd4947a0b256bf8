"""Data streamed from disk: the same rows and labels as in memory, the same checks (made up front
where cheap, per batch otherwise), and a user's own datasets."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from tunelab.torch.data import DataSplit, StreamedSplit, load_data, normalize, streaming
from tunelab.torch.data.streaming import materialize

from .helpers import config_error

FACTORIES = "tests.torch.data.factories"
CPU = torch.device("cpu")


@pytest.fixture
def images(tmp_path: Path) -> Path:
    """x.npy (60 uint8 images 3x4x4) and y.npy (3 classes), in tmp_path."""
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x.npy", rng.integers(0, 256, (60, 3, 4, 4), dtype=np.uint8))
    np.save(tmp_path / "y.npy", np.arange(60) % 3)
    return tmp_path


def npy(stream: object = True, **options: object) -> dict[str, object]:
    return {"name": "npy", "x": "x.npy", "y": "y.npy", "stream": stream, **options}


def all_batches(data: StreamedSplit, part: str) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return list(data.batches(part, 16, CPU))


def test_streamed_npy_holds_the_rows_and_labels_that_memory_holds(images: Path) -> None:
    streamed = load_data(npy(), base_dir=images)
    in_memory = load_data(npy(False), base_dir=images)

    assert isinstance(streamed, StreamedSplit) and isinstance(in_memory, DataSplit)
    assert streamed.input_shape == in_memory.input_shape == (3, 4, 4)
    assert streamed.n_classes == 3 and streamed.size("val") == 12
    held = materialize(streamed)
    for name in ("x_train", "y_train", "x_val", "y_val"):
        assert torch.equal(getattr(held, name), getattr(in_memory, name)), name


def test_an_uncompressed_npz_streams_and_a_compressed_one_is_read_whole(tmp_path: Path) -> None:
    x, y = np.ones((20, 5), dtype=np.float32), np.arange(20) % 2
    np.savez(tmp_path / "plain.npz", x=x, y=y)
    np.savez_compressed(tmp_path / "packed.npz", x=x, y=y)

    plain = load_data({"name": "npz", "path": "plain.npz", "stream": True}, base_dir=tmp_path)
    packed = load_data({"name": "npz", "path": "packed.npz"}, base_dir=tmp_path)
    message = config_error({"name": "npz", "path": "packed.npz", "stream": True}, "data.x",
                           base_dir=tmp_path)

    assert isinstance(plain, StreamedSplit) and isinstance(packed, DataSplit)
    assert torch.equal(materialize(plain).x_train, torch.ones(16, 5))
    assert "compressed" in message and "numpy.savez" in message


def test_stream_auto_streams_what_would_take_too_much_memory(
    images: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(streaming, "available_memory", lambda: 10_000)

    with caplog.at_level(logging.INFO, logger="tunelab"):
        data = load_data(npy("auto"), base_dir=images)

    assert isinstance(data, StreamedSplit)
    assert "streamed from disk: stream: auto" in caplog.text and "11 kB" not in caplog.text


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [("stream", "yes", "data.stream"), ("num_workers", -1, "data.num_workers"),
     ("prefetch_factor", 0, "data.prefetch_factor"), ("pin_memory", "on", "data.pin_memory")],
)
def test_loader_options_are_checked(images: Path, option: str, value: object, field: str) -> None:
    config_error({**npy("auto"), option: value}, field, base_dir=images)


def test_a_nan_in_a_streamed_file_names_its_row_when_its_batch_is_read(tmp_path: Path) -> None:
    x = np.zeros((30, 4), dtype=np.float32)
    x[17, 2] = np.nan
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(30) % 2)
    data = load_data({**npy(), "val_fraction": 0.5, "seed": 1}, base_dir=tmp_path)

    with pytest.raises(Exception) as caught:
        for part in ("train", "val"):
            all_batches(data, part)

    assert getattr(caught.value, "field", None) == "data.x"
    assert "row 17 of" in str(caught.value) and "x.npy" in str(caught.value)


def test_streamed_labels_out_of_range_are_refused_up_front(images: Path) -> None:
    np.save(images / "y.npy", np.arange(60) % 3 - 1)

    message = config_error(npy(), "data.y", base_dir=images)

    assert "out of range" in message and "row 0 of" in message


def test_streamed_image_folder_checks_the_folder_up_front_and_each_image_when_read(
    tmp_path: Path,
) -> None:
    from PIL import Image

    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for index in range(4):
            Image.new("RGB", (6, 5), (index * 40, 0, 0)).save(tmp_path / label / f"{index}.png")
    (tmp_path / "dog" / "2.png").write_bytes(b"not a png")
    spec = {"name": "image_folder", "path": ".", "grayscale": False, "stream": True,
            "val_fraction": 0.25}

    data = load_data(spec, base_dir=tmp_path)
    assert isinstance(data, StreamedSplit) and data.input_shape == (3, 5, 6)
    with pytest.raises(Exception) as caught:
        for part in ("train", "val"):
            all_batches(data, part)
    (tmp_path / "empty").mkdir()

    assert getattr(caught.value, "field", None) == "data.path"
    assert "2.png" in str(caught.value) and "cannot read the image" in str(caught.value)
    assert "holds no images" in config_error(spec, "data.path", base_dir=tmp_path)


# A user's own datasets -----------------------------------------------------------------------


def test_a_single_dataset_is_split_seeded_and_stratified() -> None:
    data = load_data({"name": f"{FACTORIES}:single", "stream": True, "n": 120})
    again = load_data({"name": f"{FACTORIES}:single", "stream": True, "n": 120})

    assert isinstance(data, StreamedSplit)
    assert (data.size("train"), data.size("val")) == (96, 24)
    assert np.bincount(data.y_train).tolist() == [32, 32, 32]
    assert torch.equal(materialize(data).x_val, materialize(again).x_val)


def test_a_dataset_without_targets_has_its_labels_read_in_one_pass(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="tunelab"):
        data = load_data({"name": f"{FACTORIES}:single", "with_targets": False})

    assert isinstance(data, DataSplit) and data.n_classes == 3
    assert "Reading the labels of the dataset (120 items)" in caplog.text


@pytest.mark.parametrize("factory", ["parts", "by_name"])
def test_parts_already_split_are_kept(factory: str) -> None:
    data = load_data({"name": f"{FACTORIES}:{factory}", "stream": True})

    assert isinstance(data, StreamedSplit)
    assert (data.size("train"), data.size("val"), data.size("test")) == (90, 30, 0)
    assert data.task == "classification" and data.n_classes == 3 and data.input_shape == (4,)


def test_small_datasets_are_held_in_memory_and_float_labels_mean_regression() -> None:
    data = load_data({"name": f"{FACTORIES}:regression"})

    assert isinstance(data, DataSplit) and data.task == "regression"
    assert data.y_train.shape == (72, 1)


@pytest.mark.parametrize(
    ("spec", "field", "fragments"),
    [
        ({"name": f"{FACTORIES}:raises"}, "data.name", ["RuntimeError", "data server is down"]),
        ({"name": f"{FACTORIES}:not_a_dataset"}, "data.name", ["whose train part is a int"]),
        ({"name": f"{FACTORIES}:iterable"}, "data.name", ["IterableDataset"]),
        ({"name": f"{FACTORIES}:single", "colour": 1}, "data.name", ["colour"]),
        ({"name": f"{FACTORIES}:missing"}, "data.name", ["has no function 'missing'"]),
        ({"name": f"{FACTORIES}:parts", "classes": [0, 1]}, "data.classes", ["already split"]),
    ],
    ids=["raises", "wrong-type", "iterable", "unknown-option", "missing", "classes"],
)
def test_a_bad_factory_is_refused_before_training(
    spec: dict[str, object], field: str, fragments: list[str]
) -> None:
    message = config_error(spec, field)

    for fragment in fragments:
        assert fragment in message


def test_an_item_of_another_shape_or_with_a_nan_is_named_when_read() -> None:
    ragged = load_data({"name": f"{FACTORIES}:ragged", "stream": True})
    nan = load_data({"name": f"{FACTORIES}:with_nan", "stream": True})

    with pytest.raises(Exception) as shape:
        all_batches(ragged, "train")
    with pytest.raises(Exception) as value:
        all_batches(nan, "val")

    assert "item 7 of the training part has an input of shape (3,)" in str(shape.value)
    assert "item 15 of the validation part holds a NaN" in str(value.value)


def test_rotate_and_invert_are_refused_for_data_not_read_whole(images: Path) -> None:
    streamed = config_error(npy(rotate=90), "data.rotate", base_dir=images)
    made = config_error({"name": f"{FACTORIES}:single", "invert": True}, "data.invert")

    assert "these npy data are streamed from disk" in streamed and "stream: false" in streamed
    assert "made by the function" in made
    held = load_data(npy(False, rotate=90), base_dir=images)
    assert isinstance(held, DataSplit) and held.input_shape == (3, 4, 4)


def test_streamed_sequences_are_normalized_per_feature_over_every_step() -> None:
    streamed = load_data({"name": f"{FACTORIES}:sequences", "stream": True})
    in_memory = load_data({"name": f"{FACTORIES}:sequences", "stream": False})
    assert isinstance(streamed, StreamedSplit) and isinstance(in_memory, DataSplit)

    shift, scale = streamed.statistics("standardize")

    assert streamed.input_shape == (5, 3) and streamed.vocabulary == ()
    assert shift.shape == scale.shape == (1, 1, 3)
    expected = normalize(in_memory, "standardize").x_val
    assert torch.allclose((in_memory.x_val - shift) / scale, expected, atol=1e-5)


def test_one_loader_serves_every_part_as_a_loader_per_part_would(images: Path) -> None:
    data = load_data(npy(num_workers=1), base_dir=images)
    assert isinstance(data, StreamedSplit)
    order = torch.Generator()
    loader, batches = data.parts_loader(16, CPU, order)

    for seed in (0, 1):
        order.manual_seed(seed)
        batches.part = "train"
        shuffled = [data.checked("train", batch) for batch in loader]
        alone = data.loader("train", 16, CPU, torch.Generator().manual_seed(seed))
        expected = [data.checked("train", batch) for batch in alone]
        assert [b[1].tolist() for b in shuffled] == [b[1].tolist() for b in expected]
        assert all(torch.equal(a[0], b[0]) for a, b in zip(shuffled, expected))
        batches.part = "val"
        in_order = [data.checked("val", batch)[1].tolist() for batch in loader]
        assert in_order == [y.tolist() for _, y in all_batches(data, "val")]


def test_a_failure_in_the_validation_part_names_it_through_the_shared_loader() -> None:
    nan = load_data({"name": f"{FACTORIES}:with_nan", "stream": True})
    assert isinstance(nan, StreamedSplit)
    loader, batches = nan.parts_loader(16, CPU, torch.Generator().manual_seed(0))
    batches.part = "val"

    with pytest.raises(Exception) as value:
        [nan.checked("val", batch) for batch in loader]
    assert "item 15 of the validation part holds a NaN" in str(value.value)
