"""Search-space distributions.

A distribution describes the values one hyperparameter may take. Each one is immutable,
validated when built, round-trips through JSON, and maps its values to and from the unit
interval so that samplers can work in ``[0, 1]^d`` whatever the parameter's type.

The unit mapping of a discrete distribution (int, stepped float, categorical) gives each value
a bin of equal width, so that a uniform ``u`` picks every value with the same probability.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunelab.exceptions import SearchSpaceError

JsonScalar = None | bool | int | float | str

_STEP_TOLERANCE = 1e-8


def _check_finite(name: str, value: float) -> None:
    if not math.isfinite(value):
        raise SearchSpaceError(f"{name}={value!r} is not a finite number; give a finite bound.")


def _step_count(low: float, high: float, step: float, what: str) -> int:
    """Number of steps between low and high; the range must be a whole number of steps."""
    if not math.isfinite(step) or step <= 0:
        raise SearchSpaceError(f"{what}: step={step!r} must be a positive finite number.")
    steps = (high - low) / step
    whole = round(steps)
    if abs(steps - whole) > _STEP_TOLERANCE * max(1.0, abs(steps)):
        fitting_high = round(low + math.floor(steps + _STEP_TOLERANCE) * step, 12)
        raise SearchSpaceError(
            f"{what}: step={step!r} does not fit the range [{low!r}, {high!r}]: "
            f"high - low must be a multiple of step. Use high={fitting_high!r} or another step."
        )
    return int(whole)


def _bin_index(u: float, n_values: int) -> int:
    return min(int(u * n_values), n_values - 1) if u > 0 else 0


@dataclass(frozen=True)
class FloatDistribution:
    """A real number in ``[low, high]``, optionally on a log scale or on a grid of ``step``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        what = f"float range [{self.low!r}, {self.high!r}]"
        _check_finite("low", self.low)
        _check_finite("high", self.high)
        if self.low > self.high:
            raise SearchSpaceError(f"{what}: low must be <= high; swap the bounds.")
        if self.log and self.step is not None:
            raise SearchSpaceError(f"{what}: log=True cannot be combined with step; use one.")
        if self.log and self.low <= 0:
            raise SearchSpaceError(f"{what}: log=True needs low > 0; use a positive low bound.")
        if self.step is not None:
            _step_count(self.low, self.high, self.step, what)
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))

    @property
    def is_single(self) -> bool:
        return self.low == self.high

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not self.low <= value <= self.high:
            return False
        if self.step is None:
            return True
        steps = (value - self.low) / self.step
        return abs(steps - round(steps)) <= _STEP_TOLERANCE * max(1.0, abs(steps))

    def to_unit(self, value: float) -> float:
        if self.is_single:
            return 0.5
        if self.step is not None:
            n_values = self._n_steps() + 1
            return (round((value - self.low) / self.step) + 0.5) / n_values
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        if self.is_single:
            return self.low
        if self.step is not None:
            index = _bin_index(u, self._n_steps() + 1)
            return min(self.low + index * self.step, self.high)
        if self.log:
            value = math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + u * (self.high - self.low)
        return min(max(value, self.low), self.high)

    def grid(self, n_points: int) -> list[float]:
        """Every value for a stepped range, else ``n_points`` evenly spaced (log-spaced if log)."""
        if self.is_single:
            return [self.low]
        if self.step is not None:
            return [min(self.low + i * self.step, self.high) for i in range(self._n_steps() + 1)]
        if self.log:
            return [float(v) for v in np.geomspace(self.low, self.high, n_points)]
        return [float(v) for v in np.linspace(self.low, self.high, n_points)]

    def _n_steps(self) -> int:
        assert self.step is not None
        return _step_count(self.low, self.high, self.step, "float range")

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "float",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


