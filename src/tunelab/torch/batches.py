"""Where the trainer's batches come from: tensors held in memory, or a ``DataLoader``.

Both hand the trainer batches ready for the model: on its device, features normalized with the
training part's statistics and regression targets standardized. In memory, that is done once
for the whole split and a batch is an index into it, the fast path. Streamed from disk, each
batch is checked as it arrives (see :mod:`tunelab.torch.data.streaming`), copied to the device
without blocking (from pinned memory on CUDA) and rescaled there.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from tunelab.torch.data import DataSplit, StreamedSplit

EVAL_CHUNK = 4096
Batch = tuple[torch.Tensor, torch.Tensor]
Scale = tuple[torch.Tensor, torch.Tensor]


class MemoryBatches:
    """Batches drawn from a split held in memory, already prepared for training."""

    def __init__(self, data: DataSplit) -> None:
        self.data = data

    def size(self, part: str) -> int:
        return len(getattr(self.data, f"x_{part}"))

    def train(self, generator: torch.Generator, batch_size: int) -> Iterator[Batch]:
        """The epoch's batches, in an order drawn from ``generator``."""
        x, y = self.data.x_train, self.data.y_train
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for batch in order.split(batch_size):
            yield x[batch], y[batch]

    def evaluation(self, part: str) -> Iterator[Batch]:
        """The part in order, in chunks that bound the memory a forward pass takes."""
        x, y = getattr(self.data, f"x_{part}"), getattr(self.data, f"y_{part}")
        yield from zip(x.split(EVAL_CHUNK), y.split(EVAL_CHUNK))

    def first(self, n: int) -> Batch:
        """The first ``n`` training examples, to try the model on."""
        return self.data.x_train[:n], self.data.y_train[:n]


class LoaderBatches:
    """Batches read from disk by one ``DataLoader`` for every part, which lives (with its
    worker processes, where ``persistent_workers``) as long as this object does.

    The training part is shuffled by a generator of its own, reseeded from the trainer's at
    the start of every epoch, so that a seeded run, or one resumed from a checkpoint, sees
    the same batches in the same order.
    """

    def __init__(
        self,
        data: StreamedSplit,
        batch_size: int,
        device: torch.device,
        feature_scale: Scale | None,
        target_scale: Scale | None,
    ) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.feature_scale = _on(feature_scale, device)
        self.target_scale = _on(target_scale, device)
        self.order = torch.Generator()
        self.loader, self.parts = data.parts_loader(batch_size, device, self.order)

    def size(self, part: str) -> int:
        return self.data.size(part)

    def train(self, generator: torch.Generator, batch_size: int) -> Iterator[Batch]:
        assert batch_size == self.batch_size
        self.order.manual_seed(int(torch.randint(2**62, (1,), generator=generator)))
        yield from self._batches("train")

    def evaluation(self, part: str) -> Iterator[Batch]:
        yield from self._batches(part)

    def first(self, n: int) -> Batch:
        """The first ``n`` training examples, to try the model on."""
        x, y = next(self.data.batches("train", n, torch.device("cpu")))
        return self._prepared(x, y)

    def _batches(self, part: str) -> Iterator[Batch]:
        self.parts.part = part
        for batch in self.loader:
            yield self._prepared(*self.data.checked(part, batch))

    def _prepared(self, x: torch.Tensor, y: torch.Tensor) -> Batch:
        x = x.to(self.device, non_blocking=True).float()
        if self.feature_scale is not None:
            shift, scale = self.feature_scale
            x = (x - shift) / scale
        y = y.to(self.device, non_blocking=True)
        if self.target_scale is not None:
            mean, std = self.target_scale
            y = (y - mean) / std
        return x, y


def _on(scale: Scale | None, device: torch.device) -> Scale | None:
    return None if scale is None else (scale[0].to(device), scale[1].to(device))
