"""Tune a PyTorch Lightning model with tunelab: the learning rate and width of a small MLP on
scikit-learn's digits, 12 trials in two worker processes, the median pruner stopping the poor
ones.

``TunelabCallback`` reports the validation accuracy every epoch, stops the trials the pruner
stops (``trainer.fit`` then raises ``TrialPruned``) and records the telemetry that
``tunelab report`` and ``tunelab doctor`` read. Run it with::

    python examples/lightning_digits.py        # needs: pip install 'tunelab[lightning]'

It keeps the study in ./tunelab.db; run it again to add 12 more trials.
"""

from __future__ import annotations

import logging

import pytorch_lightning as pl
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Subset, TensorDataset, random_split

import tunelab
from tunelab.integrations.lightning import TunelabCallback

STUDY = "lightning-digits"
EPOCHS = 10
# No banner per trial (also in the worker processes, which import this file).
logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)


class DigitsMLP(pl.LightningModule):
    """One hidden layer of ``width`` ReLU units, trained with Adam at ``lr``."""

    def __init__(self, lr: float, width: int) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))

    def training_step(self, batch: list[torch.Tensor], batch_index: int) -> torch.Tensor:
        inputs, targets = batch
        loss = nn.functional.cross_entropy(self.net(inputs), targets)
        self.log("train_loss", loss, on_step=False, on_epoch=True)  # the epoch's mean
        return loss

    def validation_step(self, batch: list[torch.Tensor], batch_index: int) -> None:
        inputs, targets = batch
        outputs = self.net(inputs)
        self.log("val_loss", nn.functional.cross_entropy(outputs, targets))
        self.log("val_acc", (outputs.argmax(dim=1) == targets).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def digits() -> list[Subset]:
    """Digits scaled to [0, 1], split 80/20 with a fixed seed: training and validation."""
    x, y = load_digits(return_X_y=True)
    data = TensorDataset(torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y))
    return random_split(data, [0.8, 0.2], generator=torch.Generator().manual_seed(0))


def objective(trial: tunelab.Trial) -> float:
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 128, log=True)
    train, val = digits()
    torch.manual_seed(trial.number)
    trainer = pl.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        callbacks=[TunelabCallback(trial, monitor="val_acc", validation_size=len(val))],
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
        logger=False,
    )
    trainer.fit(
        DigitsMLP(lr, width),
        DataLoader(train, batch_size=64, shuffle=True),
        DataLoader(val, batch_size=512),
    )
    return trainer.callback_metrics["val_acc"].item()


def main() -> None:
    study = tunelab.create_study(
        name=STUDY,
        storage="sqlite:///tunelab.db",
        direction="maximize",
        pruner=tunelab.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
        seed=0,
        load_if_exists=True,
    )
    study.optimize(objective, n_trials=12, n_jobs=2)  # two worker processes
    pruned = sum(t.state is tunelab.TrialState.PRUNED for t in study.trials)
    print(f"{len(study.trials)} trials, {pruned} pruned")
    print(f"best: val_acc={study.best_value:.4f} with {study.best_params}")
    print(f"report: tunelab report {STUDY} -o {STUDY}.html")


if __name__ == "__main__":
    main()
