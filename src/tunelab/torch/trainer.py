"""Training loop for classifiers, built to be called once per trial.

The loop is seeded and runs on the CPU over in-memory tensors, so that two trials with the same
hyperparameters and seed give the same numbers and differences between trials come from the
hyperparameters alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from numbers import Integral

import torch
from torch import nn
from torch.nn import functional as F

from tunelab.exceptions import ConfigError
from tunelab.torch.data import DataSplit

EpochCallback = Callable[[int, float], None]

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "rmsprop": torch.optim.RMSprop,
}
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")


@dataclass(frozen=True)
class TrainResult:
    """What a training run achieved on the validation split, epoch by epoch."""

    best_val_accuracy: float
    final_val_accuracy: float
    val_accuracy: tuple[float, ...]
    val_loss: tuple[float, ...]
    epochs_run: int


def train_classifier(
    model: nn.Module,
    data: DataSplit,
    *,
    optimizer: str,
    lr: float,
    batch_size: int,
    epochs: int,
    seed: int,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train ``model`` with cross-entropy and measure it on the validation split after each epoch.

    Epochs count from 1. ``on_epoch(epoch, val_accuracy)`` runs after each epoch so that an
    objective can report to its trial and stop a hopeless one by raising; whatever it raises
    propagates to the caller. A non-finite training loss raises ``FloatingPointError`` at once,
    because further epochs of a diverged model would only waste the trial's time.
    """
    _check_training_options(lr, batch_size, epochs, momentum, weight_decay)
    torch.manual_seed(seed)
    shuffle_generator = torch.Generator().manual_seed(seed)
    opt = _make_optimizer(optimizer, model.parameters(), lr, momentum, weight_decay)
    accuracies: list[float] = []
    losses: list[float] = []
    for epoch in range(1, epochs + 1):
        _train_one_epoch(model, data, opt, batch_size, shuffle_generator, epoch)
        accuracy, loss = _evaluate(model, data.x_val, data.y_val)
        accuracies.append(accuracy)
        losses.append(loss)
        if on_epoch is not None:
            on_epoch(epoch, accuracy)
    return TrainResult(
        best_val_accuracy=max(accuracies),
        final_val_accuracy=accuracies[-1],
        val_accuracy=tuple(accuracies),
        val_loss=tuple(losses),
        epochs_run=len(accuracies),
    )


@torch.no_grad()
def _evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(x)
    accuracy = (logits.argmax(dim=1) == y).sum().item() / len(y)
    return accuracy, F.cross_entropy(logits, y).item()


def _train_one_epoch(
    model: nn.Module,
    data: DataSplit,
    opt: torch.optim.Optimizer,
    batch_size: int,
    generator: torch.Generator,
    epoch: int,
) -> None:
    model.train()
    order = torch.randperm(len(data.x_train), generator=generator)
    for batch in order.split(batch_size):
        loss = F.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(
                f"training loss became {loss_value} in epoch {epoch}; the model diverged, "
                "lower the learning rate."
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _make_optimizer(
    name: str,
    params: Iterable[nn.Parameter],
    lr: float,
    momentum: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    try:
        optimizer_class = OPTIMIZERS[name]
    except KeyError:
        choices = ", ".join(repr(choice) for choice in OPTIMIZERS)
        raise ConfigError(
            f"optimizer must be one of {choices}, got {name!r}; pick one of those names."
        ) from None
    if momentum == 0.0:
        return optimizer_class(params, lr=lr, weight_decay=weight_decay)
    if name not in MOMENTUM_OPTIMIZERS:
        raise ConfigError(
            f"momentum applies to {' and '.join(map(repr, MOMENTUM_OPTIMIZERS))} only, got "
            f"momentum={momentum!r} with optimizer {name!r}; leave momentum at 0.0 for {name}."
        )
    return optimizer_class(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _check_training_options(
    lr: float, batch_size: int, epochs: int, momentum: float, weight_decay: float
) -> None:
    if not lr > 0.0:
        raise ConfigError(f"lr must be positive, got {lr!r}; use e.g. 1e-3.")
    for field, value in (("batch_size", batch_size), ("epochs", epochs)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ConfigError(f"{field} must be a positive integer, got {value!r}; use 1 or more.")
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"momentum must lie in [0, 1), got {momentum!r}; use e.g. 0.9.")
    if not weight_decay >= 0.0:
        raise ConfigError(f"weight_decay must be 0 or positive, got {weight_decay!r}.")
