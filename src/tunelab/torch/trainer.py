"""The training loop: one recipe, one model, one data split, reported to one trial.

Everything a run could fail on because of its configuration (device, loss for the task, output
shape, augmentations for the input, transfer-learning patterns, the weights file) is checked
when the :class:`Trainer` is built, before the first step, so a bad configuration costs
nothing and leaves the study untouched. Training itself is seeded: the same recipe, model and
data give the same numbers on the same machine.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from tunelab._attrs import (
    ARTIFACT_ATTR,
    CHECKPOINT_STEP_ATTR,
    DIVERGENCE_ATTR,
    TELEMETRY_ATTR,
    VALIDATION_SIZE_ATTR,
)
from tunelab.devices import assigned_device
from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.telemetry import WEIGHTS_FILE, Divergence, EpochTelemetry, bounded_distributions
from tunelab.torch import checkpoint, costs
from tunelab.torch import metrics as metric_functions
from tunelab.torch.batches import EVAL_CHUNK, LoaderBatches, MemoryBatches
from tunelab.torch.costs import Breach, Limits
from tunelab.torch.data import DataSplit, StreamedSplit, normalize
from tunelab.torch.data.normalization import check_normalization
from tunelab.torch.init import initialize
from tunelab.torch.optim import (
    build_optimizer,
    l1_penalty,
    loss_function,
    resolve_loss,
    set_learning_rates,
)
from tunelab.torch.recipe import Recipe
from tunelab.torch.schedules import PlateauReducer, lr_factor
from tunelab.torch.speed import autocast_dtype, check_channels_last, compiled_forward, in_layout
from tunelab.torch.telemetry import ActivationRecorder, GradientMonitor, peak_memory_mb
from tunelab.torch.transfer import load_pretrained, matching_parameters, set_frozen

SPLITS = ("train", "val", "test")
__all__ = ["EVAL_CHUNK"]  # the fused trainer's chunks are the same size


class ReportingTrial(Protocol):
    """The part of a trial the trainer reports to."""

    def report(self, value: float, step: int) -> None: ...

    def should_prune(self) -> bool: ...

    @property
    def number(self) -> int: ...

    def set_system_attr(self, key: str, value: Any) -> None: ...


@dataclass(frozen=True)
class FitResult:
    """The outcome of :meth:`Trainer.fit`."""

    metric: str
    best_value: float
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    history: tuple[EpochTelemetry, ...]
    test: dict[str, float] = field(default_factory=dict)
    breach: Breach | None = None
    """The limit on the training that stopped it, if one did."""


class Trainer:
    """Train ``model`` on ``data`` as ``recipe`` says, reporting each epoch to ``trial``.

    ``data`` held in memory (a :class:`DataSplit`) is trained on from memory; a
    :class:`StreamedSplit` is read in batches by ``DataLoader``s (see :mod:`.batches`).

    ``artifact_dir``, when given, receives the best weights (``best.pt``) and the recipe
    (``recipe.json``) at the end of :meth:`fit`; its path is stored on the trial.

    ``checkpoint_dir``, when given, is a folder the study's trials share for checkpoints: a
    trial leaves one there when it could be continued from it (paused by a pruner that resumes
    paused trials; after every epoch but the last in a study that retries trials whose worker
    died) and notes the epoch in its system attribute ``checkpoint_step``; a trial whose
    ``trial.resume`` names an earlier trial continues that one's training from it: a promoted
    or retried trial, a population member (see :mod:`tunelab.torch.checkpoint`).

    ``limits``, when given, bound the costs of the training (time, memory; see
    :mod:`tunelab.torch.costs`): after every epoch, a run over one stops, and its result says
    which (:attr:`FitResult.breach`).
    """

    def __init__(
        self,
        model: nn.Module,
        data: DataSplit | StreamedSplit,
        recipe: Recipe | None = None,
        *,
        trial: ReportingTrial | None = None,
        artifact_dir: str | Path | None = None,
        checkpoint_dir: str | Path | None = None,
        telemetry: bool = True,
        limits: Limits | None = None,
    ) -> None:
        self.recipe = recipe = recipe or Recipe()
        self.trial = trial
        self.limits = limits or Limits({})
        self.artifact_dir = None if artifact_dir is None else Path(artifact_dir)
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.telemetry = telemetry
        self.device = resolve_device(recipe.device)
        self.data: DataSplit | StreamedSplit
        self.batches: MemoryBatches | LoaderBatches
        if isinstance(data, StreamedSplit):
            self.data, self.target_scale = data, streamed_target_scale(data)
            self.batches = LoaderBatches(
                data, recipe.batch_size, self.device,
                streamed_feature_scale(data, recipe.normalization), self.target_scale,
            )
        else:
            self.data, self.target_scale = prepare_data(data, recipe.normalization, self.device)
            self.batches = MemoryBatches(self.data)
        self.task = data.task
        self.loss_name = resolve_loss(recipe, data.task)
        self.loss = loss_function(self.loss_name, recipe.label_smoothing)
        self.metric = resolve_metric(recipe.metric, data.task)
        self.higher_is_better = metric_functions.HIGHER_IS_BETTER[self.metric]
        self.augmenter = recipe.augmenter()
        self.augmenter.check_input_shape(tuple(data.input_shape), bool(data.vocabulary))
        check_channels_last(recipe, tuple(data.input_shape))
        torch.manual_seed(recipe.seed)
        initialize(model, recipe.init, scale=recipe.init_scale)
        if recipe.pretrained is not None:
            load_pretrained(model, recipe.pretrained)
        self.model = model.to(self.device)
        if recipe.channels_last:
            # Module.to takes memory_format (nn.Module's docs), which its type stubs leave out.
            self.model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        # What the training steps call: the model, or its compiled form once fit() starts.
        self.forward: Callable[..., torch.Tensor] = self.model
        self.frozen = matching_parameters(model, recipe.freeze, "freeze")
        set_frozen(self.frozen.values(), True)
        check_output_shape(model, self.data, self.loss_name, self.batches.first(2)[0])
        matching_parameters(model, dict(recipe.lr_multipliers), "lr_multipliers")
        self.lr_factor_now = 1.0  # the optimizer starts at its base learning rates
        self.autocast_dtype = autocast_dtype(recipe, self.device)
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range.
        needs_scaling = self.autocast_dtype == torch.float16 and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if needs_scaling else None

    @property
    def memory_data(self) -> DataSplit:
        """The data as training sees it, held in memory (normalized, on the device), for
        callers that built this trainer from data held in memory."""
        assert isinstance(self.data, DataSplit), "the trainer's data are streamed"
        return self.data

    @cached_property
    def optimizer(self) -> torch.optim.Optimizer:
        # Built when training starts: constructing a torch optimizer imports torch._dynamo (a
        # second and a half of CPU), which checking a task before any trial runs need not pay.
        return build_optimizer(self.model, self.recipe)

    def fit(self) -> FitResult:
        """Train for ``recipe.epochs`` (or until early stopping, pruning or a limit); see
        :class:`FitResult`.

        Raises :class:`~tunelab.exceptions.TrialPruned` when the trial's pruner says so, and
        ``FloatingPointError`` at the first non-finite training loss, once the trial holds
        where it happened (:func:`record_divergence`).
        """
        recipe = self.recipe
        # Built now, so that its one-off cost (importing torch._dynamo) is no epoch's time.
        _ = self.optimizer
        if recipe.compile and self.forward is self.model:
            self.forward = compiled_forward(self.model, self._probe_step)
        generator = torch.Generator().manual_seed(recipe.seed)
        # One optimizer step per group of gradient_accumulation_steps batches.
        group_size = recipe.batch_size * recipe.gradient_accumulation_steps
        steps_per_epoch = math.ceil(self.batches.size("train") / group_size)
        plateau = PlateauReducer(recipe, self.higher_is_better)
        gradients = GradientMonitor(self.model, steps_per_epoch) if self.telemetry else None
        activations = ActivationRecorder(self.model if self.telemetry else nn.Identity())
        tracker = BestTracker(self.higher_is_better, recipe.early_stopping_min_delta)
        history: list[EpochTelemetry] = []
        first_epoch = self._resume(generator, plateau, tracker, history) + 1
        record_validation_size(self.trial, self.data)
        for epoch in range(first_epoch, recipe.epochs + 1):
            # A run resumed past the unfreezing epoch unfreezes in its first epoch.
            if recipe.unfreeze_after and epoch == max(recipe.unfreeze_after + 1, first_epoch):
                set_frozen(self.frozen.values(), False)
            started = costs.clock()
            train = self._train_epoch(epoch, generator, steps_per_epoch, plateau.factor, gradients)
            with activations:
                val = self.evaluate("val", (self.metric,))
            seconds = costs.clock() - started
            history.append(self._telemetry(epoch, train, val, seconds, gradients, activations))
            improved = tracker.update(val[self.metric], epoch, self.model.state_dict)
            plateau.end_epoch(val[self.metric])
            pruned = self._report_says_prune(epoch, val[self.metric], history)
            breach = self.limits.training_breach(history, recipe.epochs)
            # A checkpoint of the last epoch, or of a run that a limit ends, has no use.
            if pruned or (breach is None and epoch < recipe.epochs):
                self._save_checkpoint(epoch, pruned, generator, plateau, tracker, history)
            if pruned:
                raise TrialPruned(
                    f"pruned after epoch {epoch} with {self.metric}={val[self.metric]:.4g}"
                )
            if breach is not None:
                return self._finish(tracker, history, breach)
            if not improved and patience_ran_out(recipe, epoch - tracker.best_epoch):
                break
        return self._finish(tracker, history)

    @torch.no_grad()
    def evaluate(
        self, split: str = "val", metrics: tuple[str, ...] | None = None
    ) -> dict[str, float]:
        """Loss and the task's metrics (all, or ``metrics``) on the ``"train"``, ``"val"`` or
        ``"test"`` split."""
        if split not in SPLITS:
            raise ConfigError(f"split {split!r} is not one of {', '.join(SPLITS)}.", field="split")
        was_training = self.model.training
        self.model.eval()
        outputs, targets = Collected(self.batches.size(split)), Collected(self.batches.size(split))
        try:
            with self._autocast():
                for x, y in self.batches.evaluation(split):
                    outputs.add(self.model(in_layout(x, self.recipe)).float())
                    targets.add(y)
        finally:
            self.model.train(was_training)
        output, target = outputs.all(), targets.all()
        results = self._metrics(output, target, metrics)
        results["loss"] = self.loss(output, target).item()
        return results

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs for inputs normalized like ``self.data``: logits for classification,
        predictions in the targets' own units for regression."""
        return self._in_target_units(self._model_outputs(x))

    def _model_outputs(self, x: torch.Tensor) -> torch.Tensor:
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad(), self._autocast():
                chunks = [
                    self.model(in_layout(chunk, self.recipe))
                    for chunk in x.to(self.device).split(EVAL_CHUNK)
                ]
        finally:
            self.model.train(was_training)
        return torch.cat(chunks).float()

    def _metrics(
        self, outputs: torch.Tensor, targets: torch.Tensor, names: tuple[str, ...] | None
    ) -> dict[str, float]:
        return metric_functions.compute_metrics(
            self.task,
            self._in_target_units(outputs),
            self._in_target_units(targets),
            self.data.n_classes,
            names,
        )

    def _in_target_units(self, values: torch.Tensor) -> torch.Tensor:
        return in_target_units(values, self.target_scale)

    def _train_epoch(
        self,
        epoch: int,
        generator: torch.Generator,
        steps_per_epoch: int,
        plateau_factor: float,
        gradients: GradientMonitor | None,
    ) -> dict[str, float]:
        recipe = self.recipe
        self.model.train()
        first_step = (epoch - 1) * steps_per_epoch
        loss_sum = 0.0
        outputs_seen = Collected(self.batches.size("train"))
        targets_seen = Collected(self.batches.size("train"))
        augment = self.augmenter if self.augmenter.active else None
        batches = self.batches.train(generator, recipe.batch_size)
        for index, group_rows in enumerate(_group_sizes(self.batches.size("train"), recipe)):
            factor = lr_factor(recipe, first_step + index, steps_per_epoch) * plateau_factor
            if factor != self.lr_factor_now:
                set_learning_rates(self.optimizer, factor)
                self.lr_factor_now = factor
            self.optimizer.zero_grad(set_to_none=True)
            # Batches come batch_size rows at a time (the last may be short), so a group is
            # the next gradient_accumulation_steps of them, from memory or from a loader alike.
            for inputs, targets in itertools.islice(batches, recipe.gradient_accumulation_steps):
                if augment is not None:
                    inputs = augment(inputs, generator)
                # Each batch's mean loss weighs by its share of the group, so that the
                # accumulated gradient is the gradient of the group's mean loss.
                share = len(targets) / group_rows
                outputs, loss = self._backward(inputs, targets, share, epoch, index)
                loss_sum += loss * len(targets)
                outputs_seen.add(outputs)
                targets_seen.add(targets)
            self._optimizer_step(index, gradients)
        # Run to its end, so that a loader's epoch finishes before the next one starts.
        assert next(batches, None) is None, "the batches outnumber the groups"
        outputs, targets = outputs_seen.all().float(), targets_seen.all()
        results = self._metrics(outputs, targets, (self.metric,))
        results["loss"] = loss_sum / len(targets)
        return results

    def _backward(
        self, inputs: torch.Tensor, targets: torch.Tensor, share: float, epoch: int, index: int
    ) -> tuple[torch.Tensor, float]:
        """Add one batch's gradient, weighted by its ``share`` of the optimizer step's
        examples, to the parameters' gradients; its outputs and mean loss."""
        recipe = self.recipe
        with self._autocast():
            outputs = self.forward(in_layout(inputs, recipe))
            loss = self.loss(outputs, targets)
            objective = loss + recipe.l1 * l1_penalty(self.model) if recipe.l1 > 0 else loss
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise record_divergence(self.trial, loss_value, epoch, index + 1, recipe.lr)
        if share != 1:
            objective = objective * share
        if self.scaler is not None:
            self.scaler.scale(objective).backward()
        else:
            objective.backward()
        return outputs.detach(), loss_value

    def _optimizer_step(self, index: int, gradients: GradientMonitor | None) -> None:
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        if gradients is not None and index % gradients.every == 0:
            gradients.record()
        self._clip_gradients()
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()

    def _probe_step(self, forward: Callable[..., torch.Tensor]) -> None:
        """One training batch's forward and backward through ``forward``, for a compiler to
        prove itself on before training relies on it."""
        inputs, targets = self.batches.first(self.recipe.batch_size)
        with self._autocast():
            outputs = forward(in_layout(inputs, self.recipe))
            loss = self.loss(outputs, targets)
        if loss.requires_grad:  # everything may be frozen for the first epochs
            loss.backward()

    def _clip_gradients(self) -> None:
        if self.recipe.grad_clip_value > 0:
            nn.utils.clip_grad_value_(self.model.parameters(), self.recipe.grad_clip_value)
        if self.recipe.grad_clip_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.grad_clip_norm)

    def _autocast(self) -> Any:
        # A disabled autocast context still costs time on every step; skip it entirely.
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _telemetry(
        self,
        epoch: int,
        train: dict[str, float],
        val: dict[str, float],
        seconds: float,
        gradients: GradientMonitor | None,
        activations: ActivationRecorder,
    ) -> EpochTelemetry:
        return EpochTelemetry(
            epoch=epoch,
            train_loss=train["loss"],
            val_loss=val["loss"],
            train_metric=train[self.metric],
            val_metric=val[self.metric],
            lr=self.optimizer.param_groups[0]["lr"],
            epoch_time=seconds,
            peak_memory_mb=peak_memory_mb(self.device),
            grad_norm=gradients.epoch_means() if gradients is not None else {},
            activations=activations.stats(),
            finished_at=time.time(),
            distributions=(
                {**gradients.distributions(), "activations": activations.distributions()}
                if gradients is not None else {}
            ),
        )

    def _report_says_prune(self, epoch: int, value: float, history: list[EpochTelemetry]) -> bool:
        return report_epoch(self.trial, epoch, value, history if self.telemetry else None)

    def _save_checkpoint(
        self,
        epoch: int,
        paused: bool,
        generator: torch.Generator,
        plateau: PlateauReducer,
        tracker: BestTracker,
        history: list[EpochTelemetry],
    ) -> None:
        """Save one if something could continue from it (``trial.needs_checkpoint``): a view
        of a trial without that method (a cross-validation fold) never resumes."""
        if self.checkpoint_dir is None or self.trial is None:
            return
        needs_checkpoint = getattr(self.trial, "needs_checkpoint", None)
        if needs_checkpoint is None or not needs_checkpoint(paused):
            return
        state = checkpoint.Checkpoint(
            epoch=epoch,
            optimizer_name=self.recipe.optimizer,
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            generator=generator.get_state(),
            global_rng=torch.get_rng_state(),
            best_value=tracker.best_value,
            best_epoch=tracker.best_epoch,
            best_state=tracker.best_state,
            plateau=plateau.state(),
            history=[e.to_json() for e in history],
            scaler=self.scaler.state_dict() if self.scaler is not None else None,
        )
        checkpoint.save(state, checkpoint.checkpoint_file(self.checkpoint_dir, self.trial.number))
        self.trial.set_system_attr(CHECKPOINT_STEP_ATTR, epoch)

    def _resume(
        self,
        generator: torch.Generator,
        plateau: PlateauReducer,
        tracker: BestTracker,
        history: list[EpochTelemetry],
    ) -> int:
        """Load the checkpoint the trial continues, if any; the last epoch it covers (or 0)."""
        resume = getattr(self.trial, "resume", None)
        if resume is None:
            return 0
        assert self.trial is not None  # only a trial continues another
        if self.checkpoint_dir is None:
            raise ConfigError(
                f"trial {self.trial.number} continues trial {resume.trial} from its checkpoint; "
                "give the trainer the study's checkpoint folder: Trainer(..., "
                "checkpoint_dir=...).",
                field="checkpoint_dir",
            )
        path = checkpoint.checkpoint_file(self.checkpoint_dir, resume.trial)
        saved = checkpoint.load(path, self.trial.number, resume.trial, resume.step)
        self.model.load_state_dict(saved.model)
        checkpoint.restore_optimizer(self.optimizer, self.recipe.optimizer, saved)
        generator.set_state(saved.generator)
        torch.set_rng_state(saved.global_rng)
        tracker.best_value, tracker.best_epoch = saved.best_value, saved.best_epoch
        tracker.best_state = saved.best_state
        plateau.restore(saved.plateau)
        history.extend(EpochTelemetry.from_json(e) for e in saved.history)
        if self.scaler is not None and saved.scaler is not None:
            self.scaler.load_state_dict(saved.scaler)
        return saved.epoch

    def _finish(
        self, tracker: BestTracker, history: list[EpochTelemetry], breach: Breach | None = None
    ) -> FitResult:
        if self.recipe.restore_best and tracker.best_state is not None:
            self.model.load_state_dict(tracker.best_state)
        if self.artifact_dir is not None:
            best = tracker.best_state or self.model.state_dict()
            save_artifacts(self.artifact_dir, best, self.recipe, self.trial)
        test = self.evaluate("test") if self.batches.size("test") else {}
        return FitResult(
            metric=self.metric,
            best_value=tracker.best_value,
            best_epoch=tracker.best_epoch,
            epochs_run=len(history),
            stopped_early=len(history) < self.recipe.epochs,
            history=tuple(history),
            test=test,
            breach=breach,
        )


