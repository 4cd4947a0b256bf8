"""Model builders whose every argument is a hyperparameter a study can tune.

A search space suggests depth, width, activation and so on; these builders turn such a
suggestion into a network, checking every argument first so that a bad value fails with the
name of the field rather than deep inside PyTorch. Layer names are stable so that users can
freeze layers by name pattern and telemetry can report per layer:

* MLP: ``flatten``, ``blocks.<i>.{linear,norm,act,dropout,skip}``, ``head``.
* CNN: ``blocks.<i>.{conv,norm,act,pool,dropout,skip}``, ``pool``, ``flatten``,
  ``neck.{linear,act}``, ``head``.

Optional layers (``norm``, ``dropout``, ``pool``, ``skip``, ``neck``) exist only when used.

The builders count a network's parameters from their arguments before building it, and refuse
one with more than ``max_parameters`` (:data:`DEFAULT_MAX_PARAMETERS` unless given): a typo such
as a width of 10**11 is an error naming the fields to change, not an attempt to allocate
terabytes.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": functools.partial(nn.LeakyReLU, 0.01),
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

WIDTH_RULES = ("constant", "halving", "doubling")

# Halving stops here so that deep narrowing networks keep a usable width.
_MIN_HALVED_WIDTH = 4

# 2**31 float32 parameters are 8 GiB of weights and 32 GiB to train with Adam (weights,
# gradients and two moments): more than most single accelerators hold. The limit is a number,
# not one read from this machine, so that a study file validates alike on the machine that
# checks it and on the workers that train it; max_parameters lifts it where the memory exists.
DEFAULT_MAX_PARAMETERS = 2**31
# Deeper stacks of blocks are a typo rather than a design (residual networks that train well
# stop at a few hundred blocks), and counting or building that many would itself take long.
MAX_DEPTH = 1000
_BYTES_PER_PARAMETER = 4  # float32


class _Block(nn.Module):
    """Layers run in the order they were added; with ``residual`` the input is added back.

    The input goes through ``skip`` when the body changes its shape, and unchanged otherwise.
    """

    def __init__(self, residual: bool) -> None:
        super().__init__()
        self.residual = residual
        self.skip: nn.Module | None = None
        self._body: list[str] = []

    def add_layer(self, name: str, layer: nn.Module) -> None:
        self.add_module(name, layer)
        self._body.append(name)

    def body_layers(self) -> list[tuple[str, nn.Module]]:
        """The body's layers by name, in the order they run."""
        return [(name, getattr(self, name)) for name in self._body]

    def body(self, x: torch.Tensor) -> torch.Tensor:
        for name in self._body:
            x = getattr(self, name)(x)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        if not self.residual:
            return out
        return out + (x if self.skip is None else self.skip(x))


class MLPBlock(_Block):
    """``linear`` -> [``norm``] -> ``act`` -> [``dropout``], with a Linear ``skip`` if widths
    differ."""

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: Callable[[], nn.Module],
        dropout: float,
        batch_norm: bool,
        residual: bool,
    ) -> None:
        super().__init__(residual)
        self.add_layer("linear", nn.Linear(n_in, n_out))
        if batch_norm:
            self.add_layer("norm", nn.BatchNorm1d(n_out))
        self.add_layer("act", activation())
        if dropout > 0.0:
            self.add_layer("dropout", nn.Dropout(dropout))
        if residual and n_in != n_out:
            self.skip = nn.Linear(n_in, n_out)


