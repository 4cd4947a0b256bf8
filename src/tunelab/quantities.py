"""What a training task can measure of a trial besides its metric: the costs, their units, and
how a limit on one is read and written.

==========================  =====  ==============================================================
name                        unit   what
==========================  =====  ==============================================================
``train_seconds``           s      training time, all epochs (each epoch's validation included)
``train_seconds_per_epoch`` s      the mean time of an epoch
``peak_memory``             MB     the device's peak memory while training (on the CPU, the
                                   process's peak resident memory)
``parameters``                     the model's trainable parameters
``flops``                   FLOPs  of one sample's forward pass, as ``torch.utils.flop_counter``
                                   counts them (matrix products and convolutions)
``inference_latency``       ms     the median time of a forward pass on a validation batch
==========================  =====  ==============================================================

Every cost is minimized. The first three are costs of the *training*, known only as it runs;
the last three are costs of the *model*, known before it trains. A limit is a number in the
cost's unit or text with a unit: ``512MB``, ``2GB`` (1024 MB, as memory is counted), ``1.5s``,
``300ms``, ``50k`` or ``2M`` parameters.

The units live here, in one place, so that every place a study's objective names are shown
(``tunelab show``, the report, the figures) writes them the same way: :func:`labelled`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean


@dataclass(frozen=True)
class Cost:
    """A cost's name, the unit it is stored and shown in, whether it is known before training
    (a cost of the model) and the units a limit may be written in, each with its factor to
    ``unit``."""

    name: str
    unit: str
    of_model: bool
    units: Mapping[str, float]


_SECONDS = {"s": 1.0, "ms": 1e-3}
_MILLISECONDS = {"ms": 1.0, "s": 1e3}
_MEGABYTES = {"mb": 1.0, "gb": 1024.0}
_COUNT = {"k": 1e3, "m": 1e6, "g": 1e9}

COSTS: dict[str, Cost] = {
    cost.name: cost
    for cost in (
        Cost("train_seconds", "s", False, _SECONDS),
        Cost("train_seconds_per_epoch", "s", False, _SECONDS),
        Cost("peak_memory", "MB", False, _MEGABYTES),
        Cost("parameters", "", True, _COUNT),
        Cost("flops", "FLOPs", True, _COUNT),
        Cost("inference_latency", "ms", True, _MILLISECONDS),
    )
}

_WITH_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")


def unit_of(name: str) -> str:
    """The unit a study's objective ``name`` is shown in ("" for none or an unknown name)."""
    cost = COSTS.get(name)
    return "" if cost is None else cost.unit


def labelled(name: str) -> str:
    """An objective's name as tables and axes show it: with its unit, ``inference_latency
    (ms)``; a name without a unit as it is."""
    unit = unit_of(name)
    return f"{name} ({unit})" if unit else name


def cost_named(name: Any, field: str, allowed: str = "cost") -> Cost:
    """The cost ``name`` names, or a ConfigError on ``field`` with the closest name."""
    if isinstance(name, str) and name in COSTS:
        return COSTS[name]
    hint = did_you_mean(name, COSTS) if isinstance(name, str) else ""
    raise ConfigError(
        f"{field}: {name!r} is not a {allowed}{hint}; the costs are: {', '.join(COSTS)}.",
        field=field,
    )


def parse_limit(name: Any, value: Any, field: str) -> tuple[Cost, float]:
    """The cost a limit bounds and the bound in the cost's unit; a ConfigError on ``field``
    for an unknown cost, a wrong unit or a bound that is not positive."""
    cost = cost_named(name, field, "cost a limit can bound")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(
            f"{field}: {value!r} must be a number in {_unit_words(cost)} or text with a unit, "
            f"e.g. {_example(cost)}.",
            field=field,
        )
    if isinstance(value, str):
        number, unit = _split_unit(value, cost, field)
        bound = number * _factor(unit, cost, value, field)
    else:
        bound = float(value)
    if not math.isfinite(bound) or bound <= 0:
        raise ConfigError(
            f"{field}: {value!r} must be a positive bound, e.g. {_example(cost)}.", field=field
        )
    return cost, bound


def describe(name: str, value: float) -> str:
    """A cost's value for a message, after its name: ``81,234`` (parameters), ``166,528
    FLOPs``, ``2.5 s``, ``512 MB``."""
    cost = COSTS[name]
    if cost.unit in ("", "FLOPs"):
        return f"{value:,.0f} {cost.unit}".rstrip()
    return f"{value:.4g} {cost.unit}"


def _split_unit(text: str, cost: Cost, field: str) -> tuple[float, str]:
    match = _WITH_UNIT.match(text)
    if match is None:
        raise ConfigError(
            f"{field}: {text!r} is not a number with a unit; write e.g. {_example(cost)}.",
            field=field,
        )
    return float(match.group(1)), match.group(2)


def _factor(unit: str, cost: Cost, text: str, field: str) -> float:
    if not unit:
        return 1.0
    factor = cost.units.get(unit.lower())
    if factor is None:
        raise ConfigError(
            f"{field}: {text!r} has the unit {unit!r}, which does not measure {cost.name}; "
            f"use {_unit_words(cost)}, e.g. {_example(cost)}.",
            field=field,
        )
    return factor


def _unit_words(cost: Cost) -> str:
    spelled = {"mb": "MB", "gb": "GB", "k": "k", "m": "M", "g": "G", "s": "s", "ms": "ms"}
    others = " / ".join(spelled[u] for u in cost.units if spelled[u] != cost.unit)
    if cost.unit in ("", "FLOPs"):
        return f"a count (a number alone, or with {others})"
    return f"{cost.unit} (a number alone) or {others}"


def _example(cost: Cost) -> str:
    return {
        "s": "2.5 or 2.5s or 2500ms",
        "ms": "5 or 5ms or 0.005s",
        "MB": "512 or 512MB or 2GB",
    }.get(cost.unit, "50000 or 50k or 2M")