def _group_sizes(n_train: int, recipe: Recipe) -> list[int]:
    """Rows in each optimizer step's group of an epoch: batch_size times
    gradient_accumulation_steps, the last group what is left."""
    group_size = recipe.batch_size * recipe.gradient_accumulation_steps
    return [min(group_size, n_train - start) for start in range(0, n_train, group_size)]


class Collected:
    """Batches of one kind (outputs, targets) gathered into one tensor of ``size`` rows,
    allocated at the first batch: keeping a small tensor per batch between the batches' large
    ones would fragment the heap, and a streamed epoch's memory would grow with its length."""

    def __init__(self, size: int) -> None:
        self.size, self.filled = size, 0
        self.rows: torch.Tensor | None = None

    def add(self, batch: torch.Tensor) -> None:
        if self.rows is None:
            self.rows = batch.new_empty((self.size, *batch.shape[1:]))
        self.rows[self.filled:self.filled + len(batch)] = batch
        self.filled += len(batch)

    def all(self) -> torch.Tensor:
        assert self.rows is not None and self.filled == self.size, (self.filled, self.size)
        return self.rows


class BestTracker:
    """The best validation value so far, its epoch and a copy of the weights that gave it."""

    def __init__(self, higher_is_better: bool, min_delta: float) -> None:
        self.sign = 1.0 if higher_is_better else -1.0
        self.min_delta = min_delta
        self.best_value = -math.inf * self.sign
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(
        self, value: float, epoch: int, state: Callable[[], Mapping[str, torch.Tensor]]
    ) -> bool:
        """Note an epoch's value; on progress keep a copy of ``state()``, the weights."""
        if self.best_state is not None and not (
            self.sign * (value - self.best_value) > self.min_delta
        ):
            return False
        self.best_value, self.best_epoch = value, epoch
        self.best_state = {k: v.detach().clone() for k, v in state().items()}
        return True