@dataclass(frozen=True)
class IntDistribution:
    """An integer in ``[low, high]`` on a grid of ``step``, optionally on a log scale."""

    low: int
    high: int
    log: bool = False
    step: int = 1

    def __post_init__(self) -> None:
        what = f"int range [{self.low!r}, {self.high!r}]"
        for name in ("low", "high", "step"):
            value = getattr(self, name)
            if isinstance(value, bool) or not float(value).is_integer():
                raise SearchSpaceError(f"{what}: {name}={value!r} must be an integer.")
            object.__setattr__(self, name, int(value))
        if self.low > self.high:
            raise SearchSpaceError(f"{what}: low must be <= high; swap the bounds.")
        if self.log and self.step != 1:
            raise SearchSpaceError(f"{what}: log=True needs step=1; drop the step or the log.")
        if self.log and self.low < 1:
            raise SearchSpaceError(f"{what}: log=True needs low >= 1; use a positive low bound.")
        _step_count(self.low, self.high, self.step, what)

    @property
    def is_single(self) -> bool:
        return self.low == self.high

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)):
            return False
        if not float(value).is_integer() or not self.low <= value <= self.high:
            return False
        return (int(value) - self.low) % self.step == 0

    def _n_values(self) -> int:
        return (self.high - self.low) // self.step + 1

    def to_unit(self, value: int) -> float:
        if self.is_single:
            return 0.5
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return (math.log(value) - lo) / (hi - lo)
        return ((value - self.low) // self.step + 0.5) / self._n_values()

    def from_unit(self, u: float) -> int:
        if self.is_single:
            return self.low
        if self.log:
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            value = round(math.exp(lo + u * (hi - lo)))
            return int(min(max(value, self.low), self.high))
        return self.low + _bin_index(u, self._n_values()) * self.step

    def grid(self, n_points: int | None = None) -> list[int]:
        """Every value of the range (an integer range is always enumerated in full)."""
        return list(range(self.low, self.high + 1, self.step))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "int",
            "low": self.low,
            "high": self.high,
            "log": self.log,
            "step": self.step,
        }


