"""The recipe's speed settings, applied to one model on one device.

``precision`` picks the half type the forward pass runs in under autocast (weights, gradients
and the optimizer stay in float32); ``channels_last`` lays images and convolution weights out
channel-innermost, the layout fast convolution kernels prefer; ``compile`` runs the training
steps through ``torch.compile``. A setting the device cannot honour is a configuration error,
found before training; a compilation that fails is not: the trial trains without it and the
log says why, since whether a compiler works depends on the machine, not on the recipe.
Gradient accumulation is part of the trainer's loop (:mod:`tunelab.torch.trainer`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch.recipe import Recipe

logger = logging.getLogger("tunelab")

_HALF_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast_dtype(recipe: Recipe, device: torch.device) -> torch.dtype | None:
    """The type autocast runs the forward pass in, or None for float32 throughout.

    ``mixed_precision: true`` means the device's own half type: bfloat16 on the CPU (the one
    its autocast supports), float16 on accelerators.
    """
    if recipe.precision == "fp32":
        if not recipe.mixed_precision:
            return None
        return torch.bfloat16 if device.type == "cpu" else torch.float16
    dtype = _HALF_TYPES[recipe.precision]
    if device.type == "cpu" and dtype == torch.float16:
        raise _precision_error("fp16 needs an accelerator; on the CPU use precision: bf16.")
    if device.type == "cuda" and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise _precision_error(
            f"bf16 is not supported by {torch.cuda.get_device_name(device)}; use precision: fp16."
        )
    return dtype


def _precision_error(message: str) -> ConfigError:
    return ConfigError(f"recipe field 'precision': {message}", field="precision")


def check_channels_last(recipe: Recipe, input_shape: tuple[int, ...]) -> None:
    if recipe.channels_last and len(input_shape) != 3:
        raise ConfigError(
            f"recipe field 'channels_last': applies to images, (C, H, W) per sample, but this "
            f"data's samples have shape {input_shape}; set channels_last: false.",
            field="channels_last",
        )


def in_layout(inputs: torch.Tensor, recipe: Recipe) -> torch.Tensor:
    """A batch of inputs in the memory layout the recipe's model expects."""
    return inputs.contiguous(memory_format=torch.channels_last) if recipe.channels_last else inputs


def compiled_forward(
    model: nn.Module, probe: Callable[[Callable[..., torch.Tensor]], None]
) -> Callable[..., torch.Tensor]:
    """``torch.compile(model)``, or ``model`` itself where compiling is unsupported or fails.

    ``probe(forward)`` runs one training step's forward and backward with ``forward``: it is
    run once here, so that a compiler that fails (on the forward or on the backward graph)
    fails now and the trial trains without it, with the reason logged. The probe leaves the
    model's buffers (batch-norm statistics) and the random generators as they were.
    """
    reason = _unsupported_reason()
    if reason is None:
        compiled: Callable[..., torch.Tensor] = torch.compile(model)
        try:
            _without_side_effects(model, lambda: probe(compiled))
            return compiled
        except Exception as error:  # compilers fail in many ways: a missing C compiler, an op
            reason = f"compiling failed ({type(error).__name__}: {_first_line(error)})"
    logger.warning("recipe field 'compile': %s; this trial trains without torch.compile.", reason)
    return model


def _unsupported_reason() -> str | None:
    try:
        import torch._dynamo as dynamo
    except ImportError as error:
        return f"torch.compile cannot be loaded ({_first_line(error)})"
    if not dynamo.is_dynamo_supported():
        return "torch.compile is not supported by this Python or platform"
    return None


def _without_side_effects(model: nn.Module, run: Callable[[], Any]) -> None:
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        run()
    with torch.no_grad():
        for name, buffer in model.named_buffers():
            buffer.copy_(buffers[name])
    for parameter in model.parameters():
        parameter.grad = None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "no message"
