"""Members whose models differ only in widths, zero-padded to the widest of their population.

A width is a number of units or channels: the sizes of Linear and (ungrouped) Conv2d layers,
and the matching sizes of BatchNorm and per-channel PReLU. Two models fuse when everything
else is equal (:func:`architecture_signature`); each of their tensors is then stacked at the
elementwise largest shape, the member's own entries first and zeros after them.

Why a member computes exactly what it would alone: a padded unit's row of weights and its
bias are zero, so its pre-activation is exactly 0, and so are its batch-norm statistics and
output (zero scale and shift); whatever its activation makes of 0 (sigmoid gives 0.5), the
next layer reads it through a zero column. A residual connection adds padded units to padded
units only. The trainer multiplies every gradient by :meth:`Padding.masks` after the backward
pass, before telemetry, clipping and the optimizer, so padding never moves: every optimizer
the population knows leaves a weight at exactly 0 whose gradient is 0 (weight decay of 0 is
0, and Adam's, RMSprop's and Adagrad's steps are 0 / (0 + eps)), and clipping by norm sees
only the member's own entries. Flattening channels keeps each member's own features first,
since the channels come first in the flattened order.

:func:`plan_populations` splits the members of one signature into populations by cost, so
that padding stays bounded (see its docstring).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

Shape = tuple[int, ...]
Shapes = Mapping[str, Shape]

MAX_PADDING = 4.0
"""The most weights a member may be padded to, as a multiple of its own (about twice the
width of a wide layer, whose weights grow with the square of its width). On 2 CPU cores, 32
trials of a digits MLP searching widths 16 to 256 trained fastest with 2 to 4 (bench/fused.py,
``--max-padding``); a larger bound makes larger populations, which pays where padding is
cheap beside the overhead of a step (a GPU)."""

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
_NORM_TENSORS = ("weight", "bias", "running_mean", "running_var")


def width_dims(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """For each of ``module``'s own tensors, the dimensions that are widths (none for a
    layer whose shapes must match exactly)."""
    kind = type(module)
    if kind is nn.Linear or (kind is nn.Conv2d and getattr(module, "groups", None) == 1):
        return {"weight": (0, 1), "bias": (0,)}
    if kind in _NORMS:
        return dict.fromkeys(_NORM_TENSORS, (0,))
    if kind is nn.PReLU and getattr(module, "num_parameters", 1) > 1:
        return {"weight": (0,)}
    return {}


def architecture_signature(model: nn.Module) -> tuple[object, ...]:
    """What must be equal for two models to fuse: every layer but dropout (whose rate may
    differ per member, or be absent), with its settings but its widths, and every tensor's
    shape but its widths."""
    layers = tuple(
        (name, type(module).__qualname__, _settings(module), getattr(module, "residual", None))
        for name, module in model.named_modules()
        if not isinstance(module, nn.Dropout)
    )
    return layers, tuple(free_shapes(model).items())


def free_shapes(model: nn.Module) -> dict[str, tuple[int | None, ...]]:
    """Every tensor's shape in ``model``'s state dict, with its widths left out (None)."""
    shapes: dict[str, tuple[int | None, ...]] = {}
    for name, tensor in model.state_dict().items():
        owner, _, local = name.rpartition(".")
        dims = width_dims(model.get_submodule(owner)).get(local, ())
        shapes[name] = tuple(None if d in dims else n for d, n in enumerate(tensor.shape))
    return shapes


def own_shapes(model: nn.Module) -> dict[str, Shape]:
    """Every tensor's shape in ``model``'s state dict."""
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _settings(module: nn.Module) -> object:
    """A layer's settings, but its widths."""
    if not width_dims(module):
        return module.extra_repr()
    if isinstance(module, nn.Conv2d):
        return (module.kernel_size, module.stride, module.padding, module.dilation,
                module.padding_mode, module.bias is not None)
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return (module.eps, module.momentum, module.affine, module.track_running_stats)
    if isinstance(module, nn.Linear):
        return module.bias is not None
    return "per-channel"  # PReLU with a slope per channel


