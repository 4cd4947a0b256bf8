"""Constraints on trials: values ``c <= 0`` are satisfied, anything above is a violation.

A trial's constraint values live in its system attribute ``"constraints"``: the objective sets
them with :meth:`tunelab.Trial.set_constraints`, or a sampler given a ``constraints_func``
(NSGA-II) stores what that function returns when the trial finishes. Named ones, which
``trial.set_constraint(name, value)`` sets one at a time, live in ``"constraints:NAME"``, the
key Optuna 5 uses, so that imported studies keep their names. Every reader (the study's best
trials, the samplers) goes through :func:`constraint_values`, so that they agree on which
trials are feasible. A trial without constraint values is feasible.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab._attrs import CONSTRAINTS_ATTR, NAMED_CONSTRAINT_PREFIX
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


def check_named_constraint(name: Any, value: Any, source: str) -> float:
    """One named constraint's value as a float, or ConfigError naming ``source`` (where the
    value came from: ``"trial 3"``, ``"create_trial"``) and the constraint."""
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{source}: constraint name {name!r} is not a non-empty string; name each "
            "constraint, e.g. set_constraint('memory', used - limit).",
            field="constraints",
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(
            f"{source}: constraint {name!r} is {value!r} ({type(value).__name__}); give a "
            "number, <= 0 when the constraint is satisfied.",
            field="constraints",
        )
    checked = float(value)
    if math.isnan(checked):
        raise ConfigError(
            f"{source}: constraint {name!r} is NaN, which says nothing about feasibility; "
            "give a number, <= 0 when the constraint is satisfied.",
            field="constraints",
        )
    return checked


def named_constraints(system_attrs: Mapping[str, Any], number: int) -> dict[str, float]:
    """A trial's constraint values by name: those of its list as "0", "1", ..., then the
    named ones in the order they were set."""
    listed = system_attrs.get(CONSTRAINTS_ATTR)
    where = f"system attribute {CONSTRAINTS_ATTR!r}"
    named = {} if listed is None else {
        str(i): v for i, v in enumerate(check_constraints(listed, where, number))
    }
    for key, value in system_attrs.items():
        if key.startswith(NAMED_CONSTRAINT_PREFIX):
            name = key[len(NAMED_CONSTRAINT_PREFIX) :]
            named[name] = check_named_constraint(name, value, f"trial {number}")
    return named


class ConstraintsSet:
    """The constraint values an objective set on a trial so far: a list by position
    (``set_constraints``), then the named ones (``set_constraint``), each name once."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.listed: list[float] = []
        self.named: dict[str, float] = {}

    def set_list(self, values: Any) -> list[float]:
        """Replace the list; the checked values."""
        self.listed = check_constraints(values, "set_constraints", self.number)
        return self.listed

    def set_named(self, name: Any, value: Any) -> float | None:
        """The checked value to store, or None (with a warning) when ``name`` is already set:
        a constraint once measured does not change."""
        checked = check_named_constraint(name, value, f"trial {self.number}")
        if name in self.named:
            warnings.warn(
                f"trial {self.number}: constraint {name!r} is already set to "
                f"{self.named[name]!r}; the value {checked!r} is not kept.",
                stacklevel=3,
            )
            return None
        self.named[name] = checked
        return checked

    def as_dict(self) -> dict[str, float]:
        return {**{str(i): v for i, v in enumerate(self.listed)}, **self.named}


def constraint_values(record: TrialRecord) -> list[float] | None:
    """The trial's stored constraint values, or None when it has none."""
    attrs = record.system_attrs
    if CONSTRAINTS_ATTR not in attrs and not any(
        key.startswith(NAMED_CONSTRAINT_PREFIX) for key in attrs
    ):
        return None
    return list(named_constraints(attrs, record.number).values())


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
