"""Rescaling features by statistics of the training part, so nothing leaks from validation."""

from __future__ import annotations

import dataclasses

import torch

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean
from tunelab.torch.data.base import DataSplit

NORMALIZATIONS = ("none", "standardize", "minmax")


def normalize(split: DataSplit, mode: str) -> DataSplit:
    """The split with its features rescaled by statistics of the training part only.

    ``standardize`` gives zero mean and unit variance, ``minmax`` the range [0, 1], per feature
    for vectors and per channel for images; ``none`` returns the split as it is. Validation and
    test features go through the same shift and scale, so no information about them leaks into
    training. A feature that is constant in training keeps a scale of 1 and so becomes 0 there,
    not NaN. Targets are left alone.
    """
    _check_mode(mode)
    if mode == "none" or not split.x_train.is_floating_point():
        return split
    shift, scale = _statistics(split.x_train, mode)
    return dataclasses.replace(
        split,
        x_train=(split.x_train - shift) / scale,
        x_val=(split.x_val - shift) / scale,
        x_test=(split.x_test - shift) / scale,
    )


def normalize_like(x: torch.Tensor, x_train: torch.Tensor, mode: str) -> torch.Tensor:
    """Features ``x`` rescaled as :func:`normalize` rescales the validation features of a split
    whose training features are ``x_train``: inputs made up outside the data (a blank image,
    say) in the units a model trained on that split sees."""
    _check_mode(mode)
    if mode == "none" or not x_train.is_floating_point():
        return x
    shift, scale = _statistics(x_train, mode)
    return (x - shift) / scale


def _check_mode(mode: str) -> None:
    if mode not in NORMALIZATIONS:
        raise ConfigError(
            f"normalization: unknown mode {mode!r}{did_you_mean(str(mode), NORMALIZATIONS)}; "
            f"choose one of: {', '.join(NORMALIZATIONS)}.",
            field="normalization",
        )


def _statistics(x_train: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift and scale, shaped to broadcast over (N, F), (N, T, F) or (N, C, H, W)."""
    assert len(x_train) > 0
    # Features are the last axis of a sequence (N, T, F), the channel axis of an image.
    feature_dim = 2 if x_train.dim() == 3 else 1
    dims = [dim for dim in range(x_train.dim()) if dim != feature_dim]
    x = x_train.double()  # sums of many float32 values lose digits
    low = x.amin(dim=dims, keepdim=True)
    high = x.amax(dim=dims, keepdim=True)
    if mode == "standardize":
        shift, scale = x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True, correction=0)
    else:
        shift, scale = low, high - low
    # Compare extremes, not the spread: a rounded mean leaves a tiny nonzero spread on a constant.
    constant = low == high
    shift = torch.where(constant, low, shift)
    scale = torch.where(constant, torch.ones_like(scale), scale)
    return shift.float(), scale.float()