def record_divergence(
    trial: ReportingTrial | None, loss: float, epoch: int, step: int, lr: float
) -> FloatingPointError:
    """Note on the trial where its training loss stopped being a finite number (system
    attribute ``divergence``, see :class:`tunelab.telemetry.Divergence`) and return the error
    that fails the run: the record is for the doctor, the message for the user."""
    if trial is not None:
        record = Divergence(epoch=epoch, step=step, loss=loss, lr=lr)
        trial.set_system_attr(DIVERGENCE_ATTR, record.to_json())
    return FloatingPointError(
        f"training loss became {loss} in epoch {epoch}, step {step}; the model diverged: "
        f"lower the learning rate (lr={lr:g}) or clip gradients (grad_clip_norm: 1.0)."
    )


def record_validation_size(trial: ReportingTrial | None, data: DataSplit | StreamedSplit) -> None:
    """Note on the trial how many examples its validation metric is taken on (system attribute
    ``validation_size``): the doctor weighs the gaps between the best trials against it."""
    if trial is not None:
        size = data.size("val") if isinstance(data, StreamedSplit) else len(data.x_val)
        trial.set_system_attr(VALIDATION_SIZE_ATTR, size)


def untrained_value(data: DataSplit | StreamedSplit, recipe: Recipe) -> float:
    """The validation metric of a model that learned nothing, found without one: every output
    zero, which is uniform class probabilities, or the training targets' mean for regression
    (whose targets are standardized for training)."""
    metric = resolve_metric(recipe.metric, data.task)
    loss_name = resolve_loss(recipe, data.task)
    if isinstance(data, StreamedSplit):
        target_scale = streamed_target_scale(data)
        targets = torch.cat([y for _, y in data.batches("val", EVAL_CHUNK, torch.device("cpu"))])
        if target_scale is not None:
            targets = (targets - target_scale[0]) / target_scale[1]
    else:
        prepared, target_scale = _standardize_targets(data)
        targets = prepared.y_val
    outputs = torch.zeros(len(targets), 1 if loss_name == "bce" else data.n_outputs)
    if metric == "loss":
        return loss_function(loss_name, recipe.label_smoothing)(outputs, targets).item()
    return metric_functions.compute_metrics(
        data.task,
        in_target_units(outputs, target_scale),
        in_target_units(targets, target_scale),
        data.n_classes,
        (metric,),
    )[metric]


