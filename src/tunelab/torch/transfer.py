"""Transfer learning: start from saved weights, freeze some layers, train others more gently.

Layers are chosen by glob patterns on parameter names (``"blocks.0.*"``, ``"head.*"``), the
names the model builders document, so that a study file can say what to freeze without code.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from tunelab.exceptions import ConfigError


def load_pretrained(model: nn.Module, path: str | Path) -> list[str]:
    """Copy the weights of ``path`` whose names and shapes match ``model``; return their names.

    Weights that do not fit (typically the output layer of a model trained for other classes)
    are left as initialized, which is what fine-tuning on a new label set needs.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"recipe field 'pretrained': no weights file at {path.resolve()}; give the path of "
            "a file written by torch.save(model.state_dict(), path).",
            field="pretrained",
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for a file that is not a state dict
        raise ConfigError(
            f"recipe field 'pretrained': {path} could not be read as PyTorch weights "
            f"({type(error).__name__}: {error}); save it with torch.save(model.state_dict()).",
            field="pretrained",
        ) from None
    own = model.state_dict()
    matching = {
        name: tensor
        for name, tensor in saved.items()
        if name in own and tuple(own[name].shape) == tuple(tensor.shape)
    }
    if not matching:
        raise ConfigError(
            f"recipe field 'pretrained': none of the {len(saved)} tensors in {path} match the "
            f"model's names and shapes (the model has e.g. {', '.join(list(own)[:3])}); build "
            "the same architecture that produced the weights.",
            field="pretrained",
        )
    model.load_state_dict(matching, strict=False)
    return sorted(matching)


def matching_parameters(
    model: nn.Module, patterns: Iterable[str], field: str
) -> dict[str, nn.Parameter]:
    """Parameters whose names match any pattern; a pattern that matches nothing is an error."""
    named = dict(model.named_parameters())
    chosen: dict[str, nn.Parameter] = {}
    for pattern in patterns:
        hits = {n: p for n, p in named.items() if fnmatch.fnmatchcase(n, pattern)}
        if not hits:
            raise ConfigError(
                f"recipe field {field!r}: the pattern {pattern!r} matches no parameter; the "
                f"model's parameters are: {', '.join(named)}.",
                field=field,
            )
        chosen.update(hits)
    return chosen


def set_frozen(parameters: Iterable[nn.Parameter], frozen: bool) -> None:
    for parameter in parameters:
        parameter.requires_grad_(not frozen)


def lr_multiplier_of(name: str, multipliers: dict[str, float]) -> float:
    """The factor of the first pattern that matches ``name`` (1 when none does)."""
    return next(
        (factor for pattern, factor in multipliers.items() if fnmatch.fnmatchcase(name, pattern)),
        1.0,
    )
