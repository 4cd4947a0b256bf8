"""Dataset functions that study files and tests name as ``tests.torch.data.factories:<name>``."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, TensorDataset


def _blobs(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three well-separated classes of 4 features."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    x = rng.normal(size=(n, 4)) * 0.3 + y[:, None] * 2.0
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y)


class Labelled(Dataset):
    """Items (x, y) from tensors; ``with_targets`` gives it torchvision's ``targets``."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, with_targets: bool = True) -> None:
        self.x, self.y = x, y
        if with_targets:
            self.targets = y.tolist()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.x[index], int(self.y[index])


def single(n: int = 120, with_targets: bool = True) -> Dataset:
    return Labelled(*_blobs(n), with_targets=with_targets)


def parts(test: bool = False) -> tuple[Dataset, ...]:
    x, y = _blobs(150)
    split = (TensorDataset(x[:90], y[:90]), TensorDataset(x[90:120], y[90:120]))
    return (*split, TensorDataset(x[120:], y[120:])) if test else split


def sequences() -> Dataset:
    """Items of 5 steps of 3 features on scales 1, 10 and 100, in three classes."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5, 3)) * [1.0, 10.0, 100.0]
    return Labelled(torch.from_numpy(x.astype(np.float32)), torch.arange(60) % 3)


def by_name() -> dict[str, Dataset]:
    train, val = parts()
    return {"train": train, "val": val}


def regression() -> Dataset:
    x, _ = _blobs(90)
    return TensorDataset(x, x.sum(dim=1, keepdim=True))


def raises() -> Dataset:
    raise RuntimeError("the data server is down")


def not_a_dataset() -> list[int]:
    return [1, 2, 3]


class _Stream(IterableDataset):
    def __iter__(self):  # pragma: no cover - never iterated
        yield from ()


def iterable() -> IterableDataset:
    return _Stream()


class _Ragged(Labelled):
    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x, y = super().__getitem__(index)
        return (x[:3] if index == 7 else x), y


def ragged() -> tuple[Dataset, Dataset]:
    x, y = _blobs(90)
    return _Ragged(x[:60], y[:60]), Labelled(x[60:], y[60:])


def with_nan() -> tuple[Dataset, Dataset]:
    x, y = _blobs(90)
    x[75, 2] = float("nan")
    return Labelled(x[:60], y[:60]), Labelled(x[60:], y[60:])