def patience_ran_out(recipe: Recipe, epochs_since_best: int) -> bool:
    patience = recipe.early_stopping_patience
    return patience > 0 and epochs_since_best >= patience


def resolve_metric(metric: str, task: str) -> str:
    if metric == "auto":
        return metric_functions.default_metric(task)
    if metric != "loss" and metric not in metric_functions.metric_names(task):
        raise ConfigError(
            f"recipe field 'metric': {metric!r} does not fit a {task} task; use one of: "
            f"{', '.join(metric_functions.metric_names(task))}, loss (or auto).",
            field="metric",
        )
    return metric


def resolve_device(name: str) -> torch.device:
    """The device ``name`` means here; asking for one this machine lacks is a ConfigError.

    ``auto`` is the device a worker process was given (``optimize(devices=...)``), else the
    best this machine has.
    """
    if name == "auto" and (given := assigned_device()) is not None:
        name = given
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available()
        and (device.index is None or device.index < torch.cuda.device_count()),
        "mps": torch.backends.mps.is_available(),
    }[device.type]
    if not available:
        raise ConfigError(
            f"recipe field 'device': {name!r} is not available on this machine; use "
            "device: auto (picks cuda, then mps, then cpu) or device: cpu.",
            field="device",
        )
    return device


def prepare_data(
    data: DataSplit, normalization: str, device: torch.device
) -> tuple[DataSplit, tuple[torch.Tensor, torch.Tensor] | None]:
    """The split as training sees it: features normalized with training statistics,
    regression targets standardized, on ``device``; and the targets' (mean, std) if scaled."""
    scaled, target_scale = _standardize_targets(normalize(data, normalization))
    return _to_device(scaled, device), target_scale


