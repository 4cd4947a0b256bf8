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
from typing import Any

import torch
from torch import nn

from tunelab.telemetry import ActivationStats

GRADIENT_SAMPLES_PER_EPOCH = 4
ACTIVATION_SAMPLES = 256
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid)


class GradientMonitor:
    """Per-layer gradient norms over an epoch's steps, accumulated on the device.

    A sampled step adds the squared norm of every parameter's gradient to a running sum (three
    tensor operations, no synchronization); at the end of the epoch the sums are combined by
    layer into the root-mean-square norm over the sampled steps. Sampling ``every`` n-th step,
    about GRADIENT_SAMPLES_PER_EPOCH times an epoch, keeps the cost of telemetry small beside
    the step of a small model while still averaging over the epoch.
    """

    def __init__(self, model: nn.Module, steps_per_epoch: int = 1) -> None:
        self.every = gradient_sampling_interval(steps_per_epoch)
        self.layer_names, self.parameters, layer_index = _parameters_by_layer(model)
        self.layer_index = torch.tensor(layer_index)
        self.squares: torch.Tensor | None = None
        self.steps = 0

    def record(self) -> None:
        """Add the current gradients (call after backward, before clipping)."""
        grads = [p.grad for p in self.parameters]
        if any(g is None for g in grads):  # frozen parameters have no gradient
            grads = [g if g is not None else torch.zeros(()) for g in grads]
        norms = torch.stack(torch._foreach_norm(grads)).float()
        if self.squares is None:
            self.squares = torch.zeros_like(norms)
        self.squares.addcmul_(norms, norms)
        self.steps += 1

    def epoch_means(self) -> dict[str, float]:
        """Root-mean-square norm per layer over the steps since the last call; resets."""
        if self.squares is None or self.steps == 0:
            return {}
        per_layer = torch.zeros(len(self.layer_names), device=self.squares.device)
        per_layer.index_add_(0, self.layer_index.to(self.squares.device), self.squares)
        means = (per_layer / self.steps).sqrt().tolist()
        self.squares.zero_()
        self.steps = 0
        return dict(zip(self.layer_names, means))


def gradient_sampling_interval(steps_per_epoch: int) -> int:
    """Every how many steps gradients are measured: about GRADIENT_SAMPLES_PER_EPOCH an epoch."""
    return max(1, math.ceil(steps_per_epoch / GRADIENT_SAMPLES_PER_EPOCH))


def layer_name(parameter_name: str) -> str:
    """The layer a parameter belongs to: "blocks.0.linear" for "blocks.0.linear.weight"."""
    return parameter_name.rpartition(".")[0] or parameter_name


def _parameters_by_layer(model: nn.Module) -> tuple[list[str], list[nn.Parameter], list[int]]:
    """Parameters grouped by the module that owns them ("blocks.0.linear" for its weight/bias)."""
    names: list[str] = []
    parameters: list[nn.Parameter] = []
    layer_index: list[int] = []
    for name, parameter in model.named_parameters():
        layer = layer_name(name)
        if layer not in names:
            names.append(layer)
        parameters.append(parameter)
        layer_index.append(names.index(layer))
    return names, parameters, layer_index


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose outputs telemetry describes: the activation modules, or for a model
    without any (a user's model calling ``F.relu``) its Linear and Conv layers."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, ACTIVATION_TYPES)]
    if not layers:
        layers = [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
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
        self.outputs: dict[str, torch.Tensor] = {}
        self.handles: list[Any] = []

    def __enter__(self) -> ActivationRecorder:
        self.outputs = {}
        self.handles = [module.register_forward_hook(self._keep(name)) for name, module in self.layers]
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

    @torch.no_grad()
    def stats(self) -> dict[str, ActivationStats]:
        if not self.outputs:
            return {}
        # One transfer for all layers: an .item() per number would cost more than the numbers.
        numbers = torch.stack([activation_summary(output) for output in self.outputs.values()]).tolist()
        kinds = {name: type(module).__name__ for name, module in self.layers}
        return {
            name: ActivationStats(*row, kind=kinds[name]) for name, row in zip(self.outputs, numbers)
        }


def activation_summary(output: torch.Tensor) -> torch.Tensor:
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
