"""Option checks shared by the samplers and the pruners.

Each raises a :class:`~tunelab.exceptions.ConfigError` whose message starts with the
component's name, names the option, the value and the fix, and whose ``field`` is the option,
so that a study file can point at the exact line.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean


def check_int(where: str, field: str, value: Any, minimum: int, hint: str) -> int:
    """An integer (not a bool) of at least ``minimum``; a ConfigError naming ``field`` if not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(
            f"{where}: {field}={value!r} must be an integer >= {minimum}; {hint}", field=field
        )
    return int(value)


def check_number(
    where: str,
    field: str,
    value: Any,
    low: float,
    high: float,
    hint: str,
    *,
    low_open: bool = True,
    high_open: bool = False,
) -> float:
    """A finite real between ``low`` and ``high`` (each end excluded when open); a ConfigError
    naming ``field`` if not."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    above = ok and (low < value if low_open else low <= value)
    below = ok and (value < high if high_open else value <= high)
    if not (above and below):
        if math.isinf(high) and math.isinf(low):
            wanted = "a finite number"
        elif math.isinf(high):
            wanted = f"a finite number {'>' if low_open else '>='} {low:g}"
        else:
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            wanted = f"a number in {left}{low:g}, {high:g}{right}"
        raise ConfigError(f"{where}: {field}={value!r} must be {wanted}; {hint}", field=field)
    return float(value)


def check_choice(where: str, field: str, value: Any, choices: Sequence[str]) -> str:
    """One of ``choices`` (case-insensitive), lower-cased; a ConfigError naming ``field`` if not."""
    if not isinstance(value, str) or value.lower() not in choices:
        hint = did_you_mean(value.lower(), choices) if isinstance(value, str) else ""
        raise ConfigError(
            f"{where}: {field}={value!r} is unknown{hint}; use one of: {', '.join(choices)}.",
            field=field,
        )
    return value.lower()


def check_probability(where: str, field: str, value: Any, hint: str) -> float:
    """A number in ``[0, 1]``; a ConfigError naming ``field`` if not."""
    return check_number(where, field, value, 0.0, 1.0, hint, low_open=False)


def check_flag(where: str, field: str, value: Any) -> bool:
    """A real bool (not 0/1 or a string); a ConfigError naming ``field`` if not."""
    if not isinstance(value, bool):
        raise ConfigError(f"{where}: {field}={value!r} must be true or false.", field=field)
    return value
