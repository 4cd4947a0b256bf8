"""What happened inside a training run, epoch by epoch, in a form the storage keeps as JSON.

Gradient norms are measured at every step, but as one fused norm call whose result stays on
the device and is summed there, so measuring costs no synchronization. Activation statistics
come from one extra forward pass per epoch over a fixed probe batch rather than from hooks on
every training step, which would slow training for numbers nobody needs per step. Both feed
the plots, the pruners and the training doctor.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from tunelab.trial import TrialRecord

TELEMETRY_ATTR = "telemetry"
ARTIFACT_ATTR = "artifact_dir"
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid)
PROBE_SIZE = 256


@dataclass(frozen=True)
class ActivationStats:
    """Output statistics of one activation layer over the probe batch.

    ``dead`` is the fraction of units (features, or channels of a convolution) whose output is
    the same for every probe input: a ReLU that never fires or a saturated sigmoid. Such a unit
    passes no gradient and no information.
    """

    mean: float
    std: float
    dead: float


@dataclass(frozen=True)
class EpochTelemetry:
    """One epoch of a training run."""

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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EpochTelemetry:
        activations = {name: ActivationStats(**s) for name, s in data["activations"].items()}
        return cls(**{**data, "activations": activations})


def read_telemetry(record: TrialRecord) -> list[EpochTelemetry]:
    """The per-epoch telemetry the training engine stored with a trial (empty if none)."""
    return [EpochTelemetry.from_json(e) for e in record.system_attrs.get(TELEMETRY_ATTR, [])]


def artifact_dir(record: TrialRecord) -> str | None:
    """The folder where the training engine saved this trial's best weights, if any."""
    return record.system_attrs.get(ARTIFACT_ATTR)


class GradientMonitor:
    """Sums per-layer gradient norms over an epoch's steps, on the device."""

    def __init__(self, model: nn.Module) -> None:
        self.layer_names, self.parameters, layer_index = _parameters_by_layer(model)
        self.layer_index = torch.tensor(layer_index)
        self.total: torch.Tensor | None = None
        self.steps = 0

    def record(self) -> None:
        """Add the current gradients' per-layer norms (call after backward, before clipping)."""
        pairs = [(i, p.grad) for i, p in enumerate(self.parameters) if p.grad is not None]
        if not pairs:
            return
        indices, grads = zip(*pairs)
        squares = torch.stack(torch._foreach_norm(list(grads))).float() ** 2
        device = squares.device
        if self.total is None:
            self.total = torch.zeros(len(self.layer_names), device=device)
            self.layer_index = self.layer_index.to(device)
        layer = self.layer_index[torch.tensor(indices, device=device)]
        per_layer = torch.zeros_like(self.total).index_add_(0, layer, squares)
        self.total += per_layer.sqrt()
        self.steps += 1

    def epoch_means(self) -> dict[str, float]:
        """Mean norm per layer over the steps since the last call; resets the sums."""
        if self.total is None or self.steps == 0:
            return {}
        means = (self.total / self.steps).tolist()
        self.total.zero_()
        self.steps = 0
        return dict(zip(self.layer_names, means))


def _parameters_by_layer(model: nn.Module) -> tuple[list[str], list[nn.Parameter], list[int]]:
    """Parameters grouped by the module that owns them ("blocks.0.linear" for its weight/bias)."""
    names: list[str] = []
    parameters: list[nn.Parameter] = []
    layer_index: list[int] = []
    for name, parameter in model.named_parameters():
        layer = name.rpartition(".")[0] or name
        if layer not in names:
            names.append(layer)
        parameters.append(parameter)
        layer_index.append(names.index(layer))
    return names, parameters, layer_index


@torch.no_grad()
def activation_stats(model: nn.Module, probe: torch.Tensor) -> dict[str, ActivationStats]:
    """Statistics of every activation layer's output for ``probe``, in evaluation mode.

    Models without activation modules (a user's model calling ``F.relu``) are described by
    their Linear and Conv outputs instead, so they still get numbers.
    """
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, ACTIVATION_TYPES)]
    if not layers:
        layers = [
            (n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
        ]
    outputs: dict[str, torch.Tensor] = {}
    handles = [
        module.register_forward_hook(_keep_output(outputs, name)) for name, module in layers
    ]
    was_training = model.training
    model.eval()
    try:
        model(probe)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {name: _describe(output) for name, output in outputs.items()}


def _keep_output(outputs: dict[str, torch.Tensor], name: str) -> Any:
    def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        outputs[name] = output.detach()

    return hook


def _describe(output: torch.Tensor) -> ActivationStats:
    output = output.float()
    # Units are features (dim 1); for a convolution every spatial position of a channel counts
    # as an observation of that channel.
    per_unit = output.transpose(0, 1).reshape(output.shape[1], -1) if output.dim() > 1 else output[None]
    spread = per_unit.max(dim=1).values - per_unit.min(dim=1).values
    dead = (spread <= 1e-6 * (1.0 + per_unit.abs().max(dim=1).values)).float().mean()
    return ActivationStats(
        mean=output.mean().item(), std=output.std().item(), dead=dead.item()
    )


def probe_batch(x: torch.Tensor) -> torch.Tensor:
    """The first inputs of a split, used every epoch so that statistics are comparable."""
    return x[:PROBE_SIZE]


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of the epoch on an accelerator, else the process's peak resident memory."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
        return peak
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (2**20 if sys.platform == "darwin" else 2**10)


def telemetry_json(history: Sequence[EpochTelemetry]) -> list[dict[str, Any]]:
    return [epoch.to_json() for epoch in history]
