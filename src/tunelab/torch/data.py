"""Datasets for the training engine, prepared once and held as ready-to-use tensors.

Data live in memory as tensors so that a trial spends its time training, not in a data
loader.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from tunelab.exceptions import ConfigError, MissingExtraError

try:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError as exc:
    raise MissingExtraError("scikit-learn", "torch", "tunelab.torch.data") from exc


@dataclass(frozen=True)
class DataSplit:
    """A classification dataset split into a training part and a validation part.

    Features are float32; labels are int64 class indices, the form cross-entropy expects.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    n_features: int
    n_classes: int


def load_digits_split(seed: int = 0, val_fraction: float = 0.2) -> DataSplit:
    """Load scikit-learn's 8x8 digits as 64-vectors, split and standardized.

    The split is stratified so that every class keeps its share in both parts, and the
    standardization uses training statistics only so that validation accuracy is not
    flattered by information from the validation set.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(
            f"val_fraction must lie strictly between 0 and 1, got {val_fraction!r}; "
            "pass a fraction such as 0.2."
        )
    digits = load_digits()
    x_train, x_val, y_train, y_val = train_test_split(
        digits.data,
        digits.target,
        test_size=val_fraction,
        random_state=seed,
        stratify=digits.target,
    )
    x_train, x_val = _standardize(x_train, x_val)
    return DataSplit(
        x_train=_as_float32(x_train),
        y_train=torch.from_numpy(y_train.astype(np.int64)),
        x_val=_as_float32(x_val),
        y_val=torch.from_numpy(y_val.astype(np.int64)),
        n_features=digits.data.shape[1],
        n_classes=len(digits.target_names),
    )


def _standardize(x_train: np.ndarray, x_val: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale features to zero mean and unit variance on the training split.

    Pixels that never change in the training split (a constant border) keep a scale of one,
    so they become zero instead of a division by zero.
    """
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0.0] = 1.0
    return (x_train - mean) / std, (x_val - mean) / std


def _as_float32(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
