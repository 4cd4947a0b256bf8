"""The training recipe: every technique the engine knows, as one validated, immutable record.

Each field is a hyperparameter a study can fix or search; a declarative task names them by the
same names. Values are checked when the recipe is built, before any data is loaded or any layer
trained, so that a bad value suggested by a search space (or typed into a study file) fails
with the name of the field and the fix rather than deep inside PyTorch. Dropout and batch
normalization are layers, so they belong to the model builders (``model.dropout``,
``model.batch_norm``) rather than to the recipe.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean, refuse_unknown
from tunelab.torch.augment import AUGMENTATIONS, AugmentationStrengths, Augmenter, check_strengths
from tunelab.torch.data import NORMALIZATIONS
from tunelab.torch.init import INIT_SCHEMES

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "step", "exponential", "cosine", "onecycle", "plateau")
LOSSES = ("auto", "cross_entropy", "mse", "mae", "huber", "bce")
METRICS = ("auto", "accuracy", "f1", "mse", "mae", "r2", "loss")
PRECISIONS = ("fp32", "bf16", "fp16")

_MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
_BETA_OPTIMIZERS = ("adam", "adamw")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
_INF = math.inf


@dataclass(frozen=True)
class Recipe(AugmentationStrengths):
    """How to train a model. Every field has a default that trains a small model sensibly.

    The augmentation strengths (``hflip``, ``rotation``, ``noise``, ...; 0 = off) are the fields
    of :class:`~tunelab.torch.augment.AugmentationStrengths`, where every augmentation is
    declared; they can only be given by keyword.
    """

    # Optimizer. weight_decay is L2 (decoupled for AdamW); l1 adds l1 * sum|w| to the loss.
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    l1: float = 0.0
    # Learning-rate schedule, applied per optimizer step; linear warm-up combines with any of them.
    schedule: str = "constant"
    step_size: int = 10
    gamma: float = 0.1
    min_lr_ratio: float = 0.0
    onecycle_pct: float = 0.3
    plateau_patience: int = 3
    warmup_epochs: float = 0.0
    # Length of training and what is minimized / watched.
    batch_size: int = 64
    epochs: int = 20
    loss: str = "auto"
    label_smoothing: float = 0.0
    metric: str = "auto"
    # Weight initialization of Linear and Conv layers.
    init: str = "default"
    init_scale: float = 1.0
    # Gradient clipping (0 = off) and early stopping (patience 0 = off).
    grad_clip_norm: float = 0.0
    grad_clip_value: float = 0.0
    early_stopping_patience: int = 0
    early_stopping_min_delta: float = 0.0
    restore_best: bool = True
    # Input normalization, with statistics of the training part only.
    normalization: str = "standardize"
    # Hardware.
    device: str = "auto"
    mixed_precision: bool = False
    # Speed (see tunelab.torch.speed): the forward pass in a half type under autocast,
    # torch.compile, a channels-last layout for images, and one optimizer step per
    # gradient_accumulation_steps batches (an effective batch of batch_size times as many).
    precision: str = "fp32"
    compile: bool = False
    channels_last: bool = False
    gradient_accumulation_steps: int = 1
    # Transfer learning: glob patterns on parameter names such as "blocks.0.*".
    pretrained: str | None = None
    freeze: tuple[str, ...] = ()
    unfreeze_after: int = 0
    lr_multipliers: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    seed: int = 0

    def __post_init__(self) -> None:
        _coerce_collections(self)
        _check_choices(self)
        _check_numbers(self)
        _check_flags(self)
        _check_combinations(self)
        try:
            check_strengths(self)
        except ConfigError as error:
            name = (error.field or "").rpartition(".")[2]
            raise _fail(name, str(error)) from None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any], *, prefix: str = "recipe") -> Recipe:
        """A recipe from a study file's mapping; unknown keys are refused with a close match."""
        refuse_unknown(options, field_names(), prefix)
        return cls(**options)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes`` applied and validated."""
        return dataclasses.replace(self, **changes)

    def augmenter(self) -> Augmenter:
        return Augmenter(**{name: getattr(self, name) for name in AUGMENTATIONS})

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in field_names()}
        data["freeze"] = list(self.freeze)
        data["lr_multipliers"] = dict(self.lr_multipliers)
        return data

    def __reduce__(self) -> tuple[Any, ...]:
        # A read-only mapping does not pickle: a recipe travels to worker processes as its
        # fields, and is rebuilt (and checked again) there.
        return (type(self).from_mapping, (self.to_json(),))


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(Recipe)]


def _fail(field_name: str, message: str) -> ConfigError:
    return ConfigError(f"recipe field {field_name!r}: {message}", field=field_name)


def _coerce_collections(recipe: Recipe) -> None:
    freeze = recipe.freeze
    if isinstance(freeze, str):
        freeze = (freeze,)
    if not isinstance(freeze, (list, tuple)) or not all(isinstance(p, str) for p in freeze):
        raise _fail("freeze", f"{freeze!r} must be a list of name patterns such as ['blocks.0.*'].")
    object.__setattr__(recipe, "freeze", tuple(freeze))
    multipliers = recipe.lr_multipliers
    if not isinstance(multipliers, Mapping):
        raise _fail(
            "lr_multipliers",
            f"{multipliers!r} must map name patterns to factors, e.g. {{'blocks.*': 0.1}}.",
        )
    for pattern, factor in multipliers.items():
        if not isinstance(pattern, str) or not _is_real(factor) or not 0 < factor < _INF:
            raise _fail(
                "lr_multipliers",
                f"entry {pattern!r}: {factor!r} must be a positive factor for a name pattern, "
                "e.g. {'blocks.*': 0.1}.",
            )
    object.__setattr__(recipe, "lr_multipliers", MappingProxyType(dict(multipliers)))


_CHOICES: dict[str, tuple[str, ...]] = {
    "optimizer": OPTIMIZERS,
    "schedule": SCHEDULES,
    "loss": LOSSES,
    "metric": METRICS,
    "init": INIT_SCHEMES,
    "normalization": NORMALIZATIONS,
    "precision": PRECISIONS,
}


def _check_choices(recipe: Recipe) -> None:
    for name, choices in _CHOICES.items():
        value = getattr(recipe, name)
        if value not in choices:
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            raise _fail(name, f"{value!r} is not known{hint}; choose one of: {', '.join(choices)}.")
    if not isinstance(recipe.device, str) or not _DEVICE.match(recipe.device):
        raise _fail(
            "device", f"{recipe.device!r} is not a device; use auto, cpu, cuda, cuda:1 or mps."
        )
    if recipe.pretrained is not None and not isinstance(recipe.pretrained, str):
        raise _fail("pretrained", f"{recipe.pretrained!r} must be the path of a weights file.")


# name: (low, high, low is allowed, integer); a range's high end is always allowed unless inf.
_INT64_MAX = 2**63 - 1  # torch holds integer options in 64 bits; beyond, it overflows mid-training
_NUMBERS: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, _INF, False, False),
    "momentum": (0.0, 1.0, True, False),
    "beta1": (0.0, 1.0, True, False),
    "beta2": (0.0, 1.0, True, False),
    "weight_decay": (0.0, _INF, True, False),
    "l1": (0.0, _INF, True, False),
    "step_size": (1, _INT64_MAX, True, True),
    "gamma": (0.0, 1.0, False, False),
    "min_lr_ratio": (0.0, 1.0, True, False),
    "onecycle_pct": (0.0, 1.0, False, False),
    "plateau_patience": (1, _INT64_MAX, True, True),
    "warmup_epochs": (0.0, _INF, True, False),
    "batch_size": (1, _INT64_MAX, True, True),
    "epochs": (1, _INT64_MAX, True, True),
    "label_smoothing": (0.0, 1.0, True, False),
    "init_scale": (0.0, _INF, False, False),
    "grad_clip_norm": (0.0, _INF, True, False),
    "grad_clip_value": (0.0, _INF, True, False),
    "early_stopping_patience": (0, _INT64_MAX, True, True),
    "early_stopping_min_delta": (0.0, _INF, True, False),
    "unfreeze_after": (0, _INT64_MAX, True, True),
    "gradient_accumulation_steps": (1, _INT64_MAX, True, True),
    "seed": (0, _INT64_MAX, True, True),
}
_OPEN_HIGH = {"momentum", "beta1", "beta2", "label_smoothing", "onecycle_pct"}


def _check_numbers(recipe: Recipe) -> None:
    for name, (low, high, low_allowed, integer) in _NUMBERS.items():
        value = getattr(recipe, name)
        kind = "an integer" if integer else "a number"
        if not (_is_integer(value) if integer else _is_real(value)) or not math.isfinite(value):
            raise _fail(name, f"{value!r} must be {kind}; e.g. {_default(name)}.")
        too_low = value < low or (value == low and not low_allowed)
        too_high = value > high or (value == high and name in _OPEN_HIGH)
        if too_low or too_high:
            raise _fail(
                name, f"{value!r} is outside {_describe_range(name)}; e.g. {_default(name)}."
            )


def _describe_range(name: str) -> str:
    low, high, low_allowed, _ = _NUMBERS[name]
    left = "[" if low_allowed else "("
    if high == _INF:
        return f"{left}{low}, inf)"
    if high == _INT64_MAX:
        return f"{left}{low}, 2**63 - 1]"
    right = ")" if name in _OPEN_HIGH else "]"
    return f"{left}{low}, {high}{right}"


def _check_flags(recipe: Recipe) -> None:
    for name in ("nesterov", "restore_best", "mixed_precision", "compile", "channels_last"):
        if not isinstance(getattr(recipe, name), bool):
            raise _fail(name, f"{getattr(recipe, name)!r} must be true or false.")


def _check_combinations(recipe: Recipe) -> None:
    if recipe.momentum > 0 and recipe.optimizer not in _MOMENTUM_OPTIMIZERS:
        raise _fail(
            "momentum",
            f"applies to {' and '.join(_MOMENTUM_OPTIMIZERS)} only, not {recipe.optimizer!r}; "
            f"leave it at 0 (use beta1 for {recipe.optimizer}).",
        )
    if recipe.nesterov and (recipe.optimizer != "sgd" or recipe.momentum == 0):
        raise _fail("nesterov", "needs optimizer 'sgd' with momentum > 0; set momentum: 0.9.")
    if recipe.label_smoothing > 0 and recipe.loss not in ("auto", "cross_entropy"):
        raise _fail(
            "label_smoothing", f"applies to cross_entropy only, not {recipe.loss!r}; set it to 0."
        )
    if recipe.unfreeze_after > 0 and not recipe.freeze:
        raise _fail(
            "unfreeze_after",
            "has nothing to unfreeze: 'freeze' is empty; list the layers to freeze first, "
            "e.g. freeze: ['blocks.*'].",
        )
    if recipe.mixed_precision and recipe.precision != "fp32":
        raise _fail(
            "mixed_precision",
            f"precision: {recipe.precision} already turns mixed precision on; remove "
            "mixed_precision (true picks the device's half type: bf16 on the CPU, fp16 on "
            "accelerators).",
        )
    if recipe.warmup_epochs >= recipe.epochs:
        raise _fail(
            "warmup_epochs",
            f"{recipe.warmup_epochs} leaves no epochs after warm-up (epochs={recipe.epochs}); "
            "use a fraction of the epochs, e.g. 1.",
        )


def _is_integer(value: Any) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def _default(name: str) -> Any:
    return next(f.default for f in dataclasses.fields(Recipe) if f.name == name)
