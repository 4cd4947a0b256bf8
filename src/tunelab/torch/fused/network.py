"""K models of one architecture run as one network with stacked parameters.

Every parameter and buffer of the K member models is stacked along a new first dimension and
kept under the member model's own state-dict name ("blocks.0.linear.weight" becomes a
(K, out, in) tensor), so that a member's weights come back out as an ordinary state dict.
The network is a list of functional operations that read those tensors by name at each call:
compacting the population (dropping stopped members) is then just indexing the tensors.

Two layouts carry activations between operations:

* stacked, (K, B, ...): member-major. A Linear layer is one batched matmul (``baddbmm``).
* channels, (B, K*C, H, W): the members' channels side by side. A convolution is one grouped
  convolution with K groups; batch normalization with per-member statistics, pooling and
  element-wise activations are the ordinary operations on it, since they act per channel.

The builder knows each layer's input layout and inserts a conversion where a layer needs the
other one. Members may differ in widths: their tensors are then zero-padded to the widest
(:mod:`~tunelab.torch.fused.padding`), which the operations need not know, since they read
every size from the tensors.

Only layers whose forward pass is known are fused: nn.Sequential, the model builders' blocks
(residual or not), Linear, Conv2d, BatchNorm1d/2d, Dropout (its rate may differ per member),
element-wise activations, PReLU, pooling and Flatten. Anything else raises
:class:`FusionError` naming the layer, and the caller trains the members one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from tunelab.exceptions import TunelabError
from tunelab.torch.fused.padding import Padding, free_shapes, own_shapes
from tunelab.torch.models import ConvBlock, MLPBlock
from tunelab.torch.telemetry import ACTIVATION_SAMPLES, activation_layers

STACKED = "stacked"
CHANNELS = "channels"

# Stateless layers that act on each number alone, so any layout suits them.
ELEMENTWISE = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
    nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Identity,
)
# Stateless layers that act on each channel of an image alone.
CHANNELWISE = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
SUPPORTED = (
    "Sequential, the model builders' blocks, Linear, Conv2d, BatchNorm1d, BatchNorm2d, "
    "Dropout, PReLU, Flatten, max/average pooling and element-wise activations"
)


class FusionError(TunelabError):
    """The members' models cannot be trained as one fused network."""


@dataclass
class Pass:
    """What one forward pass needs besides the inputs.

    ``tensors`` are the stacked parameters and buffers by name, ``size`` the number of members
    they stack, ``dropout`` each dropout layer's per-member rates. With ``record`` set, the
    first outputs of the telemetry layers are kept there, member-major.
    """

    tensors: Mapping[str, torch.Tensor]
    size: int
    training: bool
    dropout: Mapping[str, torch.Tensor] = field(default_factory=dict)
    record: dict[str, torch.Tensor] | None = None


Operation = Callable[[torch.Tensor, Pass], torch.Tensor]


def to_channels(x: torch.Tensor, size: int) -> torch.Tensor:
    """(K, B, C, ...) to (B, K*C, ...)."""
    return x.transpose(0, 1).reshape(x.shape[1], size * x.shape[2], *x.shape[3:])


