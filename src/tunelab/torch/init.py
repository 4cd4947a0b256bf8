"""Weight initialisation as a tunable hyperparameter.

How a network starts often matters as much as its learning rate, so the scheme and its scale
are choices a study can search over. Only the weights of linear and convolution layers are
touched; normalisation layers and learnable activations keep PyTorch's own initialisation.
Draws use torch's global generator, so ``torch.manual_seed`` makes them reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean

# Standard deviation of the "normal" and "uniform" schemes at scale 1: small enough that
# activations neither explode nor vanish in the shallow networks tunelab builds.
_BASE_STD = 0.05


def _kaiming_normal(weight: torch.Tensor, scale: float) -> None:
    nn.init.kaiming_normal_(weight, mode="fan_in", nonlinearity="relu")
    weight.mul_(scale)  # torch's kaiming has no gain argument


def _kaiming_uniform(weight: torch.Tensor, scale: float) -> None:
    nn.init.kaiming_uniform_(weight, mode="fan_in", nonlinearity="relu")
    weight.mul_(scale)


def _uniform(weight: torch.Tensor, scale: float) -> None:
    # A uniform on [-b, b] has standard deviation b / sqrt(3): match the normal scheme.
    bound = _BASE_STD * scale * math.sqrt(3.0)
    nn.init.uniform_(weight, -bound, bound)


_INITIALIZERS: dict[str, Callable[[torch.Tensor, float], object]] = {
    "zeros": lambda weight, scale: nn.init.zeros_(weight),
    "normal": lambda weight, scale: nn.init.normal_(weight, 0.0, _BASE_STD * scale),
    "uniform": _uniform,
    "xavier_normal": lambda weight, scale: nn.init.xavier_normal_(weight, gain=scale),
    "xavier_uniform": lambda weight, scale: nn.init.xavier_uniform_(weight, gain=scale),
    "kaiming_normal": _kaiming_normal,
    "kaiming_uniform": _kaiming_uniform,
    "orthogonal": lambda weight, scale: nn.init.orthogonal_(weight, gain=scale),
}

INIT_SCHEMES = ("default", *_INITIALIZERS)

_WEIGHTED_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def initialize(model: nn.Module, scheme: str, *, scale: float = 1.0) -> None:
    """Re-initialise, in place, every Linear and Conv layer of ``model`` with ``scheme``.

    Biases become zero for every scheme but ``"default"``, which leaves the model as PyTorch
    built it. ``scale`` multiplies the standard deviation (the gain for xavier and orthogonal).
    """
    _check_scheme(scheme)
    _check_scale(scale)
    if scheme == "default":
        return
    initializer = _INITIALIZERS[scheme]
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, _WEIGHTED_LAYERS):
                initializer(layer.weight, float(scale))
                if layer.bias is not None:
                    layer.bias.zero_()


def _check_scheme(scheme: object) -> None:
    if not isinstance(scheme, str) or scheme not in INIT_SCHEMES:
        hint = did_you_mean(scheme, INIT_SCHEMES) if isinstance(scheme, str) else ""
        raise ConfigError(
            f"init {scheme!r} is unknown{hint}; use one of {', '.join(INIT_SCHEMES)}.",
            field="init",
        )


def _check_scale(scale: object) -> None:
    # typeshed's numbers.Real declares < and <= only, not the > that 0 < scale needs.
    if (
        isinstance(scale, bool)
        or not isinstance(scale, Real)
        or not 0 < scale < math.inf  # type: ignore[operator]
    ):
        raise ConfigError(
            f"init_scale must be a positive finite number, got {scale!r}; use e.g. 1.0.",
            field="init_scale",
        )
