"""What a training run recorded, as its trial keeps it in the storage (JSON): its epochs, where
its loss stopped being finite if it did, and how many examples it was validated on.

The training engine (:mod:`tunelab.torch.telemetry`, :mod:`tunelab.torch.trainer`) measures
and writes these records; the figures, the doctor and the report read them from here, which
needs no PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from tunelab._attrs import (
    ARTIFACT_ATTR,
    DIVERGENCE_ATTR,
    PER_FOLD_PREFIX,
    TELEMETRY_ATTR,
    VALIDATION_SIZE_ATTR,
)
from tunelab.trial import TrialRecord

WEIGHTS_FILE = "best.pt"  # a trial's best weights, in its artifact folder
# Where telemetry comes from, for every message about a trial that has none.
HOW_TO_RECORD = (
    "wrap the training loop in tunelab.torch.watch(trial, model), add the callback of "
    "tunelab.integrations.lightning or tunelab.integrations.keras, or train with tunelab.torch "
    "(a Task as the objective, or a Trainer given the trial)"
)


@dataclass(frozen=True)
class ActivationStats:
    """Output statistics of one activation layer over the probe batch.

    ``dead`` is the fraction of units (features, or channels of a convolution) whose output is
    the same for every probe input: a ReLU that never fires or a saturated sigmoid. Such a unit
    passes no gradient and no information. ``kind`` is the layer's class ("ReLU", "Sigmoid",
    ...; empty in telemetry recorded before it was kept).
    """

    mean: float
    std: float
    dead: float
    kind: str = ""


# The distributions of values a layer's weights, gradients and activations had in an epoch,
# as these quantiles (TensorBoard's distribution view draws the same bands). Nine numbers per
# layer and kind keep a run's telemetry small whatever the size of its layers.
QUANTILE_LEVELS = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
DISTRIBUTION_KINDS = ("weights", "gradients", "activations")
# The bounds on what one trial stores: distributions of at most this many layers per kind
# (the first, the last and evenly spaced ones between) and of at most this many epochs (past
# it, every other older epoch's are dropped; the first and the latest are kept). At 4
# significant digits, 3 kinds x 16 layers x 9 quantiles x 48 epochs is under 300 kB of JSON
# per trial (280 kB with layer names of 16 characters).
MAX_DISTRIBUTION_LAYERS = 16
MAX_DISTRIBUTION_EPOCHS = 48


@dataclass(frozen=True)
class EpochTelemetry:
    """One epoch of a training run. ``finished_at`` is when the epoch ended (seconds since
    the Unix epoch), so that progress can be placed in time across trials and processes;
    None in telemetry recorded before it was kept. ``distributions`` maps each of
    DISTRIBUTION_KINDS to each layer's QUANTILE_LEVELS in this epoch (weights at its end,
    gradients at its last sampled step, activations over the probe inputs); empty
    where they were not measured or were dropped to bound the size (see
    MAX_DISTRIBUTION_EPOCHS)."""

    epoch: int
    train_loss: float
    val_loss: float
    train_metric: float
    val_metric: float
    lr: float
    epoch_time: float
    peak_memory_mb: float
    grad_norm: Mapping[str, float] = field(default_factory=dict)
    activations: Mapping[str, ActivationStats] = field(default_factory=dict)
    finished_at: float | None = None
    distributions: Mapping[str, Mapping[str, Sequence[float]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self._json

    @cached_property
    def _json(self) -> dict[str, Any]:
        # A trial stores its whole history at every epoch: each epoch is converted once.
        # A quantity that was not measured (a user's loop without validation loss) or that
        # was not a number is nan here and null in the storage, which holds strict JSON.
        # Built by hand: dataclasses.asdict deep-copies every number of the distributions.
        data: dict[str, Any] = {
            name: None if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in ((f.name, getattr(self, f.name)) for f in fields(self))
        }
        data["grad_norm"] = dict(self.grad_norm)
        data["activations"] = {name: asdict(s) for name, s in self.activations.items()}
        data["distributions"] = {
            kind: {layer: list(q) for layer, q in layers.items()}
            for kind, layers in self.distributions.items()
        }
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EpochTelemetry:
        activations = {name: ActivationStats(**s) for name, s in data["activations"].items()}
        numbers = {name: math.nan for name in _NUMBER_FIELDS if data.get(name, 0) is None}
        return cls(**{**data, **numbers, "activations": activations})


# The fields stored as null when not a finite number (finished_at is None when unknown).
_NUMBER_FIELDS = (
    "train_loss", "val_loss", "train_metric", "val_metric", "lr", "epoch_time", "peak_memory_mb"
)


def bounded_distributions(history: list[EpochTelemetry]) -> list[EpochTelemetry]:
    """``history`` with the distributions of every other older epoch dropped once more than
    MAX_DISTRIBUTION_EPOCHS epochs hold them (the first and the latest keep theirs), so a
    long run's telemetry stays within its bound (see MAX_DISTRIBUTION_LAYERS)."""
    holding = [index for index, epoch in enumerate(history) if epoch.distributions]
    if len(holding) <= MAX_DISTRIBUTION_EPOCHS:
        return history
    dropped = set(holding[1:-1:2])
    return [
        replace(epoch, distributions={}) if index in dropped else epoch
        for index, epoch in enumerate(history)
    ]


