"""Constraints on trials: values ``c <= 0`` are satisfied, anything above is a violation.

A trial's constraint values live in its system attribute ``"constraints"``: the objective sets
them with :meth:`tunelab.Trial.set_constraints`, or a sampler given a ``constraints_func``
(NSGA-II) stores what that function returns when the trial finishes. Every reader (the study's
best trials, the samplers) goes through :func:`constraint_values`, so that they agree on which
trials are feasible. A trial without constraint values is feasible.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tunelab._attrs import CONSTRAINTS_ATTR
from tunelab.exceptions import ConfigError

if TYPE_CHECKING:
    from tunelab.trial import TrialRecord



def check_constraints(
    values: Any, source: str, number: int, field: str = CONSTRAINTS_ATTR
) -> list[float]:
    """``values`` as a list of floats, or ConfigError naming ``source``, the trial and ``field``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise ConfigError(
            f"{source} gave {values!r} for trial {number}; it must be a sequence of floats, "
            "each <= 0 when the constraint is satisfied.",
            field=field,
        )
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                f"{source} gave {value!r} ({type(value).__name__}) for trial {number}; each "
                "constraint value must be a number (<= 0 when satisfied).",
                field=field,
            )
        out.append(float(value))
    return out


def constraint_values(record: TrialRecord) -> list[float] | None:
    """The trial's stored constraint values, or None when it has none."""
    if CONSTRAINTS_ATTR not in record.system_attrs:
        return None
    return check_constraints(
        record.system_attrs[CONSTRAINTS_ATTR], f"system attribute {CONSTRAINTS_ATTR!r}",
        record.number,
    )


def violation(values: Sequence[float] | None) -> float:
    """Sum of the positive parts; a value that is not a finite number violates infinitely."""
    if values is None:
        return 0.0
    total = 0.0
    for value in values:
        if not math.isfinite(value):
            return math.inf
        total += max(value, 0.0)
    return total


def is_feasible(record: TrialRecord) -> bool:
    return violation(constraint_values(record)) <= 0.0
