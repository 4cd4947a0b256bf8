"""Datasets for the training engine, checked, split and held in memory as tensors.

Everything a data spec can get wrong (a missing file, a misspelt column, a NaN, a label out of
range, a class too small to stratify) is found here, before the first trial starts, and reported
as a :class:`~tunelab.exceptions.ConfigError` that names the option at fault. A study that would
otherwise fail in every trial, or worse train on garbage, fails once with a message saying what to
fix. Data live in memory as tensors so that a trial spends its time training, not in a loader,
unless they are too large for it: then they stay on disk and are read in batches
(:mod:`.streaming`), with the same checks made as the batches arrive.

Each source has a module of its own (:mod:`.builtin`, :mod:`.tabular` for csv files,
:mod:`.arrays` for npz archives and npy files, :mod:`.images` for image folders,
:mod:`.factory` for a user's own datasets); :mod:`.load` reads the spec
and hands what a source read to :mod:`.labels` and :mod:`.split`.
"""

from tunelab.torch.data.base import TASKS, DataSplit
from tunelab.torch.data.builtin import BUILTIN_DATASETS
from tunelab.torch.data.images import IMAGE_EXTENSIONS
from tunelab.torch.data.load import load_data
from tunelab.torch.data.normalization import NORMALIZATIONS, normalize, normalize_like
from tunelab.torch.data.streaming import LoaderOptions, StreamedSplit
from tunelab.torch.data.tabular import MAX_INFERRED_CLASSES

__all__ = [
    "BUILTIN_DATASETS",
    "IMAGE_EXTENSIONS",
    "MAX_INFERRED_CLASSES",
    "NORMALIZATIONS",
    "TASKS",
    "DataSplit",
    "LoaderOptions",
    "StreamedSplit",
    "load_data",
    "normalize",
    "normalize_like",
]
