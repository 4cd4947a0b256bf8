"""Optimizers and losses as a recipe names them.

Parameters are grouped by learning-rate multiplier; each group remembers its base learning rate
so that the schedule can set ``lr = base_lr * factor`` at every step.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from tunelab.exceptions import ConfigError
from tunelab.torch.recipe import Recipe
from tunelab.torch.transfer import lr_multiplier_of, matching_parameters

LossFunction = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CLASSIFICATION_LOSSES = ("cross_entropy", "bce")
REGRESSION_LOSSES = ("mse", "mae", "huber")
# Optimizers whose update torch can run as one fused kernel over all parameters, one call per
# step instead of several per tensor; the updates agree with the per-tensor ones to rounding.
_FUSED_KERNELS = ("sgd", "adam", "adamw", "adagrad")


def build_optimizer(model: nn.Module, recipe: Recipe) -> torch.optim.Optimizer:
    """The recipe's optimizer over all parameters, frozen ones included.

    Frozen parameters have no gradient, so every optimizer skips them; keeping them in the
    optimizer lets ``unfreeze_after`` switch them on without rebuilding it.
    """
    multipliers = dict(recipe.lr_multipliers)
    matching_parameters(model, multipliers, "lr_multipliers")  # refuse patterns matching nothing
    groups: dict[float, list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        groups.setdefault(lr_multiplier_of(name, multipliers), []).append(parameter)
    param_groups = [
        {"params": params, "lr": recipe.lr * factor, "base_lr": recipe.lr * factor}
        for factor, params in groups.items()
    ]
    options = _optimizer_options(recipe)
    first = next(iter(model.parameters()), None)
    if first is not None and has_fused_kernel(recipe.optimizer, first.device, first.dtype):
        return _OPTIMIZERS[recipe.optimizer](param_groups, **options, fused=True)
    return _OPTIMIZERS[recipe.optimizer](param_groups, **options)


@functools.cache
def has_fused_kernel(optimizer: str, device: torch.device, dtype: torch.dtype) -> bool:
    """Whether this torch build has a fused kernel for ``optimizer`` on ``device`` for
    ``dtype``. Tried with one step on one number: torch checks at the first step, not when the
    optimizer is built."""
    if optimizer not in _FUSED_KERNELS:
        return False
    probe = torch.zeros(1, device=device, dtype=dtype, requires_grad=True)
    probe.grad = torch.zeros_like(probe)
    try:
        _OPTIMIZERS[optimizer]([probe], lr=0.0, fused=True).step()
    except RuntimeError:  # NotImplementedError too: no kernel for this device or dtype
        return False
    return True


_OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
}


def _optimizer_options(recipe: Recipe) -> dict[str, object]:
    options: dict[str, object] = {"lr": recipe.lr, "weight_decay": recipe.weight_decay}
    if recipe.optimizer == "sgd":
        options.update(momentum=recipe.momentum, nesterov=recipe.nesterov)
    elif recipe.optimizer == "rmsprop":
        options.update(momentum=recipe.momentum)
    elif recipe.optimizer in ("adam", "adamw"):
        options.update(betas=(recipe.beta1, recipe.beta2))
    return options


def set_learning_rates(optimizer: torch.optim.Optimizer, factor: float) -> float:
    """Apply ``factor`` to every group's base learning rate; return the first group's lr."""
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * factor
    first_lr: float = optimizer.param_groups[0]["lr"]
    return first_lr


def resolve_loss(recipe: Recipe, task: str) -> str:
    """The loss the recipe asks for, with ``auto`` decided by the task, checked against it."""
    if recipe.loss == "auto":
        return "cross_entropy" if task == "classification" else "mse"
    allowed = CLASSIFICATION_LOSSES if task == "classification" else REGRESSION_LOSSES
    if recipe.loss not in allowed:
        raise ConfigError(
            f"recipe field 'loss': {recipe.loss!r} does not fit a {task} task; use one of: "
            f"{', '.join(allowed)} (or auto).",
            field="loss",
        )
    return recipe.loss


def loss_function(name: str, label_smoothing: float) -> LossFunction:
    if name == "cross_entropy":
        return lambda out, y: F.cross_entropy(out, y, label_smoothing=label_smoothing)
    if name == "bce":
        return lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype))
    regression: dict[str, LossFunction] = {
        "mse": F.mse_loss,
        "mae": F.l1_loss,
        "huber": F.huber_loss,
    }
    return regression[name]


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """Sum of absolute weights of the trainable layers (biases and norm scales excluded)."""
    weights = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    return torch.stack([w.abs().sum() for w in weights]).sum()
