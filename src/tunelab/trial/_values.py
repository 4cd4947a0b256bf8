"""Checks of what an objective reports, returns and attaches: numbers and JSON, or a reason
why not."""

from __future__ import annotations

import json
import math
import numbers
import warnings
from typing import Any

from tunelab.exceptions import TunelabError


def new_report(
    step: Any, value: Any, reported: set[int], owner: str
) -> tuple[int, float] | None:
    """A reported ``(step, value)`` as numbers, noted in ``reported``; None, with a warning,
    when ``owner`` already reported at that step; a TunelabError saying what is wrong if the
    step or the value is not a number."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise TunelabError(f"report step={step!r} must be a non-negative integer.")
    try:
        step, value = int(step), float(value)
    except (TypeError, ValueError):
        raise TunelabError(
            f"report value={value!r} ({type(value).__name__}) must be a number."
        ) from None
    if step in reported:
        warnings.warn(
            f"{owner} already reported a value at step {step}; the new value {value} is "
            "ignored.",
            stacklevel=3,
        )
        return None
    reported.add(step)
    return step, value


def check_values(values: Any, n_objectives: int) -> tuple[tuple[float, ...] | None, str | None]:
    """Validate what an objective returned: ``(values, None)`` if usable, else
    ``(None, reason)``."""
    raw = values if isinstance(values, (list, tuple)) else [values]
    if len(raw) != n_objectives:
        return None, (
            f"the objective returned {len(raw)} value(s) but the study has {n_objectives} "
            "objective(s); return one number per objective."
        )
    out = []
    for item in raw:
        if isinstance(item, bool) or not isinstance(item, (int, float)) and not _is_numeric(item):
            return None, (
                f"the objective returned {item!r} ({type(item).__name__}); it must return a "
                "number (a float)."
            )
        number = float(item)
        if not math.isfinite(number):
            return None, f"the objective returned {number}; it must return a finite number."
        out.append(number)
    return tuple(out), None


def _is_numeric(item: Any) -> bool:
    """numpy scalars and 0-d tensors convert to float; strings and containers do not count."""
    if isinstance(item, (str, bytes)) or not hasattr(item, "__float__"):
        return False
    return getattr(item, "ndim", 0) == 0


def as_json(key: str, value: Any) -> Any:
    """A deep copy of ``value`` through JSON, so that later changes to it are not stored."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as error:
        raise TunelabError(
            f"attribute {key!r}: the value must be JSON (numbers, strings, lists, dicts); "
            f"{error}. Store a summary of the object instead."
        ) from None