def in_target_units(
    values: torch.Tensor, target_scale: tuple[torch.Tensor, torch.Tensor] | None
) -> torch.Tensor:
    """Standardized regression outputs (or targets) mapped back to the targets' units."""
    if target_scale is None:
        return values
    mean, std = (t.to(values.device) for t in target_scale)
    return values * std + mean


def report_epoch(
    trial: ReportingTrial | None,
    epoch: int,
    value: float,
    history: list[EpochTelemetry] | None,
) -> bool:
    """Report an epoch's validation value (and the telemetry so far, unless None) to the
    trial; whether its pruner says to stop. A trial of a multi-objective study gets only the
    telemetry: pruners compare one reported value, and such a trial has several."""
    if trial is None:
        return False
    if history is not None:
        store_telemetry(trial, history)
    study = getattr(trial, "study", None)
    if study is not None and len(study.directions) > 1:
        return False
    trial.report(value, step=epoch)
    return trial.should_prune()


def store_telemetry(trial: ReportingTrial, history: list[EpochTelemetry]) -> None:
    """Store a run's telemetry so far with its trial, for the figures, doctor and report.

    The distributions of older epochs are thinned in ``history`` itself, so that what a long
    run stores stays within MAX_DISTRIBUTION_EPOCHS (see :func:`bounded_distributions`).
    """
    history[:] = bounded_distributions(history)
    trial.set_system_attr(TELEMETRY_ATTR, [e.to_json() for e in history])