class ConvBlock(_Block):
    """``conv`` -> [``norm``] -> ``act`` -> [``pool``] -> [``dropout``].

    When residual and the shape changes, ``skip`` is a 1x1 convolution (``skip.conv``)
    followed by the same pooling as the body (``skip.pool``).
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        kernel_size: int,
        pool: bool,
        activation: Callable[[], nn.Module],
        dropout: float,
        batch_norm: bool,
        residual: bool,
    ) -> None:
        super().__init__(residual)
        self.add_layer("conv", nn.Conv2d(n_in, n_out, kernel_size, padding=kernel_size // 2))
        if batch_norm:
            self.add_layer("norm", nn.BatchNorm2d(n_out))
        self.add_layer("act", activation())
        if pool:
            self.add_layer("pool", nn.MaxPool2d(2))
        if dropout > 0.0:
            self.add_layer("dropout", nn.Dropout(dropout))
        if residual and (n_in != n_out or pool):
            skip = nn.Sequential(OrderedDict(conv=nn.Conv2d(n_in, n_out, 1)))
            if pool:
                skip.add_module("pool", nn.MaxPool2d(2))
            self.skip = skip


def build_mlp(
    n_inputs: int,
    n_outputs: int,
    *,
    depth: int = 2,
    width: int | Sequence[int] = 128,
    width_rule: str = "constant",
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
    residual: bool = False,
    max_parameters: float = DEFAULT_MAX_PARAMETERS,
) -> nn.Module:
    """A multilayer perceptron: ``flatten``, ``depth`` hidden ``blocks`` and a Linear ``head``.

    ``width`` is either each block's width (a list of ``depth`` ints) or one int expanded by
    ``width_rule``: ``constant``, ``halving`` (width / 2**i, never under 4) or ``doubling``
    (width * 2**i). Inputs of any shape are flattened, so (N, C, H, W) images work too.
    """
    _check_positive_int("n_inputs", n_inputs)
    _check_positive_int("n_outputs", n_outputs)
    widths, act = _check_blocks(
        "width", width, depth, width_rule, activation, dropout, batch_norm, residual
    )
    _check_max_parameters(max_parameters)
    _check_size(
        _mlp_parameters(n_inputs, widths, n_outputs, act, batch_norm, residual),
        max_parameters,
        _block_sizes("width", width, width_rule, depth),
        f"{n_inputs:,} inputs",
    )
    blocks = [
        MLPBlock(n_in, n_out, act, dropout, batch_norm, residual)
        for n_in, n_out in zip([n_inputs, *widths], widths)
    ]
    return nn.Sequential(
        OrderedDict(
            flatten=nn.Flatten(),
            blocks=nn.Sequential(*blocks),
            head=nn.Linear(widths[-1], n_outputs),
        )
    )


def build_cnn(
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    depth: int = 2,
    channels: int | Sequence[int] = 32,
    width_rule: str = "doubling",
    kernel_size: int = 3,
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = True,
    residual: bool = False,
    head_width: int = 0,
    max_parameters: float = DEFAULT_MAX_PARAMETERS,
) -> nn.Module:
    """A convolutional network for (C, H, W) images.

    Each block convolves (keeping the spatial size), then halves the size by 2x2 max pooling
    while it is at least 2, so 8x8 digits go 8 -> 4 -> 2 -> 1 and deeper blocks do not pool.
    ``channels`` works like :func:`build_mlp`'s ``width``. After the blocks come global
    average ``pool``, ``flatten``, an optional ``neck`` of ``head_width`` units and ``head``.
    """
    n_channels, height, width = _check_image_shape(input_shape)
    _check_positive_int("n_outputs", n_outputs)
    _check_positive_int("kernel_size", kernel_size)
    if kernel_size % 2 == 0:
        raise ConfigError(
            f"kernel_size must be odd so that padding keeps the image size, got {kernel_size}; "
            f"use {kernel_size + 1} or {kernel_size - 1}.",
            field="kernel_size",
        )
    _check_int_at_least("head_width", head_width, 0)
    widths, act = _check_blocks(
        "channels", channels, depth, width_rule, activation, dropout, batch_norm, residual
    )
    _check_max_parameters(max_parameters)
    plan = _conv_plan(n_channels, height, width, widths)
    sizes = {**_block_sizes("channels", channels, width_rule, depth), "kernel_size": kernel_size}
    if head_width > 0:
        sizes["head_width"] = head_width
    _check_size(
        _cnn_parameters(plan, kernel_size, act, batch_norm, residual, head_width, n_outputs),
        max_parameters,
        sizes,
        f"{n_channels}-channel images",
    )
    blocks = [
        ConvBlock(n_in, n_out, kernel_size, pool, act, dropout, batch_norm, residual)
        for n_in, n_out, pool in plan
    ]
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        blocks=nn.Sequential(*blocks), pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()
    )
    n_features = widths[-1]
    if head_width > 0:
        layers["neck"] = nn.Sequential(
            OrderedDict(linear=nn.Linear(n_features, head_width), act=act())
        )
        n_features = head_width
    layers["head"] = nn.Linear(n_features, n_outputs)
    return nn.Sequential(layers)


def _mlp_parameters(
    n_inputs: int,
    widths: list[int],
    n_outputs: int,
    act: Callable[[], nn.Module],
    batch_norm: bool,
    residual: bool,
) -> int:
    """The parameters of the network :func:`build_mlp` builds, without building it."""
    parameters = _linear_parameters(widths[-1], n_outputs)
    for n_in, n_out in zip([n_inputs, *widths], widths):
        parameters += _linear_parameters(n_in, n_out) + _block_extras(n_out, act, batch_norm)
        if residual and n_in != n_out:
            parameters += _linear_parameters(n_in, n_out)  # the skip's projection
    return parameters


def _conv_plan(
    n_channels: int, height: int, width: int, widths: list[int]
) -> list[tuple[int, int, bool]]:
    """(channels in, channels out, whether it pools) for each convolutional block."""
    plan = []
    for n_in, n_out in zip([n_channels, *widths], widths):
        pool = min(height, width) >= 2
        plan.append((n_in, n_out, pool))
        if pool:
            height, width = height // 2, width // 2
    return plan


def _cnn_parameters(
    plan: list[tuple[int, int, bool]],
    kernel_size: int,
    act: Callable[[], nn.Module],
    batch_norm: bool,
    residual: bool,
    head_width: int,
    n_outputs: int,
) -> int:
    """The parameters of the network :func:`build_cnn` builds from ``plan``, without building it."""
    parameters = 0
    for n_in, n_out, pool in plan:
        parameters += n_in * n_out * kernel_size**2 + n_out + _block_extras(n_out, act, batch_norm)
        if residual and (n_in != n_out or pool):
            parameters += _linear_parameters(n_in, n_out)  # the skip's 1x1 convolution
    n_features = plan[-1][1]
    if head_width > 0:
        parameters += _linear_parameters(n_features, head_width) + _activation_parameters(act)
        n_features = head_width
    return parameters + _linear_parameters(n_features, n_outputs)


def _linear_parameters(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _block_extras(n_out: int, act: Callable[[], nn.Module], batch_norm: bool) -> int:
    """A block's parameters besides its main layer: activation, and a scale and a shift per
    unit for batch normalization."""
    return _activation_parameters(act) + (2 * n_out if batch_norm else 0)


def _activation_parameters(act: Callable[[], nn.Module]) -> int:
    return sum(p.numel() for p in act().parameters())  # PReLU learns one; the others none


def _check_max_parameters(max_parameters: Any) -> None:
    number = isinstance(max_parameters, Real) and not isinstance(max_parameters, bool)
    if not number or not float(max_parameters) >= 1.0:  # NaN fails the comparison too
        raise ConfigError(
            f"max_parameters must be a number of parameters >= 1, got {max_parameters!r}; "
            f"e.g. 1.0e10, or .inf for no limit.",
            field="max_parameters",
        )


def _block_sizes(
    field: str, width: int | Sequence[int], width_rule: str, depth: int
) -> dict[str, Any]:
    """The options that size the blocks, for an error about the network's size: the width rule
    only where it expands a single width."""
    sizes: dict[str, Any] = {field: width, "depth": depth}
    if isinstance(width, Integral) and width_rule != "constant":
        sizes["width_rule"] = width_rule
    return sizes


def _check_size(
    parameters: int, max_parameters: float, sizes: Mapping[str, Any], inputs: str
) -> None:
    """Refuse a network too large to train before any of it is allocated, naming the options
    in ``sizes`` that make it so (and blaming the first)."""
    if parameters <= max_parameters:
        return
    if max_parameters == DEFAULT_MAX_PARAMETERS:
        gib = DEFAULT_MAX_PARAMETERS * _BYTES_PER_PARAMETER // 2**30
        limit = (f"the limit of {DEFAULT_MAX_PARAMETERS:,} ({gib} GiB of float32 weights, "
                 f"{4 * gib} GiB to train with Adam)")
    else:
        limit = f"max_parameters ({max_parameters:,.0f})"
    digits = len(str(parameters))
    count = f"{parameters:,}" if digits <= 15 else f"about 10**{digits - 1}"
    given = ", ".join(f"{option} {value!r}" for option, value in sizes.items())
    *others, last = sizes
    raise ConfigError(
        f"{given} on {inputs} make {count} parameters, more than {limit}; choose a smaller "
        f"{', '.join(others)} or {last}, or raise max_parameters (model.max_parameters in a "
        f"study file, e.g. 1.0e10) if the device that trains has the memory.",
        field=next(iter(sizes)),
    )


BUILDERS: dict[str, Callable[..., nn.Module]] = {"mlp": build_mlp, "cnn": build_cnn}
# The builders of tunelab.torch.sequence_models, which builds on this module's checks.
SEQUENCE_MODELS = ("rnn", "tcn", "transformer")


def build_model(
    spec: str | Mapping[str, Any] | Callable[..., nn.Module],
    input_shape: Sequence[int],
    n_outputs: int,
    *,
    vocabulary_size: int = 0,
) -> nn.Module:
    """A model from a study's ``model`` spec, for inputs of ``input_shape`` (without batch).

    ``spec`` is ``"mlp"``, ``"cnn"``, ``"rnn"``, ``"tcn"``, ``"transformer"``,
    ``"package.module:function"``, a callable, or a mapping ``{name: <one of those>,
    **options}``. A user factory is called as ``factory(input_shape=tuple, n_outputs=int,
    **options)`` and must return an ``nn.Module``. ``vocabulary_size`` is that of token-id
    inputs (0: the inputs are numbers), which only the sequence models read. Errors name the
    field as ``model.<option>``. No forward pass is run here.
    """
    target, options = _split_spec(spec)
    label, call = _bind_inputs(target, tuple(input_shape), n_outputs, vocabulary_size)
    _check_options(label, call, options)
    try:
        model = call(**options)
    except ConfigError as error:
        raise ConfigError(f"model {label!r}: {error}", field=_model_field(error.field)) from None
    if not isinstance(model, nn.Module):
        raise ConfigError(
            f"model.name {label!r} returned {type(model).__name__}, not a torch.nn.Module; "
            f"make the factory return the network it builds.",
            field="model.name",
        )
    return model


def _split_spec(spec: Any) -> tuple[Any, dict[str, Any]]:
    """The builder (name or callable) and its options."""
    if isinstance(spec, Mapping):
        options = dict(spec)
        if "name" not in options:
            raise ConfigError(
                f"model.name is missing from {spec!r}; add e.g. name: mlp.", field="model.name"
            )
        return options.pop("name"), options
    return spec, {}


def _bind_inputs(
    target: Any, input_shape: tuple[int, ...], n_outputs: int, vocabulary_size: int
) -> tuple[str, functools.partial[nn.Module]]:
    """A display label and the builder with the data's shape already bound."""
    if isinstance(target, str) and target.lower() in SEQUENCE_MODELS:
        # Imported here: the sequence builders import this module's checks.
        from tunelab.torch.sequence_models import SEQUENCE_BUILDERS

        name = target.lower()
        builder = SEQUENCE_BUILDERS[name]
        return name, functools.partial(
            builder, input_shape, n_outputs, vocabulary_size=vocabulary_size
        )
    if isinstance(target, str) and target.lower() in BUILDERS and vocabulary_size:
        raise ConfigError(
            f"model.name {target!r} cannot read token ids (text); set model.name to a sequence "
            f"model: {', '.join(SEQUENCE_MODELS)}.",
            field="model.name",
        )
    if isinstance(target, str) and target.lower() in BUILDERS:
        name = target.lower()
        # An MLP sees flattened inputs; a CNN needs the image shape itself.
        first = math.prod(input_shape) if name == "mlp" else input_shape
        return name, functools.partial(BUILDERS[name], first, n_outputs)
    if isinstance(target, str) and ":" in target:
        factory = import_factory(target)
        return target, functools.partial(factory, input_shape=input_shape, n_outputs=n_outputs)
    if isinstance(target, nn.Module):
        raise ConfigError(
            f"model.name is a built {type(target).__name__}; pass its class or a function that "
            f"builds it, so that every trial starts from fresh weights.",
            field="model.name",
        )
    if callable(target):
        label = getattr(target, "__qualname__", repr(target))
        return label, functools.partial(target, input_shape=input_shape, n_outputs=n_outputs)
    names = (*BUILDERS, *SEQUENCE_MODELS)
    hint = did_you_mean(target.lower(), names) if isinstance(target, str) else ""
    raise ConfigError(
        f"model.name {target!r} is unknown{hint}; use one of {', '.join(names)}, "
        f"'package.module:function' or a callable.",
        field="model.name",
    )


