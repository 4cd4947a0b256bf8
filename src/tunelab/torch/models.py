"""Model builders whose every argument is a hyperparameter a study can tune."""

from __future__ import annotations

from numbers import Integral

from torch import nn

from tunelab.exceptions import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_mlp(
    n_inputs: int,
    n_outputs: int,
    width: int,
    depth: int = 1,
    dropout: float = 0.0,
    activation: str = "relu",
) -> nn.Module:
    """Build a multilayer perceptron with ``depth`` hidden layers of ``width`` units.

    Arguments are checked before any layer is built, so that a bad value suggested by a
    search space fails with the name of the field rather than deep inside PyTorch.
    """
    _check_positive_int("n_inputs", n_inputs)
    _check_positive_int("n_outputs", n_outputs)
    _check_positive_int("width", width)
    _check_positive_int("depth", depth)
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must lie in [0, 1), got {dropout!r}; use e.g. 0.0 to 0.5.")
    activation_class = _activation_class(activation)
    layers: list[nn.Module] = []
    n_in = n_inputs
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), activation_class()]
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, n_outputs))
    return nn.Sequential(*layers)


def _activation_class(name: str) -> type[nn.Module]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        choices = ", ".join(repr(choice) for choice in ACTIVATIONS)
        raise ConfigError(
            f"activation must be one of {choices}, got {name!r}; pick one of those names."
        ) from None


def _check_positive_int(field: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ConfigError(f"{field} must be a positive integer, got {value!r}; use 1 or more.")