def save_artifacts(
    artifact_dir: Path,
    weights: Mapping[str, torch.Tensor],
    recipe: Recipe,
    trial: ReportingTrial | None,
) -> None:
    """Write a trained model's weights (``best.pt``) and its recipe, and note the folder on
    the trial."""
    artifact_dir.mkdir(parents=True, exist_ok=True)
    torch.save(dict(weights), artifact_dir / WEIGHTS_FILE)
    recipe_json = json.dumps(recipe.to_json(), indent=2)
    (artifact_dir / "recipe.json").write_text(recipe_json, encoding="utf-8")
    if trial is not None:
        trial.set_system_attr(ARTIFACT_ATTR, str(artifact_dir.resolve()))


def check_output_shape(
    model: nn.Module,
    data: DataSplit | StreamedSplit,
    loss_name: str,
    sample: torch.Tensor | None = None,
) -> None:
    """One forward pass on two samples (the first two of training, unless ``sample``), so a
    shape mismatch fails before training."""
    if sample is None:
        assert isinstance(data, DataSplit)
        sample = data.x_train[:2]
    expected = 1 if loss_name == "bce" else data.n_outputs
    try:
        with torch.no_grad():
            model.eval()
            outputs = model(sample)
    except RuntimeError as error:
        raise ConfigError(
            f"model: it cannot take inputs of shape {tuple(data.input_shape)} (per "
            f"sample): {str(error).splitlines()[0]}; choose a model for this data (a CNN "
            "needs (C, H, W) images, an MLP takes anything).",
            field="model",
        ) from None
    finally:
        model.train()
    if outputs.dim() != 2 or outputs.shape[1] != expected:
        raise ConfigError(
            f"model: it gives outputs of shape {tuple(outputs.shape[1:])} per sample, but "
            f"the {loss_name} loss on this data needs ({expected},); build the model "
            f"with n_outputs={expected}.",
            field="model",
        )


