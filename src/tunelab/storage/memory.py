"""In-memory storage: fastest, lives as long as the process. The default without a URL."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from tunelab.exceptions import DuplicatedStudyError, StudyNotFoundError, TrialFinishedError
from tunelab.space import Distribution
from tunelab.storage.base import (
    BaseStorage,
    StudyInfo,
    StudySummary,
    as_directions,
    best_of,
    check_study_name,
    stale_reason,
)
from tunelab.trial import TrialRecord, TrialState, freeze, utc_from_timestamp


@dataclass
class _TrialRow:
    trial_id: int
    study_id: int
    number: int
    state: TrialState
    start: float | None
    system_attrs: dict[str, Any]
    user_attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    intermediate: dict[int, float] = field(default_factory=dict)
    values: tuple[float, ...] | None = None
    fail_reason: str | None = None
    complete: float | None = None
    heartbeat: float | None = None
    record: TrialRecord | None = None

    def snapshot(self) -> TrialRecord:
        if self.record is not None:
            return self.record
        record = TrialRecord(
            trial_id=self.trial_id,
            number=self.number,
            state=self.state,
            values=self.values,
            params=freeze(self.params),
            distributions=freeze(self.distributions),
            intermediate_values=freeze(self.intermediate),
            user_attrs=freeze(self.user_attrs),
            system_attrs=freeze(self.system_attrs),
            datetime_start=utc_from_timestamp(self.start),
            datetime_complete=utc_from_timestamp(self.complete),
            fail_reason=self.fail_reason,
        )
        if self.state.is_finished():
            self.record = record
        return record


@dataclass
class _StudyRow:
    info: StudyInfo
    trials: list[_TrialRow] = field(default_factory=list)
    system_attrs: dict[str, Any] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)

    def info_now(self) -> StudyInfo:
        """The study with its attributes as they are now, frozen."""
        return dataclasses.replace(
            self.info, system_attrs=freeze(self.system_attrs), user_attrs=freeze(self.user_attrs)
        )


class InMemoryStorage(BaseStorage):
    """Keeps everything in Python objects, guarded by one lock for threaded workers."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._studies: dict[int, _StudyRow] = {}
        self._names: dict[str, int] = {}
        self._trials: dict[int, _TrialRow] = {}
        self._study_ids = itertools.count(1)
        self._trial_ids = itertools.count(1)

    def create_study(
        self, name: str, directions: tuple[str, ...], metric_names: tuple[str, ...] | None
    ) -> StudyInfo:
        check_study_name(name)
        with self._lock:
            if name in self._names:
                raise DuplicatedStudyError(
                    f"a study named {name!r} already exists; load it with load_if_exists=True "
                    "or choose another name."
                )
            study_id = next(self._study_ids)
            info = StudyInfo(
                study_id,
                name,
                as_directions(directions),
                metric_names,
                datetime.now(timezone.utc),
                system_attrs={},
                user_attrs={},
            )
            self._studies[study_id] = _StudyRow(info)
            self._names[name] = study_id
            return info

    def get_study(self, name: str) -> StudyInfo:
        with self._lock:
            if name not in self._names:
                raise StudyNotFoundError(f"no study named {name!r} in this in-memory storage.")
            return self._studies[self._names[name]].info_now()

    def delete_study(self, study_id: int) -> None:
        with self._lock:
            row = self._studies.pop(study_id)
            del self._names[row.info.name]
            for trial in row.trials:
                del self._trials[trial.trial_id]

    def list_studies(self) -> list[StudySummary]:
        with self._lock:
            return [self._summary(row) for row in self._studies.values()]

    @staticmethod
    def _summary(row: _StudyRow) -> StudySummary:
        counts = {state: 0 for state in TrialState}
        for trial in row.trials:
            counts[trial.state] += 1
        best = best_of(
            (t.values[0] for t in row.trials if t.state is TrialState.COMPLETE and t.values),
            row.info.directions[0],
        )
        starts = [t.start for t in row.trials if t.start is not None]
        info = row.info_now()
        return StudySummary(
            info.name,
            info.directions,
            counts,
            best,
            info.created_at,
            info.study_id,
            info.user_attrs,
            info.system_attrs,
            utc_from_timestamp(min(starts)) if starts else None,
        )

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._studies[study_id].system_attrs[key] = value

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._studies[study_id].user_attrs[key] = value

    def create_trial(
        self,
        study_id: int,
        state: TrialState = TrialState.RUNNING,
        system_attrs: Mapping[str, Any] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> TrialRecord:
        with self._lock:
            study = self._studies[study_id]
            row = _TrialRow(
                trial_id=next(self._trial_ids),
                study_id=study_id,
                number=len(study.trials),
                state=state,
                start=time.time() if state is TrialState.RUNNING else None,
                system_attrs=dict(system_attrs or {}),
                user_attrs=dict(user_attrs or {}),
            )
            row.heartbeat = row.start
            study.trials.append(row)
            self._trials[row.trial_id] = row
            return row.snapshot()

    def add_trials(self, study_id: int, records: Sequence[TrialRecord]) -> list[TrialRecord]:
        with self._lock:
            study = self._studies[study_id]
            added = []
            for record in records:
                assert record.state is not TrialState.RUNNING, "add_trials stores no running trial"
                row = _TrialRow(
                    trial_id=next(self._trial_ids),
                    study_id=study_id,
                    number=len(study.trials),
                    state=record.state,
                    start=_timestamp(record.datetime_start),
                    system_attrs=dict(record.system_attrs),
                    user_attrs=dict(record.user_attrs),
                    params=dict(record.params),
                    distributions=dict(record.distributions),
                    intermediate=dict(record.intermediate_values),
                    values=record.values,
                    fail_reason=record.fail_reason,
                    complete=_timestamp(record.datetime_complete),
                )
                study.trials.append(row)
                self._trials[row.trial_id] = row
                added.append(row.snapshot())
            return added

    def claim_waiting_trial(
        self, study_id: int, system_attrs: Mapping[str, Any] | None = None
    ) -> TrialRecord | None:
        with self._lock:
            for row in self._studies[study_id].trials:
                if row.state is TrialState.WAITING:
                    row.state = TrialState.RUNNING
                    row.start = row.heartbeat = time.time()
                    row.system_attrs.update(system_attrs or {})
                    return row.snapshot()
            return None

    def _running(self, trial_id: int, what: str) -> _TrialRow:
        row = self._trials[trial_id]
        if row.state is not TrialState.RUNNING:
            raise TrialFinishedError(
                f"trial {row.number} is {row.state.name}, not RUNNING; cannot {what}."
            )
        return row

    def set_trial_params(
        self, trial_id: int, params: Mapping[str, Any], distributions: Mapping[str, Distribution]
    ) -> None:
        with self._lock:
            row = self._running(trial_id, "set parameters")
            row.params = dict(params)
            row.distributions = dict(distributions)

    def set_intermediate_value(self, trial_id: int, step: int, value: float) -> None:
        with self._lock:
            row = self._running(trial_id, "report")
            row.intermediate[step] = value
            row.heartbeat = time.time()

    def record_heartbeat(self, trial_id: int) -> None:
        with self._lock:
            row = self._trials[trial_id]
            if row.state is TrialState.RUNNING:
                row.heartbeat = time.time()

    def fail_stale_trials(self, study_id: int, grace_period: float) -> list[TrialRecord]:
        cutoff = time.time() - grace_period
        with self._lock:
            stale = [
                row
                for row in self._studies[study_id].trials
                if row.state is TrialState.RUNNING and (row.heartbeat or 0.0) < cutoff
            ]
            for row in stale:
                row.state, row.fail_reason = TrialState.FAIL, stale_reason(row.heartbeat)
                row.complete = time.time()
            return [row.snapshot() for row in stale]

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._running(trial_id, "set a user attribute").user_attrs[key] = value

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        with self._lock:
            self._running(trial_id, "set a system attribute").system_attrs[key] = value

    def finish_trial(
        self,
        trial_id: int,
        state: TrialState,
        values: tuple[float, ...] | None = None,
        fail_reason: str | None = None,
        params: tuple[Mapping[str, Any], Mapping[str, Distribution]] | None = None,
    ) -> TrialRecord:
        assert state.is_finished()
        with self._lock:
            row = self._running(trial_id, f"set it {state.name}")
            if params is not None:
                row.params, row.distributions = dict(params[0]), dict(params[1])
            row.state, row.values, row.fail_reason = state, values, fail_reason
            row.complete = time.time()
            return row.snapshot()

    def get_trial(self, trial_id: int) -> TrialRecord:
        with self._lock:
            return self._trials[trial_id].snapshot()

    def get_trials(
        self, study_id: int, states: Iterable[TrialState] | None = None
    ) -> list[TrialRecord]:
        wanted = None if states is None else frozenset(states)
        with self._lock:
            return [
                row.snapshot()
                for row in self._studies[study_id].trials
                if wanted is None or row.state in wanted
            ]

    def count_trials(self, study_id: int, states: Iterable[TrialState] | None = None) -> int:
        wanted = None if states is None else frozenset(states)
        with self._lock:
            trials = self._studies[study_id].trials
            return len(trials) if wanted is None else sum(t.state in wanted for t in trials)


def _timestamp(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
