"""TunelabCallback in a real PyTorch Lightning Trainer on the CPU: it reports the monitored
metric every epoch, ends the trials its pruner stops as PRUNED after Lightning stopped them,
and keeps tunelab's training telemetry for every trial, in this process and in workers."""

from __future__ import annotations

import logging
import math
import pickle
from types import SimpleNamespace

import pytest

pl = pytest.importorskip("pytorch_lightning")

import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import tunelab  # noqa: E402
from tests.integrations.helpers import (  # noqa: E402
    EPOCHS,
    GOOD_LR,
    SLOW_LR,
    assert_pruned_only_if_slow,
    assert_watched_every_epoch,
    load_example,
    new_study,
)
from tunelab.exceptions import ConfigError  # noqa: E402
from tunelab.integrations.lightning import TunelabCallback  # noqa: E402
from tunelab.torch import read_telemetry  # noqa: E402
from tunelab.trial import FixedTrial  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    # Lightning's own use of torch's tree utilities, on every fit.
    pytest.mark.filterwarnings("ignore:`isinstance.treespec, LeafSpec.` is deprecated"),
]

# Adam at 1e-2 passes 80% validation accuracy on digits within two epochs; at 1e-6 it stays
# near chance (10%). The pruner's bound, 50% from epoch 2 on, lies far from both.
logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)


def digits() -> tuple[TensorDataset, TensorDataset]:
    x, y = load_digits(return_X_y=True)
    inputs, targets = torch.tensor(x / 16.0, dtype=torch.float32), torch.tensor(y)
    order = torch.randperm(len(targets), generator=torch.Generator().manual_seed(0))
    train, val = order[:1400], order[1400:]
    return TensorDataset(inputs[train], targets[train]), TensorDataset(inputs[val], targets[val])


TRAIN, VAL = digits()


class DigitsMLP(pl.LightningModule):
    def __init__(self, lr: float, width: int) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))

    def training_step(self, batch: list[torch.Tensor], index: int) -> torch.Tensor:
        inputs, targets = batch
        outputs = self.net(inputs)
        loss = nn.functional.cross_entropy(outputs, targets)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        self.log("train_acc", accuracy(outputs, targets), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: list[torch.Tensor], index: int) -> None:
        inputs, targets = batch
        outputs = self.net(inputs)
        self.log("val_loss", nn.functional.cross_entropy(outputs, targets))
        self.log("val_acc", accuracy(outputs, targets))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return (outputs.argmax(dim=1) == targets).float().mean()


def trainer(callback: TunelabCallback, **options) -> pl.Trainer:
    options = {"max_epochs": EPOCHS, **options}
    return pl.Trainer(
        accelerator="cpu", callbacks=[callback], enable_progress_bar=False, logger=False,
        enable_checkpointing=False, enable_model_summary=False, **options,
    )


def fit(trainer: pl.Trainer, model: DigitsMLP) -> None:
    trainer.fit(model, DataLoader(TRAIN, batch_size=64, shuffle=True), DataLoader(VAL, 512))


def objective(trial: tunelab.Trial) -> float:
    lr = trial.suggest_categorical("lr", [SLOW_LR, GOOD_LR])
    width = trial.suggest_categorical("width", [16, 32])
    torch.manual_seed(trial.number)
    run = trainer(TunelabCallback(trial, monitor="val_acc", validation_size=len(VAL)))
    fit(run, DigitsMLP(lr, width))
    return run.callback_metrics["val_acc"].item()




def test_a_study_prunes_the_trials_that_learn_nothing_and_keeps_telemetry_for_all():
    study = new_study()
    study.optimize(objective, n_trials=12)

    assert_pruned_only_if_slow(study.trials)
    for trial in study.trials:
        assert_watched_every_epoch(trial, ["net.0", "net.2"], ("net.1", "ReLU"), len(VAL))


