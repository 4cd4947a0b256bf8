"""The immutable record of a trial, as the storage returns it.

Frozen, with read-only mappings, so that samplers and pruners can cache finished trials
safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, overload

from tunelab._attrs import RESUME_ATTR
from tunelab.exceptions import TunelabError
from tunelab.space import Distribution, JsonScalar
from tunelab.trial._state import TrialState

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NO_STEPS: Mapping[int, float] = MappingProxyType({})


@dataclass(frozen=True)
class Resume:
    """Where a continuation trial picks up: it loads the checkpoint that trial ``trial`` (id
    ``trial_id``) left at ``step`` and trains on from there. It carries on trial ``previous``
    (the same trial, unless it took another's weights, as population-based training does), and
    ``root`` is the first trial of that lineage, which keeps its place (e.g. its Hyperband
    bracket) for every continuation."""

    trial: int
    trial_id: int
    step: int
    previous: int
    root: int

    def to_json(self) -> dict[str, int]:
        return {
            "trial": self.trial,
            "trial_id": self.trial_id,
            "step": self.step,
            "previous": self.previous,
            "root": self.root,
        }

    @classmethod
    def of(cls, record: TrialRecord) -> Resume | None:
        """The resume point stored on ``record``, if it continues another trial."""
        data = record.system_attrs.get(RESUME_ATTR)
        return None if data is None else cls(**data)


@dataclass(frozen=True)
class TrialRecord:
    """An immutable snapshot of a trial as the storage holds it."""

    trial_id: int
    number: int
    state: TrialState
    values: tuple[float, ...] | None = None
    params: Mapping[str, JsonScalar] = field(default_factory=lambda: _EMPTY)
    distributions: Mapping[str, Distribution] = field(default_factory=lambda: _EMPTY)
    intermediate_values: Mapping[int, float] = field(default_factory=lambda: _NO_STEPS)
    user_attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    system_attrs: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    datetime_start: datetime | None = None
    datetime_complete: datetime | None = None
    fail_reason: str | None = None

    @property
    def value(self) -> float | None:
        """The single objective value; an error for a multi-objective trial."""
        if self.values is None:
            return None
        if len(self.values) != 1:
            raise TunelabError(
                f"trial {self.number} has {len(self.values)} objective values; use .values."
            )
        return self.values[0]

    @property
    def duration(self) -> timedelta | None:
        """The time between start and completion, or None while running."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None


def freeze(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """A read-only view of a fresh copy, so the record cannot be changed through the original."""
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


@overload
def utc_from_timestamp(seconds: float) -> datetime: ...


@overload
def utc_from_timestamp(seconds: None) -> None: ...


def utc_from_timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)
