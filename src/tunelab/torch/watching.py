"""Telemetry for any PyTorch training loop: the records tunelab's own trainer keeps, from a
loop tunelab did not write.

::

    with tunelab.torch.watch(trial, model) as watch:
        for epoch in range(1, epochs + 1):
            train_loss = train_one_epoch(model, optimizer)  # the epoch's mean loss
            val_loss, accuracy = evaluate(model)
            watch.epoch(train_loss=train_loss, val_loss=val_loss, val_metric=accuracy,
                        lr=optimizer)
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise tunelab.TrialPruned()

Hooks on the model measure what the loop does not say. Gradient norms per layer come from
hooks that run once a parameter's gradient is complete, before the loop clips or steps it, on
about GRADIENT_SAMPLES_PER_EPOCH backward passes an epoch. A backward pass is recognised by
its gradients, not by a call to the model, so loops that call submodules (Lightning's
``training_step``) are counted too. Activation statistics describe the first
ACTIVATION_SAMPLES inputs the model sees in evaluation mode during an epoch (its validation
pass, as the trainer does), or the epoch's first training batch when the loop never switches
to evaluation mode. The mode is the watched model's own flag, not each layer's: frameworks that
call their layers themselves (Keras) switch only the model's. Each :meth:`Watch.epoch` stores
the same :class:`EpochTelemetry` records the trainer stores, so the figures, the doctor and the
report read them unchanged.

Models whose parameters or layers PyTorch cannot name usefully (a Keras model: one parameter
dictionary, layers that are not submodules) name them through ``parameters`` and ``layers``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from tunelab._attrs import DIVERGENCE_ATTR, VALIDATION_SIZE_ATTR
from tunelab.exceptions import ConfigError
from tunelab.telemetry import Divergence, EpochTelemetry
from tunelab.torch.telemetry import (
    ACTIVATION_SAMPLES,
    GRADIENT_SAMPLES_PER_EPOCH,
    RECURRENT_TYPES,
    GradientNorms,
    LayerQuantiles,
    activation_layers,
    activation_quantiles,
    describe_activations,
    peak_memory_mb,
    units_second,
    weight_quantiles,
)
from tunelab.torch.trainer import ReportingTrial, store_telemetry

__all__ = ["Watch", "watch"]


class Watch:
    """Hooks on one model that record its training telemetry on ``trial``: use as a context
    manager (``with tunelab.torch.watch(trial, model) as w:``) and call :meth:`epoch` at the
    end of every epoch. :meth:`start` and :meth:`close` are what ``with`` calls, for loops that
    cannot wrap their training in a block (a callback's start and end).

    ``gradients``, ``activations`` and ``distributions`` switch off what a run need not
    record (distributions: the quantiles of each layer's weights, gradients and outputs).
    ``validation_size`` (the number of validation examples) lets the doctor tell whether the
    validation set can separate the best trials. ``parameters``, ``(name, parameter)`` pairs
    from the input to the output, replace ``model.named_parameters()`` for the gradients; a
    name's part before its last "." names the layer. ``layers``, ``(name, module, kind)``
    triples, replace the model's activation modules as the layers whose outputs are described;
    ``kind`` says what the layer computes ("ReLU", "sigmoid"), which the doctor reads.
    ``feature_axis`` is the axis of a layer's output that holds its units or channels: 1 in
    PyTorch's layouts, -1 in channels-last ones (Keras's default).
    """

    def __init__(
        self,
        trial: ReportingTrial,
        model: nn.Module,
        *,
        gradients: bool = True,
        activations: bool = True,
        distributions: bool = True,
        validation_size: int | None = None,
        parameters: Sequence[tuple[str, torch.Tensor]] | None = None,
        layers: Sequence[tuple[str, nn.Module, str]] | None = None,
        feature_axis: int = 1,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise ConfigError(
                f"watch: model must be a torch.nn.Module, not {type(model).__name__}; pass "
                "the module the loop trains.",
                field="model",
            )
        if validation_size is not None and validation_size < 1:
            raise ConfigError(
                f"watch: validation_size must be a positive number of examples, not "
                f"{validation_size!r}; pass len(validation_dataset) or leave it out.",
                field="validation_size",
            )
        self.trial = trial
        self.model = model
        self.validation_size = validation_size
        if parameters is None:
            parameters = list(model.named_parameters())
        named = [(n, p) for n, p in parameters if p.requires_grad]
        self._gradients = _GradientSampler(named, distributions) if gradients and named else None
        if layers is None:
            layers = [(n, m, type(m).__name__) for n, m in activation_layers(model)]
        self._activations = (
            _ActivationSampler(model, layers, feature_axis) if activations else None
        )
        self.distributions = distributions
        self.history: list[EpochTelemetry] = []
        self._epoch_started = time.perf_counter()

    def __enter__(self) -> Watch:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def start(self) -> None:
        """Put the hooks on the model and start timing the first epoch."""
        if self.validation_size is not None:
            self.trial.set_system_attr(VALIDATION_SIZE_ATTR, int(self.validation_size))
        for sampler in (self._gradients, self._activations):
            if sampler is not None:
                sampler.attach()
        self._epoch_started = time.perf_counter()

    def close(self) -> None:
        """Take the hooks off the model; what was stored stays."""
        for sampler in (self._gradients, self._activations):
            if sampler is not None:
                sampler.detach()

    def epoch(
        self,
        *,
        train_loss: float | torch.Tensor | None,
        val_loss: float | torch.Tensor | None = None,
        train_metric: float | torch.Tensor | None = None,
        val_metric: float | torch.Tensor | None = None,
        lr: float | torch.optim.Optimizer | None = None,
        epoch: int | None = None,
    ) -> EpochTelemetry:
        """End an epoch: store its telemetry with the trial and return it.

        Losses and metrics are numbers or 0-d tensors; ``train_loss`` is the epoch's mean
        (the last batch's loss alone is too noisy for the doctor's trends). What the loop does
        not measure is None or left out (stored as missing). ``lr`` is a number or the
        optimizer (its first group's rate is read). ``epoch`` counts from 1 and defaults to one
        past the last. A non-finite training loss is also recorded as where the run diverged,
        for the doctor.
        """
        number = len(self.history) + 1 if epoch is None else int(epoch)
        if self.history and number <= self.history[-1].epoch:
            raise ConfigError(
                f"watch.epoch: epoch {number} comes after epoch {self.history[-1].epoch}; "
                "epochs must increase (leave epoch out to count them).",
                field="epoch",
            )
        seconds = time.perf_counter() - self._epoch_started
        outputs = self._activations.epoch_outputs() if self._activations else {}
        record = EpochTelemetry(
            epoch=number,
            train_loss=_number(train_loss, "train_loss"),
            val_loss=_number(val_loss, "val_loss"),
            train_metric=_number(train_metric, "train_metric"),
            val_metric=_number(val_metric, "val_metric"),
            lr=_learning_rate(lr),
            epoch_time=seconds,
            peak_memory_mb=peak_memory_mb(_device(self.model)),
            grad_norm=self._gradients.epoch_means() if self._gradients else {},
            activations=describe_activations(outputs, self._activations.kinds)
            if self._activations else {},
            finished_at=time.time(),
            distributions=self._distributions(outputs) if self.distributions else {},
        )
        self.history.append(record)
        if not math.isfinite(record.train_loss) and train_loss is not None:
            divergence = Divergence(epoch=number, step=None, loss=record.train_loss, lr=record.lr)
            self.trial.set_system_attr(DIVERGENCE_ATTR, divergence.to_json())
        store_telemetry(self.trial, self.history)
        self._epoch_started = time.perf_counter()
        return record


    def _distributions(self, outputs: dict[str, torch.Tensor]) -> dict[str, Any]:
        kinds = self._gradients.distributions() if self._gradients else {}
        if self._activations:
            kinds["activations"] = activation_quantiles(outputs)
        return kinds


# The name a loop reads best: ``with tunelab.torch.watch(trial, model) as w``.
watch = Watch


class _GradientSampler:
    """Per-layer gradient norms over sampled backward passes, through hooks that run once a
    parameter's gradient is accumulated.

    A backward pass starts when a parameter's hook runs a second time since the last start.
    In the first epoch passes 1, 2, 4, 8, ... are sampled, since the number of steps is not
    known yet; afterwards every n-th, about GRADIENT_SAMPLES_PER_EPOCH an epoch. A sampled
    pass keeps each parameter's norm as a device tensor: nothing synchronizes until the epoch
    ends.
    """

    def __init__(self, named: list[tuple[str, torch.Tensor]], distributions: bool) -> None:
        self.parameters = [parameter for _, parameter in named]
        self.norms = GradientNorms([name for name, _ in named])
        sizes = [parameter.numel() for parameter in self.parameters]
        self.quantiles = LayerQuantiles([n for n, _ in named], sizes) if distributions else None
        self.handles: list[Any] = []
        self.every: int | None = None  # known after the first epoch
        self.passes = 0  # backward passes this epoch
        self.seen: set[int] = set()  # parameters whose gradient this pass delivered
        self.pending: dict[int, torch.Tensor] = {}  # this pass's norms, if it is sampled
        self.samples: dict[int, torch.Tensor | None] = {}  # and its sampled gradient values
        self.sampled = False

    def attach(self) -> None:
        self.handles = [
            parameter.register_post_accumulate_grad_hook(self._hook(index))
            for index, parameter in enumerate(self.parameters)
        ]

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _hook(self, index: int) -> Any:
        def hook(parameter: torch.Tensor) -> None:
            if index in self.seen or not self.seen:
                self._next_pass()
            self.seen.add(index)
            if self.sampled and parameter.grad is not None:
                self.pending[index] = torch.linalg.vector_norm(parameter.grad.detach())
                if self.quantiles is not None:
                    self.samples[index] = self.quantiles.sample(index, parameter.grad)

        return hook

    def _next_pass(self) -> None:
        self._flush()
        self.seen = set()
        self.passes += 1
        if self.every is None:
            self.sampled = self.passes & (self.passes - 1) == 0  # a power of two
        else:
            self.sampled = self.passes % self.every == 0

    def _flush(self) -> None:
        if self.pending:
            zero = next(iter(self.pending.values())).new_zeros(())
            row = [self.pending.get(i, zero) for i in range(len(self.parameters))]
            self.norms.add(torch.stack(row))
            if self.quantiles is not None:
                self.quantiles.keep([self.samples.get(i) for i in range(len(self.parameters))])
        self.pending, self.samples = {}, {}

    def epoch_means(self) -> dict[str, float]:
        self._flush()
        self.seen = set()
        if self.every is None and self.passes:
            self.every = max(1, math.ceil(self.passes / GRADIENT_SAMPLES_PER_EPOCH))
        self.passes = 0
        means = self.norms.epoch_means()
        return {} if means is None else dict(zip(self.norms.layer_names, means.tolist()))

    def distributions(self) -> dict[str, dict[str, list[float]]]:
        """The weights' distributions now and the gradients' at the epoch's last sampled pass
        (call after :meth:`epoch_means`)."""
        assert self.quantiles is not None, "distributions were switched off"
        return {
            "weights": weight_quantiles(self.quantiles, self.parameters),
            "gradients": self.quantiles.epoch_quantiles(),
        }


class _ActivationSampler:
    """Each described layer's outputs for the epoch's statistics: up to ACTIVATION_SAMPLES
    inputs seen while the model is in evaluation mode, else the epoch's first training batch.
    Outputs are kept with their units along axis 1, as the statistics read them."""

    def __init__(
        self, model: nn.Module, layers: Sequence[tuple[str, nn.Module, str]], feature_axis: int
    ) -> None:
        self.model = model
        self.layers = [(name, module) for name, module, _ in layers]
        self.kinds = {name: kind for name, _, kind in layers}
        self.feature_axis = feature_axis
        self.handles: list[Any] = []
        self.evaluation: dict[str, list[torch.Tensor]] = {}
        self.training: dict[str, torch.Tensor] = {}

    def attach(self) -> None:
        self.handles = [
            module.register_forward_hook(self._hook(name)) for name, module in self.layers
        ]

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _hook(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            training = self.model.training
            if training and name in self.training:  # every training step but the first
                return
            recurrent = isinstance(module, RECURRENT_TYPES)
            output = units_second(module, output)  # a recurrent layer's units come second
            if output is None:
                return
            if not recurrent and self.feature_axis != 1 and output.dim() > 2:
                output = output.movedim(self.feature_axis, 1)
            if training:
                self.training[name] = output.detach()[:ACTIVATION_SAMPLES].clone()
                return
            kept = self.evaluation.setdefault(name, [])
            room = ACTIVATION_SAMPLES - sum(len(chunk) for chunk in kept)
            if room > 0:
                kept.append(output.detach()[:room])

        return hook

    def epoch_outputs(self) -> dict[str, torch.Tensor]:
        """The outputs the epoch's statistics describe; resets."""
        # One validation batch is the common case: no copy of it then.
        outputs = {
            name: chunks[0] if len(chunks) == 1 else torch.cat(chunks)
            for name, chunks in self.evaluation.items()
        }
        if not outputs:
            outputs = self.training
        self.evaluation, self.training = {}, {}
        return outputs


def _number(value: float | torch.Tensor | None, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ConfigError(
                f"watch.epoch: {name} must be one number, not a tensor of shape "
                f"{tuple(value.shape)}; pass the epoch's mean.",
                field=name,
            )
        return float(value.item())
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"watch.epoch: {name} must be a number, not {type(value).__name__}.", field=name
        ) from None


def _learning_rate(lr: float | torch.optim.Optimizer | None) -> float:
    if isinstance(lr, torch.optim.Optimizer):
        return float(lr.param_groups[0]["lr"])
    return _number(lr, "lr")


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device
