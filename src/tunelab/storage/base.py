"""The storage contract every backend fulfils.

The storage is the single source of truth of a study. It holds JSON only. A finished trial
never changes, which lets :meth:`BaseStorage.get_trials` keep finished trials in a cache and
fetch only what is new or still running.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunelab._direction import StudyDirection
from tunelab.exceptions import StorageError, TunelabError
from tunelab.space import Distribution
from tunelab.trial import TrialRecord, TrialState, utc_from_timestamp

if TYPE_CHECKING:
    from tunelab.heartbeat import HeartbeatSettings

_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


def check_study_name(name: str) -> str:
    if not isinstance(name, str) or not _STUDY_NAME.match(name):
        raise StorageError(
            f"study name {name!r} is not valid: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def as_directions(directions: Iterable[str]) -> tuple[StudyDirection, ...]:
    """Directions as stored ("minimize", "maximize") as the members a study hands out."""
    return tuple(StudyDirection(direction) for direction in directions)


@dataclass(frozen=True)
class StudyInfo:
    study_id: int
    name: str
    directions: tuple[StudyDirection, ...]
    metric_names: tuple[str, ...] | None
    created_at: datetime
    system_attrs: Mapping[str, Any]
    user_attrs: Mapping[str, Any]


@dataclass(frozen=True)
class StudySummary:
    """What a listing of studies shows: counts per state and the best value, the study's
    attributes, and the fields of Optuna's summary (``study_name``, ``direction``,
    ``datetime_start``: when its first trial started; ``best_trial``, which only
    ``get_all_study_summaries`` looks up)."""

    name: str
    directions: tuple[StudyDirection, ...]
    counts: Mapping[TrialState, int]
    best_value: float | None
    created_at: datetime
    study_id: int
    user_attrs: Mapping[str, Any]
    system_attrs: Mapping[str, Any]
    datetime_start: datetime | None
    best_trial: TrialRecord | None = None

    @property
    def n_trials(self) -> int:
        return sum(self.counts.values())

    @property
    def study_name(self) -> str:
        return self.name

    @property
    def direction(self) -> StudyDirection:
        """The direction of a single-objective study."""
        if len(self.directions) != 1:
            raise TunelabError(
                f"study {self.name!r} has {len(self.directions)} objectives; use .directions."
            )
        return self.directions[0]


class BaseStorage(ABC):
    """Where studies and trials live. Every method is safe to call from several threads."""

    default_heartbeat: HeartbeatSettings | None = None
    """Heartbeat settings that ``create_study`` and ``load_study`` store with a study opened
    through this object when the call gives none (Optuna's ``RDBStorage(heartbeat_interval=
    ...)`` sets them); None leaves each study's own."""

    @abstractmethod
    def create_study(
        self, name: str, directions: tuple[str, ...], metric_names: tuple[str, ...] | None
    ) -> StudyInfo:
        """Create a study; :class:`DuplicatedStudyError` if the name is taken."""

    @abstractmethod
    def get_study(self, name: str) -> StudyInfo:
        """The study with that name; :class:`StudyNotFoundError` if there is none."""

    @abstractmethod
    def delete_study(self, study_id: int) -> None:
        """Remove a study and all its trials."""

    @abstractmethod
    def list_studies(self) -> list[StudySummary]:
        """Every study, oldest first."""

    @abstractmethod
    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        """Record a JSON value on the study (used by samplers and the CLI)."""

    @abstractmethod
    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Record a JSON value of the user's on the study (``study.set_user_attr``)."""

    @abstractmethod
    def create_trial(
        self,
        study_id: int,
        state: TrialState = TrialState.RUNNING,
        system_attrs: Mapping[str, Any] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        """Add a trial with the next free number (numbers are unique across processes)."""

    @abstractmethod
    def add_trials(self, study_id: int, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        """Store whole trials made elsewhere (``study.add_trial``, a copied or imported study),
        each with the next free number and everything else as given: state (finished or
        WAITING), values, parameters, intermediate values, attributes, times and failure.
        One write for all of them; the stored records, in order."""

    @abstractmethod
    def claim_waiting_trial(
        self, study_id: int, system_attrs: Mapping[str, Any] | None = None
    ) -> TrialRecord | None:
        """Atomically move the oldest WAITING trial to RUNNING, adding ``system_attrs`` to its
        own; None if there is none.

        Each waiting trial is handed out exactly once, however many processes ask.
        """

    def start_trial(
        self, study_id: int, system_attrs: Mapping[str, Any] | None = None
    ) -> TrialRecord:
        """The next trial to run, with ``system_attrs``: an enqueued one if any, else a new one."""
        return self.claim_waiting_trial(study_id, system_attrs) or self.create_trial(
            study_id, system_attrs=system_attrs
        )

    @abstractmethod
    def set_trial_params(
        self,
        trial_id: int,
        params: Mapping[str, Any],
        distributions: Mapping[str, Distribution],
    ) -> None:
        """Replace the parameters of a running trial."""

    @abstractmethod
    def set_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        """Store the value reported at ``step`` (a running trial only)."""

    @abstractmethod
    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Attach a JSON value to a running trial."""

    @abstractmethod
    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        """Attach a JSON value that tunelab itself keeps with a running trial (e.g. telemetry)."""

    @abstractmethod
    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None = None,
        fail_reason: str | None = None,
        params: tuple[Mapping[str, Any], Mapping[str, Distribution]] | None = None,
    ) -> TrialRecord:
        """Move a running trial to a finished state in one write; the record is then frozen.

        :class:`TrialFinishedError` if the trial is not running.
        """

    @abstractmethod
    def get_trial(self, trial_id: int) -> TrialRecord:
        """The current record of one trial."""

    @abstractmethod
    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        """Trials of a study in number order; finished ones come from a cache."""

    @abstractmethod
    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        """How many trials the study has (in the given states)."""

    @abstractmethod
    def record_heartbeat(self, trial_id: int) -> None:
        """Note that the worker running ``trial_id`` is alive (nothing if it is finished)."""

    @abstractmethod
    def fail_stale_trials(self, study_id: int, grace_period: float) -> list[TrialRecord]:
        """FAIL every RUNNING trial whose last heartbeat (or start) is more than
        ``grace_period`` seconds old, and return them; each is failed by exactly one caller,
        however many processes ask at once."""

    # Not abstract: a storage that holds no connections has nothing to release.
    def close(self) -> None:  # noqa: B027
        """Release connections; the storage must not be used afterwards."""

    def files(self) -> tuple[Path, ...]:
        """The files on this machine that the storage lives in, which no output may replace;
        none for a storage in memory or on a server."""
        return ()


def stale_reason(last_heartbeat: float | None) -> str:
    """Why a trial whose heartbeats stopped is failed."""
    when = (
        "none since it started"
        if last_heartbeat is None
        else f"the last at {utc_from_timestamp(last_heartbeat):%H:%M:%S} UTC"
    )
    return f"its worker stopped sending heartbeats ({when}); it was presumably killed"


def best_of(values: Iterable[float | None], direction: str) -> float | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return max(present) if direction == "maximize" else min(present)
