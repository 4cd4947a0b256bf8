"""The immutable record of a trial, as the storage returns it.

Frozen, with read-only mappings, so that samplers and pruners can cache finished trials
safely.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any, overload

from tunelab._attrs import RESUME_ATTR
from tunelab.constraints import named_constraints
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    JsonScalar,
)
from tunelab.trial._base import BaseTrial
from tunelab.trial._given import given_value
from tunelab.trial._state import TrialState
from tunelab.trial._values import as_json

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MAPPINGS = ("params", "distributions", "intermediate_values", "user_attrs", "system_attrs")


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


@dataclass(frozen=True, init=False)
class TrialRecord(BaseTrial):
    """An immutable snapshot of a trial as the storage holds it (Optuna's ``FrozenTrial``).

    Given to an objective, it answers each ``suggest_*`` with the value it ran with, so that
    ``objective(study.best_trial)`` re-runs the best configuration; ``report`` is ignored and
    ``should_prune`` is False. Built directly (Optuna's constructor, by keyword) or with
    :func:`create_trial`, it is a trial to give to ``study.add_trial``.
    """

    trial_id: int
    number: int
    state: TrialState
    values: tuple[float, ...] | None
    params: Mapping[str, JsonScalar]
    distributions: Mapping[str, Distribution]
    intermediate_values: Mapping[int, float]
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]
    datetime_start: datetime | None
    datetime_complete: datetime | None
    fail_reason: str | None

    def __init__(
        self,
        trial_id: int,
        number: int,
        state: TrialState,
        values: Sequence[float] | None = None,
        params: Mapping[str, JsonScalar] | None = None,
        distributions: Mapping[str, Distribution] | None = None,
        intermediate_values: Mapping[int, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        system_attrs: Mapping[str, Any] | None = None,
        datetime_start: datetime | None = None,
        datetime_complete: datetime | None = None,
        fail_reason: str | None = None,
        *,
        value: float | None = None,
    ) -> None:
        if value is not None:
            if values is not None:
                raise ConfigError(
                    "give a trial either value= (one objective) or values= (a sequence), "
                    "not both.",
                    field="value",
                )
            values = (value,)
        self.__dict__.update(  # as a frozen dataclass sets its fields, without __setattr__
            trial_id=trial_id,
            number=number,
            state=state,
            values=values if values is None or type(values) is tuple else tuple(values),
            params=_read_only(params),
            distributions=_read_only(distributions),
            intermediate_values=_read_only(intermediate_values),
            user_attrs=_read_only(user_attrs),
            system_attrs=_read_only(system_attrs),
            datetime_start=datetime_start,
            datetime_complete=datetime_complete,
            fail_reason=fail_reason,
        )

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
    def _trial_id(self) -> int:
        """Optuna's spelling of :attr:`trial_id`, which scripts read."""
        return self.trial_id

    @property
    def duration(self) -> timedelta | None:
        """The time between start and completion, or None while running."""
        if self.datetime_start is None or self.datetime_complete is None:
            return None
        return self.datetime_complete - self.datetime_start

    @property
    def last_step(self) -> int | None:
        return max(self.intermediate_values) if self.intermediate_values else None

    @property
    def constraints(self) -> dict[str, float]:
        """The stored constraint values, each ``<= 0`` when satisfied: those set as a list by
        position (``"0"``, ``"1"``, ...), then the named ones; empty when the trial has none."""
        return named_constraints(self.system_attrs, self.number)

    # The define-by-run interface, answered from what the trial ran with ---------------

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        value: float = self._given(name, FloatDistribution(low, high, log=log, step=step))
        return value

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        value: int = self._given(name, IntDistribution(low, high, log=log, step=step))
        return value

    def suggest_categorical(self, name: str, choices: Sequence[JsonScalar]) -> Any:
        return self._given(name, CategoricalDistribution(tuple(choices)))

    def _given(self, name: str, distribution: Distribution) -> Any:
        return given_value(self.params, self.distributions, name, distribution, self._label())

    def report(self, value: float, step: int) -> None:
        """Ignored: a record's intermediate values are those it was stored with."""

    def should_prune(self) -> bool:
        """False: a re-run of a stored configuration runs to the end."""
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        """Add a user attribute to a trial being made for ``study.add_trial`` (number -1, as
        :func:`create_trial` makes it), which nothing else holds yet.

        A record a study holds never changes, so that the samplers caching it and the storage
        it came from agree: there the call is ignored, with a warning.
        """
        if self.number < 0:
            # Replaces the field with a new read-only mapping: the frozen dataclass refuses
            # setattr, and this record is not shared with any storage or sampler yet.
            self.__dict__["user_attrs"] = freeze({**self.user_attrs, key: as_json(key, value)})
            return
        warnings.warn(
            f"trial {self.number} is a record a study holds, which never changes: the user "
            f"attribute {key!r} is not kept.",
            stacklevel=2,
        )

    def _label(self) -> str:
        """How messages name the trial: by number once a study holds it."""
        return f"trial {self.number}" if self.number >= 0 else "a trial not added to a study"

    def __getstate__(self) -> dict[str, Any]:
        """Plain dicts for the read-only views, which can be neither pickled nor deep-copied:
        scripts save the best trial, or keep a copy of it before re-running it."""
        return {
            name: dict(value) if name in _MAPPINGS else value
            for name, value in self.__dict__.items()
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(
            {name: freeze(value) if name in _MAPPINGS else value for name, value in state.items()}
        )

    def __lt__(self, other: Any) -> bool:
        if not isinstance(other, TrialRecord):
            return NotImplemented
        return self.number < other.number

    def __le__(self, other: Any) -> bool:
        if not isinstance(other, TrialRecord):
            return NotImplemented
        return self.number <= other.number


def _read_only(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """``mapping`` itself if already read-only (as storages pass it), else a read-only copy."""
    return mapping if type(mapping) is MappingProxyType else freeze(mapping)


def freeze(mapping: Mapping[Any, Any] | None) -> Mapping[Any, Any]:
    """A read-only view of a fresh copy, so the record cannot be changed through the original."""
    return MappingProxyType(dict(mapping)) if mapping else _EMPTY


@overload
def utc_from_timestamp(seconds: float) -> datetime: ...


@overload
def utc_from_timestamp(seconds: None) -> None: ...


def utc_from_timestamp(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc)
