"""Rows read back from a SQL database, checked as they become records.

The database is a file or a server that anything can write to: a hand-made UPDATE, another
program, a disk error. A row that does not hold what tunelab writes is reported with the column
at fault (:class:`BadRow`) instead of breaking whatever reads it later, far from the cause; the
storage adds the study and the trial and decides whether to leave the row out or refuse it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tunelab.exceptions import TunelabError
from tunelab.space import Distribution, distribution_from_json
from tunelab.storage.base import StudyInfo, as_directions, check_study_name
from tunelab.trial import TrialRecord, TrialState, freeze, utc_from_timestamp

_DIRECTIONS = ("minimize", "maximize")
_SCALARS = frozenset((str, int, float, bool, type(None)))  # what a parameter's value may be
_NUMBERS = (int, float)  # as JSON and the database give them: not bool, not text
_SHOWN = 60  # characters of a bad value that a message quotes


class BadRow(Exception):
    """A column of a stored row that does not hold what tunelab writes there."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(f"column {column} {problem}")
        self.column = column


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _is_number(value: Any) -> bool:
    return type(value) in _NUMBERS


def _json(text: Any, column: str, kind: type) -> Any:
    """The JSON value that ``column`` holds, which must be of ``kind`` (dict or list)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise BadRow(column, f"holds {_shown(text)}, which is not JSON text") from None
    if not isinstance(value, kind):
        what = "an object" if kind is dict else "a list"
        raise BadRow(column, f"holds {_shown(text)}, which is not a JSON {what}")
    return value


def _moment(seconds: Any, column: str) -> datetime | None:
    if seconds is None:
        return None
    try:
        if not _is_number(seconds):
            raise TypeError
        return utc_from_timestamp(float(seconds))
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadRow(column, f"holds {_shown(seconds)}, which is not a time in seconds") from None


def _values(row: Any) -> tuple[float, ...] | None:
    if row.objective_values is None:
        return None
    values = _json(row.objective_values, "objective_values", list)
    if not all(type(v) in _NUMBERS for v in values):
        raise BadRow("objective_values", f"holds {_shown(row.objective_values)}, not numbers")
    return tuple(values)


def _params(row: Any) -> Mapping[str, Any]:
    params = _json(row.params, "params", dict)
    for name, value in params.items():
        if type(value) not in _SCALARS:
            raise BadRow("params", f"gives parameter {name!r} the value {_shown(value)}, "
                                   "which is not a JSON scalar")
    return freeze(params)


@functools.lru_cache(maxsize=1024)
def _parse_distributions(text: str) -> Mapping[str, Distribution]:
    """Trials of a study share a few spaces; parse and validate each JSON text once."""
    return freeze({name: distribution_from_json(d) for name, d in json.loads(text).items()})


def _distributions(row: Any) -> Mapping[str, Distribution]:
    try:
        return _parse_distributions(row.distributions)
    except (TunelabError, TypeError, ValueError, KeyError, AttributeError) as error:
        _json(row.distributions, "distributions", dict)  # says so if not even a JSON object
        raise BadRow(
            "distributions", f"holds {_shown(row.distributions)}, not distributions ({error})"
        ) from None


def _intermediate(values: Mapping[Any, Any]) -> Mapping[int, float]:
    for step, value in values.items():
        if not isinstance(step, int) or not _is_number(value):
            raise BadRow(
                "value of tunelab_intermediate_values",
                f"holds {_shown(value)} at step {_shown(step)}, which is not a number",
            )
    return freeze(values)


def trial_state(value: Any) -> TrialState:
    """The state a row names: exactly a member's name, as the storage writes it."""
    state = TrialState.__members__.get(value) if isinstance(value, str) else None
    if state is None:
        known = ", ".join(TrialState.__members__)
        raise BadRow("state", f"holds {_shown(value)}, not a trial state ({known})")
    return state


def trial_record(row: Any, intermediate: Mapping[Any, Any]) -> TrialRecord:
    """The record of a ``tunelab_trials`` row and its intermediate values (NaN for NULL)."""
    if not isinstance(row.number, int):
        raise BadRow("number", f"holds {_shown(row.number)}, which is not a trial number")
    state = trial_state(row.state)
    if row.fail_reason is not None and not isinstance(row.fail_reason, str):
        raise BadRow("fail_reason", f"holds {_shown(row.fail_reason)}, which is not text")
    return TrialRecord(
        trial_id=row.trial_id,
        number=row.number,
        state=state,
        values=_values(row),
        params=_params(row),
        distributions=_distributions(row),
        intermediate_values=_intermediate(intermediate),
        user_attrs=freeze(_json(row.user_attrs, "user_attrs", dict)),
        system_attrs=freeze(_json(row.system_attrs, "system_attrs", dict)),
        datetime_start=_moment(row.datetime_start, "datetime_start"),
        datetime_complete=_moment(row.datetime_complete, "datetime_complete"),
        fail_reason=row.fail_reason,
    )


def study_info(row: Any) -> StudyInfo:
    """The study of a ``tunelab_studies`` row. Its name becomes file names (the report's):
    it must pass the rule every new study's name passes."""
    try:
        check_study_name(row.name)
    except TunelabError as error:
        raise BadRow("name", f"does not hold a usable name: {str(error).rstrip('.')}") from None
    directions = _json(row.directions, "directions", list)
    if not directions or any(d not in _DIRECTIONS for d in directions):
        raise BadRow("directions", f"holds {_shown(row.directions)}, not a list of "
                                   "'minimize' and 'maximize'")
    metric_names = None if not row.metric_names else _json(row.metric_names, "metric_names", list)
    if metric_names is not None and not all(isinstance(n, str) for n in metric_names):
        raise BadRow("metric_names", f"holds {_shown(row.metric_names)}, not a list of names")
    created_at = _moment(row.created_at, "created_at")
    if created_at is None:
        raise BadRow("created_at", "is empty, but every study has a creation time")
    return StudyInfo(
        row.study_id,
        row.name,
        as_directions(directions),
        tuple(metric_names) if metric_names else None,
        created_at,
        system_attrs=freeze(_json(row.system_attrs, "system_attrs", dict)),
        user_attrs=_user_attrs(row),
    )


def _user_attrs(row: Any) -> Mapping[str, Any]:
    """A study's user attributes; none in a row written before tunelab kept them."""
    return freeze(None if row.user_attrs is None else _json(row.user_attrs, "user_attrs", dict))


def first_start(values: list[Any]) -> datetime | None:
    """When a study's first trial started, from the earliest start per state."""
    starts = [_moment(value, "datetime_start") for value in values]
    return min((start for start in starts if start is not None), default=None)


def best_bound(value: Any) -> float | None:
    """A study's lowest or highest ``primary_value``, which the database computed."""
    if value is None:
        return None
    if not _is_number(value):
        raise BadRow("primary_value", f"of a COMPLETE trial holds {_shown(value)}, not a number")
    return float(value)