def to_stacked(x: torch.Tensor, size: int) -> torch.Tensor:
    """(B, K*C, ...) to (K, B, C, ...)."""
    return x.reshape(x.shape[0], size, x.shape[1] // size, *x.shape[2:]).transpose(0, 1)


def per_member(values: torch.Tensor, x: torch.Tensor, layout: str, size: int) -> torch.Tensor:
    """Per-member values, (K,) or (K, C) for C features or channels, shaped to broadcast
    against ``x`` in ``layout``."""
    values = values.to(x.dtype).reshape(size, -1)
    if layout == STACKED:  # (K, B, C, ...): the ordinary model's dim 1 is dim 2 here
        return values.reshape(size, 1, values.shape[1], *([1] * (x.dim() - 3)))
    channels = x.shape[1] // size
    flat = values.expand(size, channels).reshape(-1)
    return flat.reshape(1, -1, *([1] * (x.dim() - 2)))


class FusedNetwork:
    """The members' common architecture as functional operations over stacked tensors.

    Build it from the K member models (one architecture up to widths; a dropout layer may be
    missing in some members, which then have rate 0 there); :meth:`stack` gives their stacked
    tensors, padded as ``padding`` says. ``dropout`` holds each dropout layer's per-member
    rates, ``recorded`` the layers whose outputs telemetry describes (as
    :func:`~tunelab.torch.telemetry.activation_layers`), with their classes' names, and
    ``recorded_widths`` the weight whose rows make each one's units (None: the inputs').
    """

    def __init__(self, models: Sequence[nn.Module]) -> None:
        assert models, "a population needs at least one member"
        self.parameter_names = [name for name, _ in models[0].named_parameters()]
        self.state_names = list(models[0].state_dict())
        self.dropout: dict[str, torch.Tensor] = {}
        self.recorded = {name: type(m).__name__ for name, m in activation_layers(models[0])}
        self.recorded_widths: dict[str, str | None] = {}
        self.operations, self.output_layout = _Builder(self).module("", list(models), STACKED)
        _check_same_weights(models)
        self.padding = Padding([own_shapes(model) for model in models])

    def stack(self, models: Sequence[nn.Module]) -> dict[str, torch.Tensor]:
        """The members' parameters (leaf tensors that require gradients) and buffers, stacked
        and padded."""
        tensors = self.padding.stack([model.state_dict() for model in models])
        return {name: stacked.requires_grad_(name in self.parameter_names)
                for name, stacked in tensors.items()}

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        """Outputs (K, B, outputs) for inputs (K, B, ...), one slice per member."""
        for operation in self.operations:
            x = operation(x, run)
        return x if self.output_layout == STACKED else to_stacked(x, run.size)


def _check_same_weights(models: Sequence[nn.Module]) -> None:
    """Every tensor's shape must match between members but in its widths (shown as None)."""
    shapes = free_shapes(models[0])
    for index, model in enumerate(models[1:], start=1):
        other = free_shapes(model)
        if other != shapes:
            names = sorted(set(shapes) | set(other))
            name = next(n for n in names if shapes.get(n) != other.get(n))
            raise FusionError(
                f"member {index}'s model differs from member 0's at {name!r} "
                f"({other.get(name, 'absent')} vs {shapes.get(name, 'absent')}, None for a "
                "width); only models of one architecture, up to widths, fuse."
            )


class _Builder:
    """Walks the members' module trees side by side and emits the operations."""

    def __init__(self, network: FusedNetwork) -> None:
        self.network = network
        self.width_source: str | None = None
        """The last weight met whose rows make the units flowing now (None: the inputs)."""

    def module(
        self, name: str, modules: list[nn.Module | None], layout: str
    ) -> tuple[list[Operation], str]:
        """The operations of one module of every member (None: a dropout a member lacks)."""
        present = [m for m in modules if m is not None]
        first = present[0]
        if isinstance(first, nn.Dropout):
            rates = [m.p if m is not None else 0.0 for m in modules]
            self.network.dropout[name] = torch.tensor(rates, dtype=torch.float64)
            return [_Dropout(name, layout)], layout
        assert len(present) == len(modules), f"{name}: only dropout layers may be absent"
        if type(first) is nn.Sequential:
            return self.sequence(name, [list(m.named_children()) for m in present], layout)
        if isinstance(first, (MLPBlock, ConvBlock)):
            blocks = [m for m in present if isinstance(m, (MLPBlock, ConvBlock))]
            assert len(blocks) == len(present), f"{name}: members of one signature differ"
            return self.block(name, blocks, layout)
        operations, out = self.layer(name, first, layout)
        if type(first) in (nn.Linear, nn.Conv2d):
            self.width_source = f"{name}.weight"
        if name in self.network.recorded:
            operations[-1] = _Recorded(name, operations[-1], out)
            self.network.recorded_widths[name] = self.width_source
        return operations, out

    def sequence(
        self, name: str, children: list[list[tuple[str, nn.Module]]], layout: str
    ) -> tuple[list[Operation], str]:
        operations: list[Operation] = []
        for child, modules in _merged_children(children, name):
            made, layout = self.module(child, modules, layout)
            operations.extend(made)
        return operations, layout

    def block(
        self, name: str, blocks: list[MLPBlock | ConvBlock], layout: str
    ) -> tuple[list[Operation], str]:
        bodies = [block.body_layers() for block in blocks]
        body, out = self.sequence(name, bodies, layout)
        if not blocks[0].residual:
            return body, out
        skip: list[Operation] = []
        skip_out = layout
        if blocks[0].skip is not None:
            skip, skip_out = self.module(_join(name, "skip"), [b.skip for b in blocks], layout)
        return [_Residual(body, skip + _into(skip_out, out))], out

    def layer(self, name: str, module: nn.Module, layout: str) -> tuple[list[Operation], str]:
        kind = type(module)
        if isinstance(module, ELEMENTWISE):
            return [_Module(module)], layout
        if kind is nn.PReLU:
            return [_PReLU(name, layout)], layout
        if isinstance(module, CHANNELWISE):
            return [*_into(layout, CHANNELS), _Module(module)], CHANNELS
        if kind is nn.Linear:
            return [*_into(layout, STACKED), _Linear(name, module.bias is not None)], STACKED
        if type(module) is nn.Conv2d and module.padding_mode == "zeros":
            return [*_into(layout, CHANNELS), _Conv2d(name, module)], CHANNELS
        if type(module) in (nn.BatchNorm1d, nn.BatchNorm2d):
            assert isinstance(module, nn.modules.batchnorm._BatchNorm)
            needed = STACKED if kind is nn.BatchNorm1d else CHANNELS
            return [*_into(layout, needed), _BatchNorm(name, module, needed)], needed
        if kind is nn.Flatten and module.start_dim == 1 and module.end_dim == -1:
            return [_Flatten(layout)], STACKED
        raise FusionError(
            f"layer {name or 'model'!r} ({kind.__name__}) cannot be fused: fused training knows "
            f"{SUPPORTED}."
        )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _into(layout: str, needed: str) -> list[Operation]:
    """The conversion from ``layout`` to ``needed``, if they differ."""
    return [] if layout == needed else [_Convert(needed)]


def _merged_children(
    members: list[list[tuple[str, nn.Module]]], prefix: str
) -> list[tuple[str, list[nn.Module | None]]]:
    """The children of one container across members, in forward order, with full names.

    Members may differ in their dropout layers only (a member trained without dropout has
    none); the other layers must match one to one. A dropout a member lacks is None there.
    """
    skeletons = [[n for n, m in children if not isinstance(m, nn.Dropout)] for children in members]
    for skeleton in skeletons[1:]:
        if skeleton != skeletons[0]:
            raise FusionError(
                f"the members' layers under {prefix or 'the model'!r} differ ({skeletons[0]} vs "
                f"{skeleton}); only models of one architecture fuse."
            )
    order: list[str] = []
    for children in members:
        for position, (name, _) in enumerate(children):
            if name not in order:
                after = next((n for n, _ in children[position + 1:] if n in order), None)
                order.insert(order.index(after) if after else len(order), name)
    found = [dict(children) for children in members]
    return [(_join(prefix, name), [modules.get(name) for modules in found]) for name in order]


class _Convert:
    def __init__(self, layout: str) -> None:
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        return to_channels(x, run.size) if self.layout == CHANNELS else to_stacked(x, run.size)


class _Module:
    """A stateless layer applied as it is (element-wise, or per channel)."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        return self.module(x)


class _Linear:
    def __init__(self, name: str, bias: bool) -> None:
        self.weight = f"{name}.weight"
        self.bias = f"{name}.bias" if bias else None

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        weight = run.tensors[self.weight]  # (K, out, in)
        inputs = x.reshape(run.size, -1, x.shape[-1]).transpose(1, 2)  # (K, in, N)
        # The outputs as weight @ inputs, (K, out, N), seen transposed: the backward pass then
        # makes the weight's gradient in the weight's own layout; computed as inputs @ weight^T
        # it comes out transposed, and copying it back cost as much as the product itself.
        if self.bias is None:
            out = torch.bmm(weight, inputs)
        else:
            out = torch.baddbmm(run.tensors[self.bias].unsqueeze(2), weight, inputs)
        return out.transpose(1, 2).reshape(*x.shape[:-1], weight.shape[1])


class _Conv2d:
    def __init__(self, name: str, conv: nn.Conv2d) -> None:
        self.weight = f"{name}.weight"
        self.bias = f"{name}.bias" if conv.bias is not None else None
        self.options: dict[str, Any] = dict(
            stride=conv.stride, padding=conv.padding, dilation=conv.dilation
        )
        self.groups = conv.groups

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        weight = run.tensors[self.weight]  # (K, out, in / groups, kh, kw)
        bias = None if self.bias is None else run.tensors[self.bias].reshape(-1)
        return F.conv2d(
            x, weight.flatten(0, 1), bias, groups=self.groups * run.size, **self.options
        )


class _BatchNorm:
    """Batch normalization with each member's own statistics, as nn.BatchNorm computes them."""

    def __init__(self, name: str, norm: nn.modules.batchnorm._BatchNorm, layout: str) -> None:
        self.names = {part: f"{name}.{part}" for part in
                      ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")}
        self.momentum = norm.momentum
        self.eps = norm.eps
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        weight, bias, mean, var, batches = (run.tensors.get(n) for n in self.names.values())
        momentum = self.momentum
        if run.training and batches is not None:
            batches.add_(1)
            if momentum is None:  # a cumulative average, as nn.BatchNorm does
                momentum = 1.0 / float(batches[0])
        flat = x if self.layout == CHANNELS else x.transpose(0, 1).reshape(x.shape[1], -1)
        out = F.batch_norm(
            flat,
            None if mean is None else mean.view(-1),
            None if var is None else var.view(-1),
            None if weight is None else weight.reshape(-1),
            None if bias is None else bias.reshape(-1),
            run.training or mean is None,
            0.0 if momentum is None else momentum,
            self.eps,
        )
        if self.layout == CHANNELS:
            return out
        return out.reshape(x.shape[1], run.size, -1).transpose(0, 1)


class _Dropout:
    """Inverted dropout with each member's own rate (0 where a member has no dropout).

    Drawing the random numbers is the costliest part of a fused step, so each 64-bit draw
    serves four units: every 16-bit quarter holds at least 15 random bits (the 64-bit draws
    are below 2**63), and a unit is kept when its 15 bits reach its member's rate. A rate is
    then met to within 2**-15, at about half the cost of one float per unit.
    """

    LEVELS = 2**15

    def __init__(self, name: str, layout: str) -> None:
        self.name = name
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        if not run.training:
            return x
        rate = per_member(run.dropout[self.name], x, self.layout, run.size)
        threshold = (rate * self.LEVELS).round().to(torch.int16)
        keep = _random_15_bits(x) >= threshold
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - rate))


