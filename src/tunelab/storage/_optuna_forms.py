"""Optuna's stored forms turned into tunelab's: distributions, parameter values, tagged floats,
times, states and attributes.

Optuna's RDB storage keeps every parameter as a float in its internal form (a categorical
choice as its index), infinities and NaN as a tag beside a NULL number, distributions and
attribute values as JSON text, and times as naive datetimes. Everything here works on those
plain values, so reading an Optuna storage needs neither Optuna nor unpickling anything.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

from tunelab._attrs import (
    CONSTRAINTS_ATTR,
    FIXED_PARAMS_ATTR,
    NAMED_CONSTRAINT_PREFIX,
    OPTUNA_SYSTEM_ATTRS_ATTR,
)
from tunelab.exceptions import StorageError, TunelabError
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    IntDistribution,
    JsonScalar,
    distribution_from_json,
)
from tunelab.trial import TrialState

# Optuna's keys whose meaning tunelab has under a key of its own (the same names, as it happens;
# Optuna 5 adds named constraints as "constraints:NAME").
OPTUNA_CONSTRAINTS_KEY = "constraints"
OPTUNA_FIXED_PARAMS_KEY = "fixed_params"
OPTUNA_METRIC_NAMES_KEY = "study:metric_names"
# CMA-ES keeps its optimizer as a pickle, in hex, cut into numbered pieces ("cma:optimizer:0",
# "sepcma:optimizer:1", ...): a pickle is not data tunelab stores, nor of use to its samplers.
_PICKLED_KEY = re.compile(r"^\w+:optimizer(:\d+)?$")

DIRECTIONS = {"MINIMIZE": "minimize", "MAXIMIZE": "maximize"}
_SPECIAL_FLOATS = {"INF_POS": math.inf, "INF_NEG": -math.inf, "NAN": math.nan}

RUNNING_REASON = (
    "it was RUNNING in the Optuna storage when it was imported: nothing runs it here, and a "
    "finished trial cannot be resumed"
)

@functools.lru_cache(maxsize=1024)
def distribution(text: str) -> Distribution:
    """The distribution that Optuna's JSON ``{"name": ..., "attributes": {...}}`` describes
    (Optuna 2's names included); a trial's parameters share a few, so each text is parsed
    once."""
    return distribution_from_json(json.loads(text))


def parameter(text: str, internal: float | None) -> tuple[Distribution, JsonScalar]:
    """A parameter's distribution and value from Optuna's ``distribution_json`` and the float
    it stores: the index of a categorical choice, an integer as a float."""
    found = distribution(text)
    if internal is None or math.isnan(internal):
        raise ValueError(f"the stored value {internal!r} is not a number")
    if isinstance(found, CategoricalDistribution):
        index = int(internal)
        if index != internal or not 0 <= index < len(found.choices):
            raise ValueError(f"{internal!r} is not the index of one of {list(found.choices)}")
        return found, found.choices[index]
    if isinstance(found, IntDistribution):
        return found, int(internal)
    return found, float(internal)


def tagged_float(value: float | None, tag: str) -> float:
    """A value that Optuna stores as a number and a tag: FINITE with the number, or INF_POS,
    INF_NEG, NAN with none (a NaN stored as FINITE comes back from SQLite as NULL)."""
    if tag == "FINITE":
        return math.nan if value is None else float(value)
    if tag in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[tag]
    raise ValueError(f"unknown value type {tag!r}")


def json_value(text: str | None) -> Any:
    """An attribute's value from its ``value_json`` (Optuna writes NaN and Infinity as Python's
    json module does, which reads them back)."""
    return None if text is None else json.loads(text)


def trial_state(name: str) -> TrialState:
    state = TrialState.__members__.get(name)
    if state is None:
        raise ValueError(f"unknown trial state {name!r}")
    return state


def utc_reader(library_version: str | None) -> Callable[[datetime | None], datetime | None]:
    """How to read the naive datetimes of a storage that Optuna ``library_version`` set up.

    Optuna 5 writes naive UTC; earlier versions wrote the writing machine's local time, taken
    here to be this machine's (the one Optuna itself would have shown them on).
    """
    major = re.match(r"\d+", library_version or "")
    in_utc = major is not None and int(major.group()) >= 5

    def read(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        if in_utc:
            return moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)

    return read


def trial_system_attrs(optuna_attrs: Mapping[str, Any]) -> dict[str, Any]:
    """tunelab's system attributes of a trial with Optuna's ``optuna_attrs``.

    Constraints keep their form: Optuna's list (what ``constraints_func`` stored) becomes
    tunelab's, and the named ones of ``Trial.set_constraint`` keep their keys, which tunelab
    reads the same way. Enqueued parameters move to tunelab's key, every other key but a
    pickle is kept as it is under one key.
    """
    attrs: dict[str, Any] = {}
    rest = {k: v for k, v in optuna_attrs.items() if not _PICKLED_KEY.match(k)}
    if OPTUNA_CONSTRAINTS_KEY in rest:
        attrs[CONSTRAINTS_ATTR] = list(rest.pop(OPTUNA_CONSTRAINTS_KEY) or [])
    for key in [k for k in rest if k.startswith(NAMED_CONSTRAINT_PREFIX)]:
        attrs[key] = rest.pop(key)
    if OPTUNA_FIXED_PARAMS_KEY in rest:
        attrs[FIXED_PARAMS_ATTR] = rest.pop(OPTUNA_FIXED_PARAMS_KEY)
    if rest:
        attrs[OPTUNA_SYSTEM_ATTRS_ATTR] = rest
    return attrs


def metric_names(value: Any, n_objectives: int) -> tuple[str, ...] | None:
    """The study's metric names if Optuna stored one distinct name per objective, else None
    (the value stays among the study's Optuna attributes)."""
    if not isinstance(value, list) or len(value) != n_objectives:
        return None
    if not all(isinstance(name, str) for name in value) or len(set(value)) != len(value):
        return None
    return tuple(value)


def unreadable(where: str, error: Exception) -> StorageError:
    """The error for a stored value that is not what Optuna writes, naming where it is."""
    problem = str(error) if isinstance(error, (TunelabError, ValueError)) else repr(error)
    return StorageError(
        f"{where} holds what Optuna does not write ({problem}); the Optuna storage was changed "
        "by hand or by another program. Fix or delete that row, or leave that study out of the "
        "import."
    )
