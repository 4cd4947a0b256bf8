from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.exceptions import ConfigError
from tunelab.torch.data import load_data, normalize, normalize_like
from tunelab.torch.data.normalization import RunningStatistics, feature_dim


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


@pytest.mark.parametrize("mode", ["standardize", "minmax", "none"])
def test_made_up_inputs_are_normalized_like_the_validation_part(mode):
    data = load_data("wine")
    scaled = normalize(data, mode)

    np.testing.assert_allclose(normalize_like(data.x_val, data.x_train, mode).numpy(),
                               scaled.x_val.numpy(), rtol=1e-6)
    blank = normalize_like(torch.zeros(1, 13), data.x_train, mode)
    assert blank.shape == (1, 13) and torch.isfinite(blank).all()


def test_unknown_normalization_is_refused():
    with pytest.raises(ConfigError) as caught:
        normalize(load_data("iris"), "standardise")
    assert caught.value.field == "normalization"
    assert "did you mean 'standardize'?" in str(caught.value)
    assert "none, standardize, minmax" in str(caught.value)


def test_sequence_statistics_are_per_feature_over_every_step():
    data = load_data("digits_sequences")
    train = data.x_train.double().numpy().reshape(-1, 8)  # a row per step, a column per feature
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0

    scaled = normalize(data, "standardize")

    expected = (data.x_val.double().numpy() - mean) / std
    np.testing.assert_allclose(scaled.x_val.numpy(), expected, rtol=1e-4, atol=1e-5)


def test_token_ids_are_left_as_they_are(tmp_path):
    rows = "\n".join(f"word{i % 3} word{i % 5},{i % 2}" for i in range(20))
    (tmp_path / "t.csv").write_text("text,label\n" + rows + "\n")
    data = load_data({"name": "text", "path": str(tmp_path / "t.csv"), "text": "text",
                      "target": "label"})

    assert normalize(data, "standardize") is data
    assert normalize_like(data.x_val, data.x_train, "minmax") is data.x_val


@pytest.mark.parametrize("shape", [(50, 3), (30, 4, 3), (40, 2, 3, 3)])
def test_running_statistics_match_the_statistics_of_the_whole(shape: tuple[int, ...]) -> None:
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0)) * 5 + 100
    # A constant feature (the last axis of a sequence) or channel keeps a scale of 1.
    x.select(feature_dim(x), 1).fill_(7.0)
    running = RunningStatistics()
    for batch in x.split(7):
        running.update(batch)

    for mode, (shift, scale) in running.shift_scale().items():
        expected = normalize_like(x, x, mode)
        assert torch.allclose((x - shift) / scale, expected, atol=1e-5), mode
