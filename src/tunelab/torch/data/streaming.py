"""Data read from disk batch by batch through a ``DataLoader``, for data larger than memory.

A :class:`StreamedSplit` holds ``torch.utils.data.Dataset`` parts instead of tensors: memory-mapped
array rows, image files decoded one at a time, or a user's own datasets. The checks that the
in-memory path makes once up front are made here where they are cheap (files, labels, shapes)
and otherwise per batch, as batches arrive: a NaN, a label out of range, an unreadable image or
an item of the wrong shape raises the same :class:`~tunelab.exceptions.ConfigError`, naming the
file, row or item. An error found in a loader's worker process travels back as data
(:class:`ItemFailure`), so that the user reads the message, not the worker's traceback.

Whether a source streams is the data spec's ``stream`` option: ``auto`` (the default) keeps the
features in memory, the fast path, unless as float32 tensors they would take more than
:data:`STREAM_ABOVE` of the memory available; the choice and its reason are logged.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, Sampler, Subset

from tunelab.exceptions import ConfigError
from tunelab.torch.data.base import DataSplit, is_integer, option_error
from tunelab.torch.data.normalization import RunningStatistics

STREAM_OPTIONS: dict[str, Any] = {
    "stream": "auto",
    "num_workers": 0,
    "pin_memory": "auto",
    "persistent_workers": True,
    "prefetch_factor": 2,
}
STREAM_CHOICES = ("auto", True, False)
STREAM_ABOVE = 0.25
"""``stream: auto`` streams features that would take more than this share of available memory:
trials in worker processes each hold a copy, and training needs room besides."""

PARTS = ("train", "val", "test")
_PART_NAMES = {"train": "training", "val": "validation", "test": "test"}
logger = logging.getLogger("tunelab")


@dataclass(frozen=True)
class LoaderOptions:
    """How batches are loaded: the data spec's ``DataLoader`` options.

    ``pin_memory`` None pins batches when they go to a CUDA device, so that their copy there
    overlaps the computation (copies are non-blocking).
    """

    num_workers: int = 0
    pin_memory: bool | None = None
    persistent_workers: bool = True
    prefetch_factor: int = 2

    @classmethod
    def parse(cls, options: Mapping[str, Any]) -> LoaderOptions:
        """The options of a data spec, checked; an unusable value names its option."""
        workers, prefetch = options["num_workers"], options["prefetch_factor"]
        if not is_integer(workers) or workers < 0:
            raise option_error("num_workers", f"must be a whole number >= 0, got {workers!r}; "
                               "0 loads batches in the training process, 2 in two others.")
        if not is_integer(prefetch) or prefetch < 1:
            raise option_error("prefetch_factor", f"must be a whole number >= 1, got "
                               f"{prefetch!r}: the batches each worker loads ahead, e.g. 2.")
        pin, persistent = options["pin_memory"], options["persistent_workers"]
        if pin != "auto" and not isinstance(pin, bool):
            raise option_error("pin_memory", f"must be true, false or auto, got {pin!r}.")
        if not isinstance(persistent, bool):
            raise option_error("persistent_workers", f"must be true or false, got "
                               f"{persistent!r}.")
        return cls(int(workers), None if pin == "auto" else pin, persistent, int(prefetch))

    def loader(
        self,
        dataset: Dataset[Any],
        batch_size: int,
        collate: Callable[[list[Any]], Any],
        device: torch.device,
        order: torch.Generator | None = None,
        batches: Sampler[list[int]] | None = None,
    ) -> DataLoader[Any]:
        """A loader of ``dataset``'s items in ``batch_size`` batches, shuffled by ``order``
        when it is given; or in the ``batches`` that sampler draws.

        ``order`` draws the permutations and nothing else: the loader seeds its workers from
        a generator of its own, so that neither the order nor torch's global random state
        depends on the number of workers or on whether they persist.
        """
        workers = self.num_workers
        batching: dict[str, Any] = {"batch_sampler": batches} if batches is not None else {
            "batch_size": batch_size,
            "sampler": None if order is None else RandomSampler(dataset, generator=order),  # type: ignore[arg-type]
        }
        return DataLoader(
            dataset,
            **batching,
            generator=torch.Generator().manual_seed(0),
            num_workers=workers,
            collate_fn=collate,
            pin_memory=device.type == "cuda" if self.pin_memory is None else self.pin_memory,
            persistent_workers=self.persistent_workers and workers > 0,
            prefetch_factor=self.prefetch_factor if workers > 0 else None,
        )


@dataclass(frozen=True)
class ItemFailure:
    """A checked error met while reading an item, handed back as data from a worker."""

    option: str
    message: str

    def raise_error(self) -> None:
        raise option_error(self.option, self.message)


class Indexed(Dataset[Any]):
    """Items as (index, x, y), so that a batch names the items it holds; a ConfigError met
    while reading one becomes an :class:`ItemFailure`.

    A loader fetches a batch's items in one call (:meth:`__getitems__`), which saves a call
    per item through this wrapper.
    """

    def __init__(self, dataset: Dataset[Any]) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        dataset = self.dataset
        try:
            return [(index, dataset[index]) for index in indices]
        except ConfigError as error:
            return [ItemFailure((error.field or "data.name").removeprefix("data."),
                                str(error).removeprefix(f"{error.field}: "))]


@dataclass(frozen=True)
class Collate:
    """Stacks (index, (x, y)) items into (indices, x, y), or hands on the first failure: an
    item that is no (input, label) pair, or whose input is not shaped like the others.

    The checks are made on the whole batch, and an item is looked at alone only to name the
    one that failed them: per item, they cost more than reading the item.
    """

    part: str
    option: str  # the data option that gives the items, for errors
    input_shape: tuple[int, ...] | None  # None: learn it from the first item
    classification: bool

    def __call__(self, samples: list[Any]) -> Any:
        if isinstance(samples[0], ItemFailure):
            return samples[0]
        indices = [index for index, _ in samples]
        items = [item for _, item in samples]
        if not all(isinstance(item, (tuple, list)) and len(item) == 2 for item in items):
            first = next(i for i, item in enumerate(items)
                         if not isinstance(item, (tuple, list)) or len(item) != 2)
            return ItemFailure(self.option, f"{self._where(indices[first])} is a "
                               f"{type(items[first]).__name__}, not a pair (input, label); make "
                               "the dataset's __getitem__ return one.")
        xs = [_tensor(item[0]) for item in items]
        expected = self.input_shape or tuple(xs[0].shape)
        if any(x.shape != expected for x in xs):
            first = next(i for i, x in enumerate(xs) if x.shape != expected)
            return ItemFailure(self.option, f"{self._where(indices[first])} has an input of "
                               f"shape {tuple(xs[first].shape)}, but the others have "
                               f"{expected}; give every item the same shape (resize or pad "
                               "them in the dataset).")
        labels = [item[1] for item in items]
        if any(isinstance(label, torch.Tensor) for label in labels):
            y = torch.stack([_tensor(label) for label in labels])
        else:  # numbers or arrays: one conversion for the batch
            y = torch.as_tensor(np.asarray(labels))
        y = y.long().reshape(-1) if self.classification else y.float().reshape(len(y), -1)
        # The indices stay a list: a loader worker sends each tensor through a shared memory
        # segment of its own, which costs more than pickling a few hundred numbers.
        return indices, torch.stack(xs), y

    def _where(self, index: int) -> str:
        return f"item {index} of the {_PART_NAMES[self.part]} part"


def _tensor(value: Any) -> torch.Tensor:
    return value if isinstance(value, torch.Tensor) else torch.as_tensor(np.asarray(value))


class PartsEndToEnd(Dataset[Any]):
    """The parts' items laid end to end, so that one loader, and one set of worker processes,
    serves every part: item ``start + i`` is item ``i`` of the part that starts at ``start``.

    A batch comes from one part (see :class:`PartBatches`); its items come as
    (part number, index in the part, item), or as the part's one :class:`ItemFailure`.
    """

    def __init__(self, parts: list[Dataset[Any]]) -> None:
        self.parts = [Indexed(part) for part in parts]
        self.starts = list(itertools.accumulate((len(part) for part in self.parts), initial=0))

    def __len__(self) -> int:
        return self.starts[-1]

    def __getitem__(self, index: int) -> Any:
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        number = bisect.bisect_right(self.starts, indices[0]) - 1
        start = self.starts[number]
        samples = self.parts[number].__getitems__([index - start for index in indices])
        if isinstance(samples[0], ItemFailure):
            return samples
        return [(number, index, item) for index, item in samples]


@dataclass(frozen=True)
class CollateParts:
    """Each batch of :class:`PartsEndToEnd` collated as its own part's :class:`Collate` does."""

    collates: tuple[Collate, ...]

    def __call__(self, samples: list[Any]) -> Any:
        if isinstance(samples[0], ItemFailure):
            return samples[0]
        return self.collates[samples[0][0]]([(index, item) for _, index, item in samples])