def _random_15_bits(like: torch.Tensor) -> torch.Tensor:
    """Uniform integers in [0, 2**15) shaped like ``like``, four from each 64-bit draw."""
    count = like.numel()
    draws = torch.empty((count + 3) // 4, dtype=torch.int64, device=like.device).random_()
    return (draws.view(torch.int16)[:count] & (2**15 - 1)).view(like.shape)


class _PReLU:
    def __init__(self, name: str, layout: str) -> None:
        self.weight = f"{name}.weight"
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        slope = per_member(run.tensors[self.weight], x, self.layout, run.size)
        return torch.where(x >= 0, x, slope * x)


class _Flatten:
    def __init__(self, layout: str) -> None:
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        if self.layout == STACKED:
            return x.flatten(2)
        return x.reshape(x.shape[0], run.size, -1).transpose(0, 1)


class _Residual:
    """``body(x) + skip(x)``; an empty skip is the identity (in the body's output layout)."""

    def __init__(self, body: list[Operation], skip: list[Operation]) -> None:
        self.body = body
        self.skip = skip

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        out, shortcut = x, x
        for operation in self.body:
            out = operation(out, run)
        for operation in self.skip:
            shortcut = operation(shortcut, run)
        return out + shortcut


class _Recorded:
    """Keeps the first outputs of a telemetry layer, member-major, while ``run.record`` is set."""

    def __init__(self, name: str, operation: Operation, layout: str) -> None:
        self.name = name
        self.operation = operation
        self.layout = layout

    def __call__(self, x: torch.Tensor, run: Pass) -> torch.Tensor:
        out = self.operation(x, run)
        if run.record is not None and self.name not in run.record:
            stacked = out if self.layout == STACKED else to_stacked(out, run.size)
            run.record[self.name] = stacked[:, :ACTIVATION_SAMPLES].detach()
        return out
