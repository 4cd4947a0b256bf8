from __future__ import annotations

import pytest
import torch

from tunelab.torch.data import BUILTIN_DATASETS, load_data


@pytest.mark.parametrize(
    ("name", "input_shape", "task", "n_classes", "n_rows"),
    [
        ("digits", (64,), "classification", 10, 1797),
        ("digits_images", (1, 8, 8), "classification", 10, 1797),
        ("digits_sequences", (8, 8), "classification", 10, 1797),
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


def test_feature_vectors_keep_scikit_learns_feature_names_and_pictures_none():
    assert load_data("iris").feature_names == (
        "sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"
    )
    digits = load_data("digits").feature_names
    assert len(digits) == 64 and digits[:2] == ("pixel_0_0", "pixel_0_1")
    assert load_data("digits_images").feature_names == ()


def test_digits_images_are_the_digit_vectors_reshaped(digits):
    images = load_data("digits_images")

    assert images.x_train.shape[1:] == (1, 8, 8)
    assert torch.equal(images.x_train.reshape(-1, 64), digits.x_train)
    assert torch.equal(images.y_val, digits.y_val)


def test_digits_sequences_are_the_pictures_read_a_row_per_step():
    images, sequences = load_data("digits_images"), load_data("digits_sequences")

    assert torch.equal(sequences.x_train, images.x_train[:, 0])
    assert sequences.feature_names == ()