def test_fit_raises_trial_pruned_once_lightning_stopped_at_the_end_of_the_epoch():
    study = new_study()
    trial = study.ask()
    run = trainer(TunelabCallback(trial, monitor="val_acc"))
    model = DigitsMLP(SLOW_LR, 16)

    with pytest.raises(tunelab.TrialPruned, match=r"pruned after epoch 2 with val_acc=0\.\d+"):
        fit(run, model)

    assert run.should_stop and run.current_epoch == 2  # two whole epochs, then Lightning stopped
    assert sorted(study.trials[0].intermediate_values) == [1, 2]
    assert not any(m._forward_hooks for m in model.modules())  # the watch is closed


def test_an_epoch_without_validation_reports_nothing_and_records_no_validation_numbers():
    study = new_study()
    trial = study.ask()
    fit(trainer(TunelabCallback(trial, monitor="val_acc"), check_val_every_n_epoch=2),
        DigitsMLP(GOOD_LR, 16))

    record = study.trials[0]
    assert sorted(record.intermediate_values) == [2, 4]
    epochs = read_telemetry(record)
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert [math.isnan(e.val_loss) for e in epochs] == [True, False, True, False]
    assert all(math.isfinite(e.train_loss) for e in epochs)


@pytest.mark.filterwarnings("ignore:You defined a `validation_step` but have no `val_dataloader`")
def test_without_validation_a_training_metric_is_reported_every_epoch():
    study = new_study()
    trial = study.ask()
    run = trainer(TunelabCallback(trial, monitor="train_acc"), max_epochs=2)
    run.fit(DigitsMLP(GOOD_LR, 16), DataLoader(TRAIN, batch_size=64, shuffle=True))

    record = study.trials[0]
    assert sorted(record.intermediate_values) == [1, 2]
    epochs = read_telemetry(record)
    assert [e.train_metric for e in epochs] == pytest.approx([record.intermediate_values[1],
                                                              record.intermediate_values[2]])
    assert all(math.isnan(e.val_metric) and math.isnan(e.val_loss) for e in epochs)


def test_a_monitor_that_was_never_logged_fails_the_fit_with_the_names_that_were():
    study = new_study()
    model = DigitsMLP(GOOD_LR, 16)
    with pytest.raises(ConfigError, match=r"monitor='val_accuracy'.*'val_acc'"):
        fit(trainer(TunelabCallback(study.ask(), monitor="val_accuracy"), max_epochs=1), model)
    assert not any(m._forward_hooks for m in model.modules())


def test_a_loss_logged_under_another_name_is_named_in_a_warning():
    study = new_study()
    callback = TunelabCallback(study.ask(), monitor="val_acc", train_loss="loss")
    with pytest.warns(UserWarning, match=r"nothing was logged as 'loss'.*train_loss="):
        fit(trainer(callback, max_epochs=2), DigitsMLP(GOOD_LR, 16))
    assert all(math.isnan(e.train_loss) for e in read_telemetry(study.trials[0]))


def test_the_callback_refuses_to_train_in_several_processes():
    callback = TunelabCallback(new_study().ask(), monitor="val_acc")
    with pytest.raises(ConfigError, match="devices=1"):
        callback.on_fit_start(SimpleNamespace(world_size=2, strategy=None), DigitsMLP(GOOD_LR, 16))
    with pytest.raises(ConfigError, match="another process"):
        pickle.dumps(callback)  # what spawning strategies do to the trainer's callbacks


@pytest.mark.any_cpu_math  # the in-process study checks the same numbers
def test_trials_in_worker_processes_report_prune_and_keep_telemetry(tmp_path):
    study = new_study(storage=f"sqlite:///{tmp_path / 'tunelab.db'}")
    study.optimize(objective, n_trials=4, n_jobs=2)
    assert_pruned_only_if_slow(study.trials)


def test_the_example_trains_a_fixed_trial_which_keeps_no_telemetry():
    example = load_example("lightning_digits.py")
    accuracy = example.objective(FixedTrial({"lr": GOOD_LR, "width": 16}))
    assert 0.5 < accuracy <= 1.0
