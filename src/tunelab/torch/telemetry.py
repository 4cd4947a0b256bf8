"""What happened inside a training run, epoch by epoch: measured here, recorded as
:mod:`tunelab.telemetry` records (JSON in the storage, readable without PyTorch).

Gradient norms are measured at every step, but as one fused norm call whose result stays on
the device and is summed there, so measuring costs no synchronization. Activation statistics
are taken from the validation pass the trainer makes anyway, rather than from hooks on every
training step, which would slow training for numbers nobody needs per step. Both feed
the plots, the pruners and the training doctor.
"""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tunelab.telemetry import ActivationStats

GRADIENT_SAMPLES_PER_EPOCH = 4
ACTIVATION_SAMPLES = 256
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid)


class GradientNorms:
    """Per-layer gradient norms over an epoch's sampled steps, accumulated on the device.

    A sampled step adds the squared norm of every parameter's gradient to a running sum (a few
    tensor operations, no synchronization): norms of shape (P,) for one model, or (P, K) for
    the K members of a fused population. At the end of the epoch the sums are combined by
    layer into the root-mean-square norm over the sampled steps. Sampling ``every`` n-th step,
    about GRADIENT_SAMPLES_PER_EPOCH times an epoch, keeps the cost of telemetry small beside
    the step of a small model while still averaging over the epoch.
    """

    def __init__(self, parameter_names: Sequence[str], steps_per_epoch: int = 1) -> None:
        self.every = max(1, math.ceil(steps_per_epoch / GRADIENT_SAMPLES_PER_EPOCH))
        layers = [layer_name(name) for name in parameter_names]
        self.layer_names = list(dict.fromkeys(layers))
        self.layer_index = torch.tensor([self.layer_names.index(layer) for layer in layers])
        self.squares: torch.Tensor | None = None
        self.steps = 0

    def add(self, norms: torch.Tensor) -> None:
        """Add one sampled step's gradient norms, one row per parameter."""
        squares = norms.float().square()
        self.squares = squares if self.squares is None else self.squares + squares
        self.steps += 1

    def epoch_means(self) -> torch.Tensor | None:
        """The root-mean-square norm per layer (a row per layer) since the last call, or None
        without a sampled step; resets."""
        if self.squares is None or self.steps == 0:
            return None
        per_layer = self.squares.new_zeros(len(self.layer_names), *self.squares.shape[1:])
        per_layer.index_add_(0, self.layer_index.to(self.squares.device), self.squares)
        means = (per_layer / self.steps).sqrt()
        self.squares, self.steps = None, 0
        return means

    def keep_members(self, members: torch.Tensor) -> None:
        """For a population's norms: keep the columns of ``members``, in that order."""
        if self.squares is not None:
            self.squares = self.squares[:, members]


class GradientMonitor:
    """The gradient norms of one model's layers (see :class:`GradientNorms`)."""

    def __init__(self, model: nn.Module, steps_per_epoch: int = 1) -> None:
        names = [name for name, _ in model.named_parameters()]
        self.parameters = [parameter for _, parameter in model.named_parameters()]
        self.norms = GradientNorms(names, steps_per_epoch)
        self.every = self.norms.every

    def record(self) -> None:
        """Add the current gradients (call after backward, before clipping)."""
        grads = [  # frozen parameters have no gradient
            torch.zeros(()) if p.grad is None else p.grad for p in self.parameters
        ]
        self.norms.add(torch.stack(torch._foreach_norm(grads)))

    def epoch_means(self) -> dict[str, float]:
        """Root-mean-square norm per layer over the steps since the last call; resets."""
        means = self.norms.epoch_means()
        return {} if means is None else dict(zip(self.norms.layer_names, means.tolist()))


def layer_name(parameter_name: str) -> str:
    """The layer a parameter belongs to: "blocks.0.linear" for "blocks.0.linear.weight"."""
    return parameter_name.rpartition(".")[0] or parameter_name


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose outputs telemetry describes: the activation modules, or for a model
    without any (a user's model calling ``F.relu``) its Linear and Conv layers."""
    layers: list[tuple[str, nn.Module]] = [
        (n, m) for n, m in model.named_modules() if isinstance(m, ACTIVATION_TYPES)
    ]
    if not layers:
        layers = [
            (n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
        ]
    return layers


class ActivationRecorder:
    """Keeps each activation layer's output during a forward pass, as a context manager.

    The trainer wraps its validation pass in it, so activation statistics cost no extra forward
    pass. Models without activation modules (a user's model calling ``F.relu``) are described
    by their Linear and Conv outputs instead, so they still get numbers. Only the first
    ACTIVATION_SAMPLES inputs a layer sees are described.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = activation_layers(model)
        self.kinds = {name: type(module).__name__ for name, module in self.layers}
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list[Any] = []

    def __enter__(self) -> ActivationRecorder:
        self.outputs = {}
        self.handles = [
            module.register_forward_hook(self._keep(name)) for name, module in self.layers
        ]
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def _keep(self, name: str) -> Any:
        def hook(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if name not in self.outputs:
                self.outputs[name] = output.detach()[:ACTIVATION_SAMPLES]

        return hook

    def stats(self) -> dict[str, ActivationStats]:
        return describe_activations(self.outputs, self.kinds)


@torch.no_grad()
def describe_activations(
    outputs: Mapping[str, torch.Tensor], kinds: Mapping[str, str]
) -> dict[str, ActivationStats]:
    """The statistics of each layer's outputs; ``kinds`` names each layer's class."""
    if not outputs:
        return {}
    # One transfer for all layers: an .item() per number would cost more than the numbers.
    numbers = torch.stack([_summary(output) for output in outputs.values()]).tolist()
    return {
        name: ActivationStats(mean, std, dead, kind=kinds[name])
        for name, (mean, std, dead) in zip(outputs, numbers)
    }


def _summary(output: torch.Tensor) -> torch.Tensor:
    """(mean, std, dead fraction) of one layer's output, as a tensor on its device."""
    output = output.float()
    # Units are features (dim 1); for a convolution every spatial position of a channel counts
    # as an observation of that channel.
    others = [0, *range(2, output.dim())]
    # amin and amax apart: the fused aminmax is several times slower along dim 0 on the CPU.
    low, high = output.amin(dim=others), output.amax(dim=others)
    dead = (high - low <= 1e-6 * (1.0 + high.abs() + low.abs())).float().mean()
    # E[x^2] - E[x]^2 rather than torch.std_mean, which is several times slower on the CPU.
    mean = output.mean()
    std = (output.square().mean() - mean.square()).clamp_min(0.0).sqrt()
    return torch.stack([mean, std, dead])


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory of the epoch on an accelerator, else the process's peak resident memory."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        torch.cuda.reset_peak_memory_stats(device)
        return peak
    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (2**20 if sys.platform == "darwin" else 2**10)
