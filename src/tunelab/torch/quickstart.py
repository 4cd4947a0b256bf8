"""The built-in quickstart: tune a small MLP on scikit-learn's digits.

It shows tunelab's define-by-run API on a problem that trains in seconds on a laptop CPU, with a
conditional parameter (momentum exists only for SGD) and per-epoch reports that let a pruner
stop poor trials early.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import torch

from tunelab.exceptions import TrialPruned
from tunelab.torch.data import DataSplit, load_digits_split
from tunelab.torch.models import build_mlp
from tunelab.torch.trainer import train_classifier

QUICKSTART_STUDY_NAME = "quickstart-digits-mlp"
EPOCHS = 20
DATA_SEED = 0


class QuickstartTrial(Protocol):
    """The part of a trial that the quickstart objective uses."""

    number: int

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...


def objective(trial: QuickstartTrial) -> float:
    """Train one MLP with the hyperparameters ``trial`` suggests; return its best val accuracy.

    Each epoch's validation accuracy is reported to the trial, and the trial is abandoned with
    :class:`~tunelab.exceptions.TrialPruned` as soon as the pruner asks for it. Training uses a
    single CPU thread: the model is too small to gain from a second one, and on a busy machine
    extra threads make every step wait for a free core.
    """
    lr = trial.suggest_float("lr", 1e-4, 3e-1, log=True)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    momentum = trial.suggest_float("momentum", 0.0, 0.95) if optimizer == "sgd" else 0.0
    width = trial.suggest_int("width", 16, 256, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    batch_size = trial.suggest_categorical("batch_size", [16, 32, 64, 128])

    def report(epoch: int, val_accuracy: float) -> None:
        trial.report(val_accuracy, step=epoch)
        if trial.should_prune():
            raise TrialPruned()

    torch.set_num_threads(1)
    data = _digits()
    torch.manual_seed(trial.number)
    model = build_mlp(data.n_features, data.n_classes, width=width, dropout=dropout)
    result = train_classifier(
        model,
        data,
        optimizer=optimizer,
        lr=lr,
        batch_size=batch_size,
        epochs=EPOCHS,
        seed=trial.number,
        momentum=momentum,
        on_epoch=report,
    )
    return result.best_val_accuracy


@lru_cache(maxsize=1)
def _digits() -> DataSplit:
    """Load the data once per process, so trials share it instead of reloading it each time."""
    return load_digits_split(seed=DATA_SEED)
