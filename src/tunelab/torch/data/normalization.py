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
    check_normalization(mode)
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
    check_normalization(mode)
    if mode == "none" or not x_train.is_floating_point():
        return x
    shift, scale = _statistics(x_train, mode)
    return (x - shift) / scale


def check_normalization(mode: str) -> None:
    """Refuse a normalization mode that is not one of :data:`NORMALIZATIONS`."""
    if mode not in NORMALIZATIONS:
        raise ConfigError(
            f"normalization: unknown mode {mode!r}{did_you_mean(str(mode), NORMALIZATIONS)}; "
            f"choose one of: {', '.join(NORMALIZATIONS)}.",
            field="normalization",
        )


def _statistics(x_train: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift and scale, shaped to broadcast over (N, F), (N, T, F) or (N, C, H, W)."""
    assert len(x_train) > 0
    dims = [dim for dim in range(x_train.dim()) if dim != feature_dim(x_train)]
    x = x_train.double()  # sums of many float32 values lose digits
    low = x.amin(dim=dims, keepdim=True)
    high = x.amax(dim=dims, keepdim=True)
    if mode == "standardize":
        shift, scale = x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True, correction=0)
    else:
        shift, scale = low, high - low
    return _constant_kept(shift, scale, low, high)


def feature_dim(x: torch.Tensor) -> int:
    """The axis that statistics are kept per: the last axis of a sequence (N, T, F), the
    feature axis of vectors (N, F) and the channel axis of images (N, C, H, W)."""
    return 2 if x.dim() == 3 else 1


def _constant_kept(
    shift: torch.Tensor, scale: torch.Tensor, low: torch.Tensor, high: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift and scale as float32, a constant feature given a scale of 1."""
    # Compare extremes, not the spread: a rounded mean leaves a tiny nonzero spread on a constant.
    constant = low == high
    shift = torch.where(constant, low, shift)
    scale = torch.where(constant, torch.ones_like(scale), scale)
    return shift.float(), scale.float()


class RunningStatistics:
    """The statistics of :func:`normalize`, gathered batch by batch in one pass over data that
    does not fit in memory: per feature (or channel) the extremes, and mean and variance merged
    across batches as Chan, Golub and LeVeque's pairwise update does, which stays exact where a
    running sum of squares would lose digits."""

    def __init__(self) -> None:
        self.count = 0
        self.mean = self.m2 = self.low = self.high = torch.empty(0, dtype=torch.float64)
        self.shape: list[int] = []

    def update(self, x: torch.Tensor) -> None:
        """Add a batch (N, F), (N, T, F) or (N, C, H, W)."""
        if not len(x):
            return
        axis = feature_dim(x)
        columns = x.double().movedim(axis, 0).reshape(x.shape[axis], -1)
        n = columns.shape[1]
        mean = columns.mean(dim=1)
        m2 = ((columns - mean[:, None]) ** 2).sum(dim=1)
        low, high = columns.amin(dim=1), columns.amax(dim=1)
        if self.count == 0:
            self.shape = [x.shape[axis] if dim == axis else 1 for dim in range(x.dim())]
            self.count, self.mean, self.m2, self.low, self.high = n, mean, m2, low, high
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * n / total)
        self.low, self.high = torch.minimum(self.low, low), torch.maximum(self.high, high)
        self.count = total

    def shift_scale(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Shift and scale for each mode but none, shaped to broadcast over a batch."""
        assert self.count > 0
        low, high = self.low.view(self.shape), self.high.view(self.shape)
        std = (self.m2 / self.count).sqrt().view(self.shape)
        return {
            "standardize": _constant_kept(self.mean.view(self.shape), std, low, high),
            "minmax": _constant_kept(low, high - low, low, high),
        }
