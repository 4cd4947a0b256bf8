"""What happened inside a training run, epoch by epoch: measured here, recorded as
:mod:`tunelab.telemetry` records (JSON in the storage, readable without PyTorch).

Gradient norms are measured at every step, but as one fused norm call whose result stays on
the device and is summed there, so measuring costs no synchronization. Activation statistics
are taken from the validation pass the trainer makes anyway, rather than from hooks on every
training step, which would slow training for numbers nobody needs per step. Both feed
the plots, the pruners and the training doctor.
"""

from __future__ import annotations

import functools
import math
import resource
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from tunelab.telemetry import QUANTILE_LEVELS, ActivationStats, spread_layers

GRADIENT_SAMPLES_PER_EPOCH = 4
QUANTILE_SAMPLE = 2048  # values per layer that its distribution's quantiles are taken over
ACTIVATION_SAMPLES = 256
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.Tanh, nn.Sigmoid)
# A recurrent layer's outputs are its hidden states: the activations of a recurrent network.
RECURRENT_TYPES = (nn.RNNBase,)


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
        self.quantiles = LayerQuantiles(names, [p.numel() for p in self.parameters])
        self.every = self.norms.every

    def record(self) -> None:
        """Add the current gradients (call after backward, before clipping)."""
        grads = [  # frozen parameters have no gradient
            torch.zeros(()) if p.grad is None else p.grad for p in self.parameters
        ]
        self.norms.add(torch.stack(torch._foreach_norm(grads)))
        self.quantiles.keep([
            None if p.grad is None else self.quantiles.sample(i, p.grad)
            for i, p in enumerate(self.parameters)
        ])

    def distributions(self) -> dict[str, dict[str, list[float]]]:
        """The weights' distributions now and the gradients' at the last sampled step since
        the last call (which resets them), by layer."""
        return {
            "weights": weight_quantiles(self.quantiles, self.parameters),
            "gradients": self.quantiles.epoch_quantiles(),
        }

    def epoch_means(self) -> dict[str, float]:
        """Root-mean-square norm per layer over the steps since the last call; resets."""
        means = self.norms.epoch_means()
        return {} if means is None else dict(zip(self.norms.layer_names, means.tolist()))


