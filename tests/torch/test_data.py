from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.torch.data import load_digits_split

N_DIGITS = 1797


@pytest.fixture(scope="module")
def split():
    return load_digits_split(seed=0)


def test_split_sizes_follow_val_fraction():
    data = load_digits_split(seed=0, val_fraction=0.25)

    assert len(data.x_val) == len(data.y_val) == 450
    assert len(data.x_train) == len(data.y_train) == N_DIGITS - 450


def test_tensors_are_ready_for_a_classifier(split):
    assert split.x_train.dtype == split.x_val.dtype == torch.float32
    assert split.y_train.dtype == split.y_val.dtype == torch.int64
    assert split.x_train.shape[1] == split.x_val.shape[1] == split.n_features == 64
    assert split.n_classes == 10
    assert set(split.y_val.tolist()) == set(range(10))


def test_split_is_stratified(split):
    train_counts = torch.bincount(split.y_train, minlength=10).double()
    val_counts = torch.bincount(split.y_val, minlength=10).double()

    val_share = val_counts / (train_counts + val_counts)

    assert torch.all((val_share - 0.2).abs() < 0.01)


def test_standardization_uses_training_statistics_only(split):
    digits = load_digits()
    raw_train, raw_val = train_test_split(
        digits.data, test_size=0.2, random_state=0, stratify=digits.target
    )
    mean = raw_train.mean(axis=0)
    std = raw_train.std(axis=0)
    std[std == 0.0] = 1.0

    np.testing.assert_allclose(split.x_val.numpy(), (raw_val - mean) / std, atol=1e-5)
    varying = raw_train.std(axis=0) > 0
    np.testing.assert_allclose(split.x_train.numpy().mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(split.x_train.numpy()[:, varying].std(axis=0), 1.0, atol=1e-4)


def test_constant_pixels_become_zero_not_nan(split):
    assert torch.isfinite(split.x_train).all()
    assert torch.isfinite(split.x_val).all()
    constant = split.x_train.std(dim=0) == 0
    assert constant.any()
    assert (split.x_train[:, constant] == 0).all()


def test_same_seed_gives_same_split_and_another_seed_does_not(split):
    again = load_digits_split(seed=0)
    other = load_digits_split(seed=1)

    assert torch.equal(split.x_val, again.x_val)
    assert torch.equal(split.y_train, again.y_train)
    assert not torch.equal(split.x_val, other.x_val)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_val_fraction_outside_the_open_unit_interval_is_refused(fraction):
    with pytest.raises(ConfigError, match="val_fraction"):
        load_digits_split(val_fraction=fraction)


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
