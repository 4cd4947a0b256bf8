"""PyTorch Lightning (2.x): report, prune and record telemetry from a ``Trainer``.

::

    from tunelab.integrations.lightning import TunelabCallback

    def objective(trial):
        model = LitClassifier(lr=trial.suggest_float("lr", 1e-4, 1e-1, log=True))
        trainer = pl.Trainer(max_epochs=10, callbacks=[TunelabCallback(trial, monitor="val_acc")])
        trainer.fit(model, train_loader, val_loader)   # raises TrialPruned when pruned
        return trainer.callback_metrics["val_acc"].item()

After every training epoch whose validation ran (every epoch, when the trainer has no
validation), the value logged as ``monitor`` is reported at step = epoch, counted from 1 as
tunelab's trainer counts. It is read when the epoch ends, before the LightningModule's own
``on_train_epoch_end``: log it in a step or in ``on_validation_epoch_end``. When the pruner
says to stop, the callback sets ``trainer.should_stop``, so that Lightning ends the epoch and
the fit as it does for early stopping, and then raises :class:`tunelab.TrialPruned` from
``on_fit_end``: ``fit`` raises it and the trial ends PRUNED, with nothing to call after
``fit``. (``min_epochs`` holds the stop back, as it does Lightning's own.)

Telemetry is :func:`tunelab.torch.watch` on the LightningModule: losses and metrics read from
``trainer.callback_metrics`` at the end of each training epoch (log the training loss with
``on_epoch=True`` to get its epoch mean rather than its last step), the first optimizer's
learning rate, gradient norms per layer and statistics of the activation modules'
outputs on the validation pass.

A trial trains in one process. Distributed strategies (DDP and the like) start other
processes that cannot report to the trial, so the callback refuses them: to use several
devices, run several trials at once (``optimize(n_jobs=..., devices=[...])``), each on one.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from tunelab.exceptions import ConfigError, MissingExtraError

try:
    import pytorch_lightning as pl
except ImportError as exc:
    feature = "tunelab.integrations.lightning"
    raise MissingExtraError("pytorch-lightning", "lightning", feature) from exc

from pytorch_lightning.trainer.states import TrainerFn  # noqa: E402

from tunelab.integrations._reporting import EpochReporter, keeps_telemetry  # noqa: E402
from tunelab.torch.trainer import ReportingTrial  # noqa: E402
from tunelab.torch.watching import Watch  # noqa: E402

__all__ = ["TunelabCallback"]


class TunelabCallback(pl.Callback):
    """Reports ``monitor`` to ``trial`` every epoch, stops a pruned trial and records its
    telemetry (see the module's docstring).

    Args:
        trial: the trial the objective was given.
        monitor: the name the metric is logged under (``self.log("val_acc", ...)``); the
            study's direction says whether higher is better.
        train_loss, val_loss: the names the losses are logged under, for the telemetry.
        train_metric: the name of the monitored metric on the training data, for the
            telemetry: by default the monitor's with "val" replaced by "train" when it starts
            with "val_" or "val/" (a validation metric), else the monitor itself.
        gradients, activations, validation_size: as for :func:`tunelab.torch.watch`.
    """

    def __init__(
        self,
        trial: ReportingTrial,
        monitor: str,
        *,
        train_loss: str = "train_loss",
        val_loss: str = "val_loss",
        train_metric: str | None = None,
        gradients: bool = True,
        activations: bool = True,
        validation_size: int | None = None,
    ) -> None:
        self.reporter = EpochReporter(trial, monitor, "TunelabCallback")
        self.train_loss = train_loss
        self.val_loss = val_loss
        self.monitors_validation = monitor.startswith(("val_", "val/"))
        if train_metric is None:
            train_metric = "train" + monitor[3:] if self.monitors_validation else monitor
        self.train_metric = train_metric
        self.watch_options: dict[str, Any] = {
            "gradients": gradients, "activations": activations, "validation_size": validation_size
        }
        self.watch: Watch | None = None
        self.validated_epoch: int | None = None
        self.unlogged: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:
        # Lightning's spawning strategies pickle the trainer with its callbacks; the trial,
        # bound to its study's storage, cannot follow.
        raise ConfigError(
            "TunelabCallback cannot be sent to another process: its trial reports from the "
            "process that runs it. Train each trial in one process (Trainer(devices=1), no "
            "'ddp_spawn' strategy) and run trials in parallel with optimize(n_jobs=...).",
            field="strategy",
        )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            raise ConfigError(
                f"TunelabCallback: the trainer runs {trainer.world_size} processes "
                f"({type(trainer.strategy).__name__}), but a trial reports from one. Pass "
                "Trainer(devices=1) and run trials in parallel with optimize(n_jobs=..., "
                "devices=[...]).",
                field="strategy",
            )

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.validated_epoch, self.reporter.pruned, self.watch = None, None, None
        if keeps_telemetry(self.reporter.trial):
            self.watch = Watch(self.reporter.trial, pl_module, **self.watch_options)
            self.watch.start()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and trainer.state.fn == TrainerFn.FITTING:
            self.validated_epoch = trainer.current_epoch

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = trainer.callback_metrics
        epoch = trainer.current_epoch + 1
        validated = self.validated_epoch == trainer.current_epoch
        if self.watch is not None:
            self.watch.epoch(
                train_loss=self._logged(metrics, self.train_loss, "train_loss"),
                val_loss=self._logged(metrics, self.val_loss, "val_loss") if validated else None,
                train_metric=metrics.get(self.train_metric),
                val_metric=(
                    metrics.get(self.reporter.monitor)
                    if validated and self.monitors_validation else None
                ),
                lr=trainer.optimizers[0] if trainer.optimizers else None,
                epoch=epoch,
            )
        # An epoch without validation (check_val_every_n_epoch > 1) has no new value.
        if validated or not trainer.enable_validation:
            if self.reporter.report(epoch, metrics):
                trainer.should_stop = True

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._close()

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.reporter.raise_if_pruned()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._close()

    def _close(self) -> None:
        if self.watch is not None:
            self.watch.close()

    def _logged(self, metrics: Mapping[str, Any], name: str, option: str) -> Any:
        """The value logged as ``name``, or None, with a warning the first time, when nothing
        was: the telemetry then lacks it, which the user can fix."""
        if name in metrics:
            return metrics[name]
        if name not in self.unlogged:
            self.unlogged.add(name)
            warnings.warn(
                f"TunelabCallback: nothing was logged as {name!r}, so the telemetry has no "
                f"{option}; log it under that name or pass {option}= the name it has.",
                stacklevel=2,
            )
        return None