class Padding:
    """Each member's own tensor shapes (``member_shapes``, in population order) and the
    population's (``shapes``: the largest of each dimension)."""

    def __init__(self, member_shapes: Sequence[Shapes]) -> None:
        assert member_shapes, "a population needs at least one member"
        self.member_shapes = list(member_shapes)
        self.shapes = widest(member_shapes)
        self.padded = [name for name, shape in self.shapes.items()
                       if any(own[name] != shape for own in self.member_shapes)]
        """The tensors that some member holds padded."""

    def keep(self, positions: Sequence[int]) -> Padding:
        """The padding of the members at ``positions``, narrowed to the widest of them."""
        return Padding([self.member_shapes[p] for p in positions])

    def stack(self, states: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """The members' tensors (one state dict each), zero-padded and stacked."""
        return {
            name: torch.stack([_padded(state[name], shape) for state in states])
            for name, shape in self.shapes.items()
        }

    def member(self, tensors: Mapping[str, torch.Tensor], position: int) -> dict[str, torch.Tensor]:
        """A copy of the member at ``position``'s tensors, in its own shapes."""
        own = self.member_shapes[position]
        return {name: t[position][_within(own[name])].detach().clone()
                for name, t in tensors.items()}

    def narrow(self, name: str, stacked: torch.Tensor) -> torch.Tensor:
        """A stacked tensor of this population's members, cut to this padding's shape."""
        shape = self.shapes[name]
        if tuple(stacked.shape[1:]) == shape:
            return stacked
        return stacked[(slice(None),) + _within(shape)].clone()

    def masks(self, names: Sequence[str], like: torch.Tensor) -> dict[str, torch.Tensor]:
        """For each padded tensor among ``names``, 1 at the members' own entries and 0 at
        their padding, stacked, in ``like``'s type and device."""
        masks = {}
        for name in self.padded:
            if name in names:
                mask = like.new_zeros((len(self.member_shapes), *self.shapes[name]))
                for position, own in enumerate(self.member_shapes):
                    mask[position][_within(own[name])] = 1
                masks[name] = mask
        return masks

    def own_units(self, width_source: str | None, position: int, units: int) -> int:
        """How many of ``units`` (a layer's padded outputs, the channels or flattened
        features that ``width_source``'s rows make) are the member's own: its first ones."""
        if width_source not in self.padded:
            return units
        own, padded = self.member_shapes[position][width_source][0], self.shapes[width_source][0]
        return units * own // padded


def widest(member_shapes: Sequence[Shapes]) -> dict[str, Shape]:
    """Each tensor's largest size along each dimension over the members."""
    return {
        name: tuple(max(sizes) for sizes in zip(*(own[name] for own in member_shapes)))
        for name in member_shapes[0]
    }


def plan_populations(
    member_shapes: Sequence[Shapes], parameters: Sequence[str], max_padding: float | None = None
) -> list[list[int]]:
    """Split members of one signature into populations: lists of their indices.

    A member's cost is its number of weights (the arithmetic of a step grows with it); a
    population costs each of its members the weights of the padded model. Members are taken
    from the costliest down, and each joins the population being formed unless that would pad
    some member (it, being the cheapest so far) to more than ``max_padding`` times its own
    weights (:data:`MAX_PADDING` when None); then it starts the next population. Members of
    one width form one population.
    """
    bound = MAX_PADDING if max_padding is None else max_padding
    costs = [_weights(own, parameters) for own in member_shapes]
    populations: list[list[int]] = []
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        current = populations[-1] if populations else None
        if current is not None:
            padded = _weights(widest([member_shapes[i] for i in [*current, index]]), parameters)
            if padded <= bound * costs[index]:
                current.append(index)
                continue
        populations.append([index])
    return populations


def widest_layer(shapes: Shapes) -> int:
    """The most units or channels a layer of these shapes has (its weight's first dimension)."""
    return max((shape[0] for name, shape in shapes.items()
                if name.endswith("weight") and len(shape) >= 2), default=0)


def _weights(shapes: Shapes, parameters: Sequence[str]) -> int:
    return sum(math.prod(shapes[name]) for name in parameters)


def _within(shape: Sequence[int]) -> tuple[slice, ...]:
    return tuple(slice(0, size) for size in shape)


def _padded(tensor: torch.Tensor, shape: Shape) -> torch.Tensor:
    if tuple(tensor.shape) == shape:
        return tensor.detach()
    padded = tensor.new_zeros(shape)
    padded[_within(tensor.shape)] = tensor.detach()
    return padded
