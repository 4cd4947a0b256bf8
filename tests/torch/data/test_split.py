from __future__ import annotations

import numpy as np
import torch

from tunelab.torch.data import load_data

from .helpers import config_error, numeric_rows, write_csv

N_DIGITS = 1797


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
    for part, share in zip(counts, (0.6, 0.2, 0.2), strict=True):
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


def test_train_per_class_thins_training_only(digits):
    few = load_data({"name": "digits", "train_per_class": 5})

    assert torch.bincount(few.y_train, minlength=10).tolist() == [5] * 10
    assert torch.equal(few.x_val, digits.x_val) and torch.equal(few.y_val, digits.y_val)
    full_rows = {row.numpy().tobytes() for row in digits.x_train}
    assert all(row.numpy().tobytes() in full_rows for row in few.x_train)
    assert torch.equal(few.y_train, load_data({"name": "digits", "train_per_class": 5}).y_train)


def test_class_too_small_to_stratify_is_named(tmp_path):
    rows = numeric_rows()
    rows[0][3] = 2
    write_csv(tmp_path / "data.csv", ["a", "b", "c", "label"], rows)

    message = config_error({"name": "csv", "path": "data.csv", "target": "label"}, "data.classes",
                           base_dir=tmp_path)

    assert "class '2' has 1 sample" in message


def test_empty_training_part_is_refused(tmp_path):
    np.savez(tmp_path / "data.npz", x=np.ones((3, 2)), y=np.zeros(3))

    message = config_error({"name": "npz", "path": "data.npz", "val_fraction": 0.5,
                            "test_fraction": 0.4}, "data.val_fraction", base_dir=tmp_path)

    assert "0 samples for the training part" in message