@dataclass(frozen=True)
class CategoricalDistribution:
    """One of a fixed tuple of JSON scalars (None, bool, int, float, str)."""

    choices: tuple[JsonScalar, ...]

    def __post_init__(self) -> None:
        choices = None
        if not isinstance(self.choices, (str, bytes)):
            choices = tuple(_plain(choice) for choice in self.choices)
        if choices is None:
            raise SearchSpaceError(
                f"choices={self.choices!r} must be a list of values, not a single string; "
                "write [\"a\", \"b\"]."
            )
        if not choices:
            raise SearchSpaceError("choices is empty; give at least one value to choose from.")
        for choice in choices:
            if choice is not None and not isinstance(choice, (bool, int, float, str)):
                raise SearchSpaceError(
                    f"choice {choice!r} is a {type(choice).__name__}; choices must be None, bool, "
                    "int, float or str so that they can be stored as JSON. Choose by name and "
                    "build the object inside the objective."
                )
        if len(set(map(value_key, choices))) != len(choices):
            raise SearchSpaceError(
                f"choices={list(choices)!r} has duplicates; list each value once."
            )
        object.__setattr__(self, "choices", choices)

    @property
    def is_single(self) -> bool:
        return len(self.choices) == 1

    def contains(self, value: Any) -> bool:
        return self.index(value) is not None

    def index(self, value: Any) -> int | None:
        key = value_key(value)
        for i, choice in enumerate(self.choices):
            if value_key(choice) == key:
                return i
        return None

    def to_unit(self, value: JsonScalar) -> float:
        index = self.index(value)
        assert index is not None, f"{value!r} is not one of {self.choices!r}"
        return (index + 0.5) / len(self.choices)

    def from_unit(self, u: float) -> JsonScalar:
        return self.choices[_bin_index(u, len(self.choices))]

    def grid(self, n_points: int | None = None) -> list[JsonScalar]:
        return list(self.choices)

    def to_json(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


def _plain(value: Any) -> Any:
    """numpy scalars (from np.linspace, say) as the Python scalars that JSON gives back."""
    return value.item() if isinstance(value, np.generic) else value


def value_key(value: Any) -> tuple[str, Any]:
    """A hashable key that tells True from 1 and 1 from 1.0: compare by type and value."""
    value = _plain(value)
    return (type(value).__name__, value)


Distribution = FloatDistribution | IntDistribution | CategoricalDistribution


def as_declared_type(distribution: Distribution, value: Any) -> Any:
    """An int parameter is an int and a float one a float, whoever chose the value (a grid of
    ints for a float parameter, an enqueued 1 for 1.0)."""
    if isinstance(distribution, IntDistribution):
        return int(value)
    if isinstance(distribution, FloatDistribution):
        return float(value)
    return value


def distribution_from_json(data: dict[str, Any]) -> Distribution:
    """Rebuild a distribution from :meth:`to_json` output, or from Optuna's named form
    (:func:`to_named_json`, Optuna's deprecated distribution names included)."""
    if "name" in data:
        return _from_named_json(data)
    kind = data.get("type")
    if kind == "float":
        return FloatDistribution(
            data["low"], data["high"], data.get("log", False), data.get("step")
        )
    if kind == "int":
        return IntDistribution(
            data["low"], data["high"], data.get("log", False), data.get("step", 1)
        )
    if kind == "categorical":
        return CategoricalDistribution(tuple(data["choices"]))
    raise SearchSpaceError(
        f"unknown distribution type {kind!r}; expected float, int or categorical."
    )


def to_named_json(distribution: Distribution) -> dict[str, Any]:
    """The distribution in Optuna's JSON form: ``{"name": <class>, "attributes": {...}}``,
    which Optuna's ``json_to_distribution`` reads."""
    attributes = {k: v for k, v in distribution.to_json().items() if k != "type"}
    return {"name": type(distribution).__name__, "attributes": attributes}


# Optuna's names, its current ones and those it deprecated, with the attributes each stores.
_NAMED_FORMS: dict[str, Callable[[dict[str, Any]], Distribution]] = {
    "FloatDistribution": lambda a: FloatDistribution(
        a["low"], a["high"], a.get("log", False), a.get("step")
    ),
    "IntDistribution": lambda a: IntDistribution(
        a["low"], a["high"], a.get("log", False), a.get("step", 1)
    ),
    "CategoricalDistribution": lambda a: CategoricalDistribution(tuple(a["choices"])),
    "UniformDistribution": lambda a: FloatDistribution(a["low"], a["high"]),
    "LogUniformDistribution": lambda a: FloatDistribution(a["low"], a["high"], log=True),
    "DiscreteUniformDistribution": lambda a: FloatDistribution(a["low"], a["high"], step=a["q"]),
    "IntUniformDistribution": lambda a: IntDistribution(a["low"], a["high"], step=a.get("step", 1)),
    "IntLogUniformDistribution": lambda a: IntDistribution(
        a["low"], a["high"], log=True, step=a.get("step", 1)
    ),
}


def _from_named_json(data: dict[str, Any]) -> Distribution:
    name, attributes = data["name"], data.get("attributes")
    if name not in _NAMED_FORMS:
        raise SearchSpaceError(
            f"unknown distribution name {name!r}; expected one of {sorted(_NAMED_FORMS)}."
        )
    if not isinstance(attributes, dict):
        raise SearchSpaceError(
            f"distribution {name!r} has attributes={attributes!r}; give a JSON object such as "
            '{"low": 0.0, "high": 1.0}.'
        )
    try:
        return _NAMED_FORMS[name](attributes)
    except KeyError as missing:
        raise SearchSpaceError(
            f"distribution {name!r} lacks the attribute {missing.args[0]!r}; add it to its "
            "attributes."
        ) from None


def to_unit_vector(params: dict[str, Any], space: dict[str, Distribution]) -> np.ndarray:
    """Map the parameters named in ``space`` (all must be present) to a point of ``[0, 1]^d``."""
    return np.array([space[name].to_unit(params[name]) for name in space], dtype=float)


def from_unit_vector(u: np.ndarray, space: dict[str, Distribution]) -> dict[str, Any]:
    """Map a point of ``[0, 1]^d`` back to parameter values, in the order of ``space``."""
    return {name: dist.from_unit(float(x)) for (name, dist), x in zip(space.items(), u)}