def spread_layers(names: Sequence[str]) -> list[str]:
    """At most MAX_DISTRIBUTION_LAYERS of ``names``: all, or the first, the last and evenly
    spaced ones between, in order."""
    if len(names) <= MAX_DISTRIBUTION_LAYERS:
        return list(names)
    step = (len(names) - 1) / (MAX_DISTRIBUTION_LAYERS - 1)
    return [names[round(k * step)] for k in range(MAX_DISTRIBUTION_LAYERS)]


def has_telemetry(record: TrialRecord) -> bool:
    """Whether the training engine stored per-epoch telemetry with this trial."""
    return bool(record.system_attrs.get(TELEMETRY_ATTR))


def read_telemetry(record: TrialRecord) -> list[EpochTelemetry]:
    """The per-epoch telemetry the training engine stored with a trial (empty if none)."""
    return [EpochTelemetry.from_json(e) for e in record.system_attrs.get(TELEMETRY_ATTR, [])]


@dataclass(frozen=True)
class Divergence:
    """Where a run's training loss stopped being a finite number.

    ``step`` counts from 1 within ``epoch`` (None where the loop that trained did not say:
    :func:`tunelab.torch.watch` sees only epochs); ``loss`` is the value it became (nan, inf or
    -inf); ``lr`` is the run's base learning rate (the recipe's, before any schedule). The
    storage holds strict JSON, which has no such numbers: the JSON form writes the loss as
    text ("nan", "inf", "-inf").
    """

    epoch: int
    step: int | None
    loss: float
    lr: float

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "step": self.step, "loss": str(self.loss), "lr": self.lr}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Divergence:
        return cls(
            epoch=int(data["epoch"]),
            step=None if data["step"] is None else int(data["step"]),
            loss=float(data["loss"]),
            lr=float(data["lr"]),
        )


def read_divergence(record: TrialRecord) -> Divergence | None:
    """Where the trial's training diverged, if the training engine recorded that it did.

    A cross-validated trial keeps the record per fold (:mod:`tunelab.cv`); its divergence is
    the first fold's that diverged, the one that failed it.
    """
    data = record.system_attrs.get(DIVERGENCE_ATTR)
    if data is None:
        per_fold = record.system_attrs.get(PER_FOLD_PREFIX + DIVERGENCE_ATTR) or []
        data = next((fold for fold in per_fold if fold is not None), None)
    return None if data is None else Divergence.from_json(data)


def read_validation_size(record: TrialRecord) -> int | None:
    """How many examples the trial's validation metric was taken on, where the training
    engine recorded it (a cross-validated trial: all its folds' together); None otherwise."""
    size = record.system_attrs.get(VALIDATION_SIZE_ATTR)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        return None
    return size


def artifact_dir(record: TrialRecord) -> str | None:
    """The folder where the training engine saved this trial's best weights, if any."""
    return record.system_attrs.get(ARTIFACT_ATTR)


def weights_file(record: TrialRecord) -> Path | None:
    """The file holding this trial's best weights, if the training engine saved one."""
    folder = artifact_dir(record)
    if folder is None or not (Path(folder) / WEIGHTS_FILE).is_file():
        return None
    return Path(folder) / WEIGHTS_FILE