class PartBatches(Sampler[list[int]]):
    """The batches of one part at a time (the one named by :attr:`part` when a loader's pass
    starts), as indices into :class:`PartsEndToEnd`; the training part shuffled by ``order``,
    as ``RandomSampler`` shuffles it, the others in order."""

    def __init__(self, sizes: dict[str, int], batch_size: int, order: torch.Generator) -> None:
        self.sizes, self.batch_size, self.order = sizes, batch_size, order
        self.starts = dict(zip(sizes, itertools.accumulate(sizes.values(), initial=0)))
        self.part = "train"

    def __len__(self) -> int:
        return math.ceil(self.sizes[self.part] / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        size, start = self.sizes[self.part], self.starts[self.part]
        rows = torch.randperm(size, generator=self.order) if self.part == "train" else \
            torch.arange(size)
        for batch in (rows + start).split(self.batch_size):
            yield batch.tolist()


@dataclass(frozen=True, eq=False)
class StreamedSplit:
    """A dataset split into training, validation and test ``Dataset`` parts, read in batches.

    The counterpart of :class:`~tunelab.torch.data.DataSplit` for data that stays on disk:
    items are (x, y) with x shaped ``input_shape`` (any numeric dtype; training sees float32)
    and y a class index or a target vector. ``y_train`` holds the training part's labels or
    targets, read up front (for the checks, and for regression targets' scale).
    """

    train: Dataset[Any]
    val: Dataset[Any]
    test: Dataset[Any]
    task: str
    n_classes: int | None
    input_shape: tuple[int, ...]
    y_train: np.ndarray
    loading: LoaderOptions
    x_field: str = "path"
    y_field: str = "path"
    class_names: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    _statistics: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """Empty: streamed features reach training as float32, never as token ids (text data
        are held in memory, as a :class:`~tunelab.torch.data.DataSplit` with its vocabulary)."""
        return ()

    @property
    def n_outputs(self) -> int:
        """How many outputs a model needs: one logit per class, or one value per target."""
        if self.n_classes is not None:
            return self.n_classes
        return int(self.y_train.shape[1])

    def size(self, part: str) -> int:
        return len(getattr(self, part))

    def loader(
        self,
        part: str,
        batch_size: int,
        device: torch.device,
        order: torch.Generator | None = None,
    ) -> DataLoader[Any]:
        """A loader of the part's batches as (indices, x, y), shuffled by ``order`` if given;
        pass the batches to :meth:`checked`."""
        return self.loading.loader(Indexed(getattr(self, part)), batch_size, self._collate(part),
                                   device, order)

    def parts_loader(
        self, batch_size: int, device: torch.device, order: torch.Generator
    ) -> tuple[DataLoader[Any], PartBatches]:
        """One loader of every part's batches as (indices, x, y), and its batches: set their
        ``part`` before each pass. Its worker processes serve all parts, where a loader per part
        would keep a set of workers, each holding its own memory, per part."""
        collate = CollateParts(tuple(self._collate(part) for part in PARTS))
        batches = PartBatches({part: self.size(part) for part in PARTS}, batch_size, order)
        dataset = PartsEndToEnd([getattr(self, part) for part in PARTS])
        loader = self.loading.loader(dataset, batch_size, collate, device, batches=batches)
        return loader, batches

    def _collate(self, part: str) -> Collate:
        return Collate(part, self.x_field, self.input_shape, self.task == "classification")

    def checked(self, part: str, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """A loaded batch's (x, y), after the checks the in-memory path makes up front."""
        if isinstance(batch, ItemFailure):
            batch.raise_error()
        indices, x, y = batch
        if x.is_floating_point():
            self._refuse_rows(part, indices, ~torch.isfinite(x.reshape(len(x), -1)).all(dim=1),
                              self.x_field, "holds a NaN or infinite value; training on it would "
                              "turn the loss into NaN. Fill in or drop those values")
        if self.n_classes is not None:
            bad = (y < 0) | (y >= self.n_classes)
            self._refuse_rows(part, indices, bad, self.y_field, f"has a label out of range: "
                              f"class labels are indices 0..{self.n_classes - 1}. Renumber the "
                              "labels, or set n_classes")
        else:
            self._refuse_rows(part, indices, ~torch.isfinite(y).all(dim=1), self.y_field,
                              "has a NaN or infinite target; fill in or drop those values")
        return x, y

    def batches(
        self, part: str, batch_size: int, device: torch.device
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The part's checked batches in order, as they come from disk (on the CPU)."""
        for batch in self.loader(part, batch_size, device):
            yield self.checked(part, batch)

    def statistics(self, mode: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Shift and scale of ``normalize(..., mode)``, from one pass over the training part,
        kept for the next trial."""
        with self._lock:
            if mode not in self._statistics:
                running = RunningStatistics()
                for x, _ in self.batches("train", 1024, torch.device("cpu")):
                    running.update(x)
                self._statistics.update(running.shift_scale())
            return self._statistics[mode]

    def sample(self, n: int) -> torch.Tensor:
        """The first ``n`` training inputs, as float32 (to try a model on)."""
        x, _ = next(self.batches("train", n, torch.device("cpu")))
        return x.float()

    def describe(self, part: str, index: int) -> str:
        """Where the part's item ``index`` comes from: a file, an array row, or its place."""
        dataset = getattr(self, part)
        locate = getattr(dataset, "locate", None)
        if locate is not None:
            return str(locate(index))
        if isinstance(dataset, Subset):
            return f"item {dataset.indices[index]} of the dataset"
        return f"item {index} of the {_PART_NAMES[part]} part"

    def _refuse_rows(
        self, part: str, indices: Sequence[int], bad: torch.Tensor, option: str, problem: str
    ) -> None:
        if bad.any():
            first = int(indices[int(bad.nonzero()[0])])
            raise option_error(option, f"{self.describe(part, first)} {problem}.")


def wants_streaming(option: Any, in_memory_bytes: int, what: str) -> bool:
    """Whether to stream, as the ``stream`` option says; ``auto`` decides by size. Logged."""
    if option not in STREAM_CHOICES:
        raise option_error("stream", f"must be auto, true or false, got {option!r}; auto holds "
                           "small data in memory and streams data too large for it.")
    size = f"{in_memory_bytes / 2**20:,.0f} MB as float32"
    if option is not True and option is not False:
        available = available_memory()
        option = in_memory_bytes > STREAM_ABOVE * available
        share = f"{'more' if option else 'less'} than {STREAM_ABOVE:.0%} of the " \
                f"{available / 2**30:.1f} GB of memory available"
        reason = f"stream: auto, and {what} would take {size}, {share}"
    else:
        reason = f"stream: {str(option).lower()} ({what}: {size})"
    logger.info("Data %s: %s.", "streamed from disk" if option else "held in memory", reason)
    return bool(option)


def available_memory() -> int:
    """Bytes of memory this machine can still give (all of it, where it cannot say)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def materialize(data: StreamedSplit) -> DataSplit:
    """The split held in memory as tensors, read (and checked) batch by batch."""
    tensors: dict[str, torch.Tensor] = {}
    for part in PARTS:
        batches = list(data.batches(part, 1024, torch.device("cpu")))
        xs = [x.float() for x, _ in batches] or [torch.empty(0, *data.input_shape)]
        empty = torch.empty(0, dtype=torch.int64) if data.n_classes else torch.empty(
            0, data.n_outputs)
        ys = [y for _, y in batches] or [empty]
        tensors[f"x_{part}"], tensors[f"y_{part}"] = torch.cat(xs), torch.cat(ys)
    return DataSplit(
        x_train=tensors["x_train"], y_train=tensors["y_train"], x_val=tensors["x_val"],
        y_val=tensors["y_val"], x_test=tensors["x_test"], y_test=tensors["y_test"],
        task=data.task, n_classes=data.n_classes, input_shape=data.input_shape,
        class_names=data.class_names, feature_names=data.feature_names,
    )

