from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_wine

import torch
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.torch.data import BUILTIN_DATASETS, DataSplit, load_data, normalize

N_DIGITS = 1797


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data("digits")


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


# --- splitting ----------------------------------------------------------------------------------


def test_split_sizes_follow_the_fractions_of_all_rows():
    data = load_data({"name": "digits", "val_fraction": 0.25})
    assert len(data.x_val) == len(data.y_val) == 450
    assert len(data.x_train) == len(data.y_train) == N_DIGITS - 450
    assert data.x_test.shape == (0, 64) and data.y_test.shape == (0,)

    with_test = load_data({"name": "digits", "val_fraction": 0.2, "test_fraction": 0.1})
    assert (len(with_test.y_train), len(with_test.y_val), len(with_test.y_test)) == (1257, 360, 180)


def test_every_part_is_stratified():
    data = load_data({"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2})
    parts = (data.y_train, data.y_val, data.y_test)
    counts = [torch.bincount(y, minlength=10).double() for y in parts]
    total = sum(counts)
    for part, share in zip(counts, (0.6, 0.2, 0.2)):
        assert torch.all((part / total - share).abs() < 0.02)


def test_same_seed_gives_same_split_and_another_seed_does_not(digits):
    again = load_data({"name": "digits", "seed": 0})
    other = load_data({"name": "digits", "seed": 1})

    assert torch.equal(digits.x_val, again.x_val)
    assert torch.equal(digits.y_train, again.y_train)
    assert not torch.equal(digits.x_val, other.x_val)


def test_test_part_is_split_off_first_so_val_fraction_does_not_move_it():
    small = load_data({"name": "wine", "test_fraction": 0.2, "val_fraction": 0.1})
    large = load_data({"name": "wine", "test_fraction": 0.2, "val_fraction": 0.3})

    assert torch.equal(small.x_test, large.x_test)
    assert len(small.y_val) < len(large.y_val)


# --- built-in datasets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "input_shape", "task", "n_classes", "n_rows"),
    [
        ("digits", (64,), "classification", 10, 1797),
        ("digits_images", (1, 8, 8), "classification", 10, 1797),
        ("iris", (4,), "classification", 3, 150),
        ("wine", (13,), "classification", 3, 178),
        ("breast_cancer", (30,), "classification", 2, 569),
        ("diabetes", (10,), "regression", None, 442),
    ],
)
def test_builtin_datasets(name, input_shape, task, n_classes, n_rows):
    data = load_data(name)

    assert name in BUILTIN_DATASETS
    assert (data.task, data.n_classes, data.input_shape) == (task, n_classes, input_shape)
    assert len(data.y_train) + len(data.y_val) == n_rows
    assert data.x_train.shape[1:] == data.x_val.shape[1:] == input_shape
    assert data.x_train.dtype == data.x_val.dtype == torch.float32
    if task == "classification":
        assert data.y_train.dtype == torch.int64
        assert set(data.y_val.tolist()) == set(range(n_classes))
        assert len(data.class_names) == data.n_outputs == n_classes
    else:
        assert data.y_train.dtype == torch.float32
        assert data.y_train.shape == (len(data.x_train), 1)
        assert data.n_outputs == 1 and data.class_names == ()


def test_digits_images_are_the_digit_vectors_reshaped(digits):
    images = load_data("digits_images")

    assert images.x_train.shape[1:] == (1, 8, 8)
    assert torch.equal(images.x_train.reshape(-1, 64), digits.x_train)
    assert torch.equal(images.y_val, digits.y_val)


# --- classes and few labels ---------------------------------------------------------------------


def test_classes_keeps_the_listed_ones_and_renumbers_them_in_order():
    wine = load_wine()
    rows = wine.data.astype(np.float32)
    original = {row.tobytes(): label for row, label in zip(rows, wine.target)}

    data = load_data({"name": "wine", "classes": ["class_2", 0]})

    assert data.n_classes == 2 and data.class_names == ("class_2", "class_0")
    x = torch.cat([data.x_train, data.x_val]).numpy()
    y = torch.cat([data.y_train, data.y_val]).tolist()
    assert len(y) == int(np.sum(wine.target != 1))
    assert [original[row.tobytes()] for row in x] == [[2, 0][label] for label in y]


def test_unknown_class_is_refused_with_a_suggestion():
    message = config_error({"name": "iris", "classes": ["setosa", "virginca"]}, "data.classes")
    assert "'virginca'" in message and "did you mean 'virginica'?" in message
    assert "setosa, versicolor, virginica" in message


def test_train_per_class_thins_training_only(digits):
    few = load_data({"name": "digits", "train_per_class": 5})

    assert torch.bincount(few.y_train, minlength=10).tolist() == [5] * 10
    assert torch.equal(few.x_val, digits.x_val) and torch.equal(few.y_val, digits.y_val)
    full_rows = {row.numpy().tobytes() for row in digits.x_train}
    assert all(row.numpy().tobytes() in full_rows for row in few.x_train)
    assert torch.equal(few.y_train, load_data({"name": "digits", "train_per_class": 5}).y_train)


def test_classification_options_are_refused_for_regression():
    message = config_error({"name": "diabetes", "train_per_class": 3}, "data.train_per_class")
    assert "regression" in message


# --- csv ----------------------------------------------------------------------------------------


def numeric_rows(n_per_class: int = 10) -> list[list[object]]:
    return [[i, 2 * i + 0.5, -i, i % 2] for i in range(2 * n_per_class)]


def test_csv_with_numeric_labels_round_trips(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": "data.csv", "target": "label"}, base_dir=tmp_path)

    assert data.task == "classification" and data.n_classes == 2
    assert data.class_names == ("0", "1") and data.input_shape == (3,)
    x = torch.cat([data.x_train, data.x_val])
    y = torch.cat([data.y_train, data.y_val])
    assert torch.equal(x[:, 1], 2 * x[:, 0] + 0.5) and torch.equal(x[:, 2], -x[:, 0])
    assert torch.equal(y, x[:, 0].long() % 2)


def test_csv_features_subset_keeps_the_given_order(tmp_path):
    path = write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": str(path), "target": "label", "features": ["c", "a"]})

    assert data.input_shape == (2,)
    assert torch.equal(data.x_train[:, 0], -data.x_train[:, 1])


def test_csv_with_text_labels_maps_them_in_sorted_order(tmp_path):
    animals = ["dog", "cat", "bird"]
    rows = [[i, animals[i % 3]] for i in range(15)]
    path = write_csv(tmp_path / "pets.csv", ["size", "animal"], rows)

    data = load_data({"name": "csv", "path": path, "target": "animal"})

    assert data.class_names == ("bird", "cat", "dog")
    x = torch.cat([data.x_train, data.x_val])[:, 0].long()
    y = torch.cat([data.y_train, data.y_val])
    assert [data.class_names[label] for label in y] == [animals[size % 3] for size in x]


def test_csv_task_is_inferred_from_the_target(tmp_path):
    continuous = [[i, i / 3] for i in range(20)]
    many_integers = [[i, 10 * i] for i in range(30)]
    write_csv(tmp_path / "float.csv", ["x", "y"], continuous)
    write_csv(tmp_path / "ints.csv", ["x", "y"], many_integers)

    floats = load_data({"name": "csv", "path": "float.csv", "target": "y"}, base_dir=tmp_path)
    ints = load_data({"name": "csv", "path": "ints.csv", "target": "y"}, base_dir=tmp_path)

    assert floats.task == ints.task == "regression"
    assert floats.n_classes is None and floats.n_outputs == 1
    assert floats.y_train.dtype == torch.float32 and floats.y_train.shape == (16, 1)
    np.testing.assert_allclose(floats.y_train[:, 0], floats.x_train[:, 0] / 3, rtol=1e-6)
    assert torch.equal(ints.y_train[:, 0], 10 * ints.x_train[:, 0])


def test_csv_task_can_be_forced(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    data = load_data({"name": "csv", "path": "data.csv", "target": "label", "task": "regression"},
                     base_dir=tmp_path)

    assert data.task == "regression" and data.y_train.shape[1] == 1


# --- npz ----------------------------------------------------------------------------------------


def test_npz_vectors_round_trip(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    np.savez(tmp_path / "data.npz", features=x, labels=np.arange(20) % 2)

    data = load_data({"name": "npz", "path": "data.npz", "x": "features", "y": "labels"},
                     base_dir=tmp_path)

    assert data.task == "classification" and data.n_classes == 2 and data.input_shape == (3,)
    assert torch.equal(data.y_train, (data.x_train[:, 0].long() // 3) % 2)


def test_npz_images_get_a_channel_axis_and_float_targets_mean_regression(tmp_path):
    gray = np.random.default_rng(0).random((10, 5, 6))
    np.savez(tmp_path / "gray.npz", x=gray, y=np.linspace(0, 1, 10))
    rgb = np.zeros((12, 3, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "rgb.npz", x=rgb, y=np.arange(12) % 3)

    gray_data = load_data({"name": "npz", "path": "gray.npz"}, base_dir=tmp_path)
    rgb_spec = {"name": "npz", "path": "rgb.npz", "val_fraction": 0.25}
    rgb_data = load_data(rgb_spec, base_dir=tmp_path)

    assert gray_data.input_shape == (1, 5, 6) and gray_data.task == "regression"
    assert gray_data.y_train.shape == (8, 1)
    assert rgb_data.input_shape == (3, 4, 4) and rgb_data.n_classes == 3
    assert rgb_data.x_train.dtype == torch.float32


# --- image folders ------------------------------------------------------------------------------


def image_folder(root: Path) -> Path:
    """Three red and three blue images of mixed sizes, the first 6 wide and 4 high."""
    for i, size in enumerate([(6, 4), (5, 5), (6, 4)]):
        write_image(root / "red" / f"{i}.png", (255, 0, 0), size)
        write_image(root / "blue" / f"{i}.PNG", (0, 0, 255), size)
    (root / "red" / "notes.txt").write_text("not an image")
    return root


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
    for image, label in zip(x, y):
        assert torch.allclose(image.mean(dim=(1, 2)), red if label == 1 else blue)


# --- normalization ------------------------------------------------------------------------------


def test_standardize_uses_training_statistics_only():
    data = load_data("wine")
    train = data.x_train.double().numpy()
    mean, std = train.mean(axis=0), train.std(axis=0)

    scaled = normalize(data, "standardize")

    expected = (data.x_val.numpy() - mean) / std
    np.testing.assert_allclose(scaled.x_val.numpy(), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(scaled.x_train.numpy().mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(scaled.x_train.numpy().std(axis=0), 1.0, atol=1e-4)
    assert torch.equal(scaled.y_val, data.y_val)
    assert not torch.equal(scaled.x_val, data.x_val)  # the input split is left as it was


def test_minmax_uses_training_statistics_only():
    data = load_data({"name": "wine", "test_fraction": 0.2})
    train = data.x_train.double().numpy()
    low, high = train.min(axis=0), train.max(axis=0)

    scaled = normalize(data, "minmax")

    expected = (data.x_test.numpy() - low) / (high - low)
    np.testing.assert_allclose(scaled.x_test.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert scaled.x_train.min() == 0.0 and abs(scaled.x_train.max().item() - 1.0) < 1e-6


def test_image_statistics_are_per_channel(tmp_path):
    x = np.random.default_rng(0).random((20, 2, 3, 3)) + np.array([0.0, 100.0])[None, :, None, None]
    np.savez(tmp_path / "images.npz", x=x, y=np.arange(20) % 2)
    data = load_data({"name": "npz", "path": "images.npz"}, base_dir=tmp_path)

    scaled = normalize(data, "standardize")
    train = data.x_train.double().numpy()
    mean = train.mean(axis=(0, 2, 3))[None, :, None, None]
    std = train.std(axis=(0, 2, 3))[None, :, None, None]

    np.testing.assert_allclose(scaled.x_val.numpy(), (data.x_val.numpy() - mean) / std, atol=1e-4)
    np.testing.assert_allclose(scaled.x_train.numpy().mean(axis=(0, 2, 3)), 0.0, atol=1e-5)


@pytest.mark.parametrize("mode", ["standardize", "minmax"])
def test_constant_features_become_zero_not_nan(digits, mode):
    constant = digits.x_train.amin(dim=0) == digits.x_train.amax(dim=0)
    assert constant.any()

    scaled = normalize(digits, mode)

    assert torch.isfinite(scaled.x_train).all() and torch.isfinite(scaled.x_val).all()
    assert (scaled.x_train[:, constant] == 0).all()


def test_none_leaves_the_split_as_it_is(digits):
    assert normalize(digits, "none") is digits


def test_unknown_normalization_is_refused():
    with pytest.raises(ConfigError) as caught:
        normalize(load_data("iris"), "standardise")
    assert caught.value.field == "normalization"
    assert "did you mean 'standardize'?" in str(caught.value)
    assert "none, standardize, minmax" in str(caught.value)


# --- bad input ----------------------------------------------------------------------------------


def test_missing_csv_file_names_the_absolute_path(tmp_path):
    message = config_error({"name": "csv", "path": "nope.csv", "target": "y"}, "data.path",
                           base_dir=tmp_path)
    assert str(tmp_path.resolve() / "nope.csv") in message


def test_missing_npz_file_names_the_absolute_path(tmp_path):
    message = config_error({"name": "npz", "path": str(tmp_path / "sub" / "nope.npz")}, "data.path")
    assert str(tmp_path.resolve() / "sub" / "nope.npz") in message


def test_missing_image_folder_names_the_absolute_path(tmp_path):
    message = config_error({"name": "image_folder", "path": "pictures"}, "data.path",
                           base_dir=tmp_path)
    assert str(tmp_path.resolve() / "pictures") in message


def test_wrong_target_column_lists_the_columns(tmp_path):
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], numeric_rows())

    message = config_error({"name": "csv", "path": "data.csv", "target": "lable"}, "data.target",
                           base_dir=tmp_path)

    assert "'lable'" in message and "did you mean 'label'?" in message
    assert "a, b, c, label" in message


def test_nan_in_features_names_count_line_and_column(tmp_path):
    rows = numeric_rows()
    rows[2][1] = "nan"
    rows[5][1] = "inf"
    path = write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": path, "target": "label"}, "data.features")

    assert "2 NaN or infinite" in message
    assert f"line 4 of {path}" in message and "column 'b'" in message


def test_nan_in_npz_features_names_the_row(tmp_path):
    x = np.ones((10, 2))
    x[7, 1] = np.nan
    np.savez(tmp_path / "data.npz", x=x, y=np.arange(10) % 2)

    message = config_error({"name": "npz", "path": "data.npz"}, "data.x", base_dir=tmp_path)

    assert "1 NaN or infinite" in message and "row 7" in message


def test_non_numeric_feature_names_the_column_and_line(tmp_path):
    rows = numeric_rows()
    rows[3][2] = "high"
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label"}, "data.features",
                           base_dir=tmp_path)

    assert "column 'c'" in message and "'high'" in message and "line 5" in message


def test_label_beyond_declared_n_classes_is_out_of_range(tmp_path):
    rows = numeric_rows()
    rows[6][3] = 4
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label", "n_classes": 3},
                           "data.n_classes", base_dir=tmp_path)

    assert "out of range" in message and "label 4" in message and "line 8" in message


def test_negative_npz_label_is_out_of_range(tmp_path):
    y = np.arange(10) % 2
    y[3] = -1
    np.savez(tmp_path / "data.npz", x=np.ones((10, 2)), y=y)

    message = config_error({"name": "npz", "path": "data.npz"}, "data.y", base_dir=tmp_path)

    assert "out of range" in message and "label -1" in message and "row 3" in message


def test_missing_npz_key_lists_the_keys(tmp_path):
    np.savez(tmp_path / "data.npz", inputs=np.ones((4, 2)), y=np.zeros(4))

    message = config_error({"name": "npz", "path": "data.npz"}, "data.x", base_dir=tmp_path)

    assert "inputs, y" in message


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


def test_unknown_dataset_name_lists_the_names():
    message = config_error("digts", "data.name")
    assert "did you mean 'digits'?" in message
    assert "iris" in message and "image_folder" in message


def test_unknown_option_lists_the_options():
    message = config_error({"name": "iris", "val_fractoin": 0.1}, "data.val_fractoin")
    assert "did you mean 'val_fraction'?" in message and "train_per_class" in message


@pytest.mark.parametrize(
    ("val_fraction", "test_fraction", "field"),
    [
        (0.0, 0.0, "data.val_fraction"),
        (1.0, 0.0, "data.val_fraction"),
        (-0.1, 0.0, "data.val_fraction"),
        ("0.2", 0.0, "data.val_fraction"),
        (0.2, -0.1, "data.test_fraction"),
        (0.2, 1.0, "data.test_fraction"),
        (0.6, 0.4, "data.test_fraction"),
    ],
)
def test_bad_fractions_are_refused(val_fraction, test_fraction, field):
    spec = {"name": "iris", "val_fraction": val_fraction, "test_fraction": test_fraction}
    assert "fraction" in config_error(spec, field)


def test_class_too_small_to_stratify_is_named(tmp_path):
    rows = numeric_rows()
    rows[0][3] = 2
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label"}, "data.classes",
                           base_dir=tmp_path)

    assert "class '2' has 1 sample" in message


def test_single_class_is_refused():
    message = config_error({"name": "iris", "classes": ["setosa"]}, "data.classes")
    assert "at least 2 classes" in message and "setosa" in message


def test_empty_training_part_is_refused(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.ones((3, 2)), y=np.zeros(3))

    message = config_error({"name": "npz", "path": "data.npz", "val_fraction": 0.5,
                            "test_fraction": 0.4}, "data.val_fraction", base_dir=tmp_path)

    assert "0 samples for the training part" in message


# --- missing extras -----------------------------------------------------------------------------


def forget_tunelab_torch(monkeypatch):
    for name in list(sys.modules):
        if name == "tunelab.torch" or name.startswith("tunelab.torch."):
            monkeypatch.delitem(sys.modules, name)


def test_missing_torch_names_the_extra_to_install(monkeypatch):
    forget_tunelab_torch(monkeypatch)
    monkeypatch.setitem(sys.modules, "torch", None)

    with pytest.raises(MissingExtraError, match=r"'torch'.*tunelab\[torch\]"):
        importlib.import_module("tunelab.torch")


def test_missing_scikit_learn_names_the_extra_to_install(monkeypatch):
    forget_tunelab_torch(monkeypatch)
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)

    with pytest.raises(MissingExtraError, match=r"'scikit-learn'.*tunelab\[torch\]"):
        importlib.import_module("tunelab.torch.data")