def import_factory(
    path: str, field: str = "model.name", purpose: str = "builds the model"
) -> Callable[..., Any]:
    """The function that ``'package.module:function'`` names, as a task's ``field`` gives it;
    an error says what such a function is for (``purpose``)."""
    module_name, _, function_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except (ImportError, ValueError) as error:  # ValueError: empty module name
        raise ConfigError(
            f"{field} {path!r}: cannot import module {module_name!r} ({error}); check the "
            f"spelling and that the module is on the Python path.",
            field=field,
        ) from None
    factory: Callable[..., Any] | None = getattr(module, function_name, None)
    if not callable(factory):
        raise ConfigError(
            f"{field} {path!r}: module {module_name!r} has no function {function_name!r}; "
            f"name a function that {purpose}.",
            field=field,
        )
    return factory


def _check_options(
    label: str, call: functools.partial[nn.Module], options: Mapping[str, Any]
) -> None:
    try:
        parameters = inspect.signature(call).parameters.values()
    except ValueError:
        raise ConfigError(
            f"model.name {label!r} must accept the keyword arguments input_shape and n_outputs; "
            f"add them to its signature.",
            field="model.name",
        ) from None
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        return
    accepted = [
        p.name
        for p in parameters
        if p.name not in call.keywords and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    for option in options:
        if option not in accepted:
            raise ConfigError(
                f"model {label!r} has no option {option!r}{did_you_mean(option, accepted)}; "
                f"its options are: {', '.join(accepted) or 'none'}.",
                field=f"model.{option}",
            )


def _model_field(field: str | None) -> str:
    # build_cnn already says "model.name" when the data is not an image: the fix is the name.
    if field is None:
        return "model"
    return field if field.startswith("model.") else f"model.{field}"


def _check_blocks(
    field: str,
    width: int | Sequence[int],
    depth: int,
    width_rule: str,
    activation: str,
    dropout: float,
    batch_norm: bool,
    residual: bool,
) -> tuple[list[int], Callable[[], nn.Module]]:
    """Check what MLP and CNN blocks share; return each block's width and the activation."""
    _check_positive_int("depth", depth)
    if depth > MAX_DEPTH:
        raise ConfigError(
            f"depth must be at most {MAX_DEPTH} blocks, got {depth}; a deeper stack is a typo "
            f"more often than a design, and one that is not belongs in a factory of your own "
            f"(name: 'package.module:function').",
            field="depth",
        )
    _check_choice("width_rule", width_rule, WIDTH_RULES)
    _check_choice("activation", activation, ACTIVATIONS)
    _check_flag("batch_norm", batch_norm)
    _check_flag("residual", residual)
    if isinstance(dropout, bool) or not isinstance(dropout, Real) or not 0.0 <= dropout < 1.0:
        raise ConfigError(
            f"dropout must be a number in [0, 1), got {dropout!r}; use e.g. 0.0 to 0.5.",
            field="dropout",
        )
    return _block_widths(field, width, depth, width_rule), ACTIVATIONS[activation]


def _block_widths(
    field: str, width: int | Sequence[int], depth: int, width_rule: str
) -> list[int]:
    if isinstance(width, Sequence) and not isinstance(width, str):
        if len(width) != depth:
            raise ConfigError(
                f"{field} lists {len(width)} widths but depth is {depth}; give one per block "
                f"or a single int.",
                field=field,
            )
        for i, value in enumerate(width):
            _check_positive_int(f"{field}[{i}]", value, field=field)
        return [int(value) for value in width]
    _check_positive_int(field, width)
    width = int(width)
    if width_rule == "halving":
        floor = min(width, _MIN_HALVED_WIDTH)
        return [max(width >> i, floor) for i in range(depth)]
    if width_rule == "doubling":
        return [width << i for i in range(depth)]
    assert width_rule == "constant", width_rule
    return [width] * depth


def _check_image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    if not isinstance(input_shape, Sequence) or len(input_shape) != 3:
        raise ConfigError(
            f"input_shape {input_shape!r} is not an image: a CNN needs image input (C, H, W); "
            f"for vector data set model.name to 'mlp' (name: mlp), for sequences (steps, "
            f"features) to 'rnn', 'tcn' or 'transformer'.",
            field="model.name",
        )
    for i, value in enumerate(input_shape):
        _check_positive_int(f"input_shape[{i}]", value, field="input_shape")
    n_channels, height, width = (int(value) for value in input_shape)
    return n_channels, height, width


def _check_positive_int(name: str, value: Any, field: str | None = None) -> None:
    _check_int_at_least(name, value, 1, field)


def _check_int_at_least(name: str, value: Any, minimum: int, field: str | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ConfigError(
            f"{name} must be an integer >= {minimum}, got {value!r}; use {minimum} or more.",
            field=field or name,
        )


def _check_choice(field: str, value: Any, choices: Sequence[str] | Mapping[str, Any]) -> None:
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        names = ", ".join(repr(choice) for choice in choices)
        raise ConfigError(
            f"{field} {value!r} is unknown{hint}; use one of {names}.", field=field
        )


def _check_flag(field: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{field} must be true or false, got {value!r}.", field=field)