class LayerQuantiles:
    """The distribution of each layer's values (its parameters, or their gradients) as
    QUANTILE_LEVELS, for at most MAX_DISTRIBUTION_LAYERS layers.

    Quantiles are taken over a fixed sample of QUANTILE_SAMPLE values per layer, each of its
    tensors in proportion to its size, at positions drawn once: the numbers stay cheap for
    large layers, and every epoch describes the same positions. Gradients are described at the
    epoch's last sampled step (:meth:`keep`, :meth:`epoch_quantiles`), as a histogram of
    TensorBoard's describes one step.
    """

    def __init__(self, parameter_names: Sequence[str], sizes: Sequence[int]) -> None:
        layers = [layer_name(name) for name in parameter_names]
        self.layer_names = spread_layers(list(dict.fromkeys(layers)))
        kept = {name: index for index, name in enumerate(self.layer_names)}
        totals: Counter[str] = Counter()
        for layer, size in zip(layers, sizes):
            totals[layer] += size
        self.members: list[list[int]] = [[] for _ in self.layer_names]
        self.counts: dict[int, int] = {}  # how many values each parameter gives its layer
        for index, (layer, size) in enumerate(zip(layers, sizes)):
            if layer in kept:
                self.members[kept[layer]].append(index)
                self.counts[index] = max(1, round(QUANTILE_SAMPLE * size / totals[layer]))
        self.latest: list[torch.Tensor | None] | None = None

    def sample(self, index: int, values: torch.Tensor) -> torch.Tensor | None:
        """The sampled values of parameter ``index``'s tensor (None for a left-out layer)."""
        count = self.counts.get(index)
        return None if count is None else sample_values(values, count)

    def quantiles(self, samples: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
        """Each layer's quantiles (a row per layer) from its parameters' ``samples``; nan for
        a layer without any (a frozen layer has no gradient), None if no layer has any."""
        rows: list[torch.Tensor | None] = []
        for members in self.members:
            parts = [part for part in (samples[i] for i in members) if part is not None]
            rows.append(torch.cat(parts) if parts else None)
        return None if all(row is None for row in rows) else value_quantiles(rows)

    def keep(self, samples: Sequence[torch.Tensor | None]) -> None:
        """Keep one sampled step's samples (of gradients): the epoch's distribution is its
        last sampled step's, sorted once when the epoch ends."""
        if any(sample is not None for sample in samples):
            self.latest = list(samples)

    def epoch_quantiles(self) -> dict[str, list[float]]:
        """Each layer's quantiles at the last sampled step since the last call; resets."""
        if self.latest is None:
            return {}
        rows = self.quantiles(self.latest)
        self.latest = None
        return {} if rows is None else quantile_rows(self.layer_names, rows)


def sample_values(values: torch.Tensor, count: int = 0) -> torch.Tensor:
    """``count`` (by default QUANTILE_SAMPLE) of the tensor's values as floats, at positions
    that depend only on its size: all of them when it has no more."""
    flat = values.detach().reshape(-1).float()
    count = count or QUANTILE_SAMPLE
    if flat.numel() <= count:
        return flat
    return flat[_positions(flat.numel(), count, flat.device)]


@functools.lru_cache(maxsize=256)
def _positions(size: int, count: int, device: torch.device) -> torch.Tensor:
    generator = torch.Generator().manual_seed(size)
    return torch.randint(size, (count,), generator=generator).to(device)


def value_quantiles(rows: Sequence[torch.Tensor | None]) -> torch.Tensor:
    """QUANTILE_LEVELS of each 1-d tensor of values, a row each (nan for None), on their
    device, as ``torch.quantile`` interpolates them.

    All rows are sorted in one call, padded to the longest with +inf: a quantile call per
    layer would cost more in dispatch than in sorting a few thousand numbers.
    """
    known = next(row for row in rows if row is not None)
    longest = max(len(row) for row in rows if row is not None)
    padded = known.new_full((len(rows), max(1, longest)), math.inf)
    counts = torch.zeros(len(rows), dtype=torch.long)
    for index, row in enumerate(rows):
        if row is not None and len(row):
            padded[index, :len(row)] = row
            counts[index] = len(row)
    ordered = padded.sort(dim=1).values
    device = known.device
    positions = _levels(device)[None, :] * (counts.to(device)[:, None] - 1).clamp_min(0)
    low = positions.floor().long()
    high = positions.ceil().long()
    quantiles = torch.lerp(
        ordered.gather(1, low), ordered.gather(1, high), positions - low
    )
    return quantiles.masked_fill((counts == 0).to(device)[:, None], math.nan)


@functools.lru_cache(maxsize=8)
def _levels(device: torch.device) -> torch.Tensor:
    return torch.tensor(QUANTILE_LEVELS, device=device)


def quantile_rows(names: Sequence[str], rows: torch.Tensor) -> dict[str, list[float]]:
    """A row of quantiles per name, as numbers of 4 significant digits (one transfer); rows
    that are not all finite numbers (a layer without values, an overflow) are left out."""
    return {
        name: [float(f"{value:.4g}") for value in row]
        for name, row in zip(names, rows.tolist())
        if all(math.isfinite(value) for value in row)
    }


def weight_quantiles(quantiles: LayerQuantiles, parameters: Sequence[torch.Tensor]) -> dict[
    str, list[float]
]:
    """Each layer's quantiles of its parameters' current values."""
    rows = quantiles.quantiles([quantiles.sample(i, p) for i, p in enumerate(parameters)])
    return {} if rows is None else quantile_rows(quantiles.layer_names, rows)


def activation_quantiles(outputs: Mapping[str, torch.Tensor]) -> dict[str, list[float]]:
    """Each (kept) activation layer's quantiles of its outputs."""
    names = spread_layers(list(outputs))
    if not names:
        return {}
    rows = value_quantiles([sample_values(outputs[name]) for name in names])
    return quantile_rows(names, rows)


def layer_name(parameter_name: str) -> str:
    """The layer a parameter belongs to: "blocks.0.linear" for "blocks.0.linear.weight"."""
    return parameter_name.rpartition(".")[0] or parameter_name


def activation_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose outputs telemetry describes: the activation modules and recurrent
    layers, or for a model without any (a user's model calling ``F.relu``) its Linear and Conv
    layers."""
    layers: list[tuple[str, nn.Module]] = [
        (n, m) for n, m in model.named_modules()
        if isinstance(m, ACTIVATION_TYPES + RECURRENT_TYPES)
    ]
    if not layers:
        layers = [
            (n, m) for n, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))
        ]
    return layers


def units_second(module: nn.Module, output: Any) -> torch.Tensor | None:
    """A layer's output as a tensor: a recurrent layer's (outputs, final states) gives its
    outputs, with units moved from the last axis to the second when it is ``batch_first``;
    None for an output that is no tensor (a packed sequence, say)."""
    if isinstance(module, RECURRENT_TYPES) and isinstance(output[0], torch.Tensor):
        output = output[0]
        return output.transpose(1, 2) if module.batch_first else output.permute(1, 2, 0)
    return output if isinstance(output, torch.Tensor) else None


class ActivationRecorder:
    """Keeps each activation layer's output during a forward pass, as a context manager.

    The trainer wraps its validation pass in it, so activation statistics cost no extra forward
    pass. Models without activation modules (a user's model calling ``F.relu``) are described
    by their Linear and Conv outputs instead, so they still get numbers. Only the first
    ACTIVATION_SAMPLES inputs a layer sees are described.

    Units are the second axis of an output, (N, units, ...), as for Linear and convolution
    layers. A layer whose outputs put them last, (N, steps, units), is turned to that layout:
    a recurrent layer with ``batch_first``, whose outputs come as a tuple (the states of every
    step first), and the layers a model names in its ``features_last_layers`` attribute (the
    feed-forward activations of a transformer, say).
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = activation_layers(model)
        self.kinds = {name: type(module).__name__ for name, module in self.layers}
        self.features_last = set(getattr(model, "features_last_layers", ()))
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
        features_last = name in self.features_last

        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            output = units_second(module, output)
            if name in self.outputs or output is None:
                return
            kept = output.detach()[:ACTIVATION_SAMPLES]
            self.outputs[name] = kept.transpose(1, 2) if features_last else kept

        return hook

    def stats(self) -> dict[str, ActivationStats]:
        return describe_activations(self.outputs, self.kinds)

    def distributions(self) -> dict[str, list[float]]:
        return activation_quantiles(self.outputs)


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
    # as an observation of that channel. A convolution's output is first laid out as a row of
    # observations per channel: reducing over (0, 2, 3) in place is up to ten times slower on
    # the CPU for small pictures (a 4x4 map: 0.7 ms against 0.04 ms per reduction).
    rows = output if output.dim() <= 2 else output.transpose(0, 1).reshape(output.shape[1], -1)
    units = rows if output.dim() <= 2 else rows.T
    # amin and amax apart: the fused aminmax is several times slower along dim 0 on the CPU.
    low, high = units.amin(dim=0), units.amax(dim=0)
    dead = (high - low <= 1e-6 * (1.0 + high.abs() + low.abs())).float().mean()
    # E[x^2] - E[x]^2 rather than torch.std_mean, which is several times slower on the CPU;
    # E[x^2] as a dot product, which reads the values once and writes no squares.
    flat = rows.reshape(-1)  # the values in memory order: no copy
    mean = flat.mean()
    std = (torch.dot(flat, flat) / flat.numel() - mean.square()).clamp_min(0.0).sqrt()
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