def _standardize_targets(
    data: DataSplit,
) -> tuple[DataSplit, tuple[torch.Tensor, torch.Tensor] | None]:
    """Regression targets scaled to zero mean and unit variance with training statistics.

    The loss then has the same scale whatever the targets' units, so one learning-rate range
    suits every regression task; metrics and predictions are mapped back to the units.
    """
    if data.task != "regression":
        return data, None
    mean, std = _target_statistics(data.y_train)
    scaled = {f"y_{s}": (getattr(data, f"y_{s}") - mean) / std for s in ("train", "val", "test")}
    return dataclasses.replace(data, **scaled), (mean, std)


def _target_statistics(y_train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return y_train.mean(dim=0), y_train.std(dim=0).nan_to_num(1.0).clamp_min(1e-12)


def streamed_target_scale(data: StreamedSplit) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (mean, std) that standardize a streamed split's regression targets, as
    :func:`prepare_data` standardizes those held in memory."""
    if data.task != "regression":
        return None
    return _target_statistics(torch.from_numpy(data.y_train))


def streamed_feature_scale(
    data: StreamedSplit, normalization: str
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (shift, scale) that normalize a streamed split's features (None for none)."""
    check_normalization(normalization)
    return None if normalization == "none" else data.statistics(normalization)


def _to_device(data: DataSplit, device: torch.device) -> DataSplit:
    if device.type == "cpu":
        return data
    moved = {
        name: getattr(data, name).to(device)
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    }
    return dataclasses.replace(data, **moved)
