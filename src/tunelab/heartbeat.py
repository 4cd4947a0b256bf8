"""Heartbeats: trials whose worker died are failed, and retried, instead of running forever.

A study created with ``heartbeat_interval`` keeps the setting in its storage, so that every
process and machine working on it follows the same rule. While a trial runs, a thread of its
worker writes a heartbeat every ``heartbeat_interval`` seconds, whatever the objective is
doing: a slow trial is alive as long as its process is. The RUNNING trials whose last heartbeat
is older than ``grace_period`` (the worker was killed, or its machine lost) are failed whenever
a process starts a trial, and every interval while :meth:`Study.optimize` runs
(:class:`StaleTrialWatch`), so that a trial left behind is failed even when no other trial
starts after it. While ``max_retries`` allows, each is queued again with its parameters; a
trial whose training left a checkpoint (``checkpoint_step``, written by the training engine)
continues from it rather than from the start. A process that started a worker knows when it
dies without waiting for its silence: it fails that worker's trials at once
(:func:`fail_trials_of_dead_worker`), with the same retries.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunelab._attrs import (
    CHECKPOINT_STEP_ATTR,
    FIXED_PARAMS_ATTR,
    HEARTBEAT_ATTR,
    PBT_ATTR,
    RESUME_ATTR,
    RETRY_ATTR,
)
from tunelab._options import check_int, check_number
from tunelab.exceptions import ConfigError, TrialFinishedError
from tunelab.trial import Resume, TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_PLAN_ATTRS = (FIXED_PARAMS_ATTR, RESUME_ATTR, PBT_ATTR)  # set when a trial is created
_WHERE = "create_study"

logger = logging.getLogger("tunelab")


@dataclass(frozen=True)
class HeartbeatSettings:
    """How often running trials beat, how long a silence fails one, and how often a trial
    failed that way is queued again."""

    interval: float
    grace_period: float
    max_retries: int

    @classmethod
    def checked(
        cls, interval: Any, grace_period: Any, max_retries: Any, where: str = _WHERE
    ) -> HeartbeatSettings | None:
        """The settings from the arguments of ``where`` (``create_study``); None without an
        interval."""
        if interval is None:
            if grace_period is not None or max_retries:
                raise ConfigError(
                    f"{where}: grace_period and max_retries work through heartbeats; give "
                    "heartbeat_interval too, e.g. heartbeat_interval=10.",
                    field="heartbeat_interval",
                )
            return None
        interval = check_number(
            where, "heartbeat_interval", interval, 0.0, math.inf, "seconds, e.g. 10."
        )
        grace = 2.0 * interval if grace_period is None else check_number(
            where, "grace_period", grace_period, interval, math.inf,
            "seconds of silence before a running trial is failed; more than the interval.",
        )
        retries = check_int(where, "max_retries", max_retries, 0, "e.g. 1 retries once.")
        return cls(interval, grace, retries)

    def to_json(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "grace_period": self.grace_period,
            "max_retries": self.max_retries,
        }

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any]) -> HeartbeatSettings | None:
        data = attrs.get(HEARTBEAT_ATTR)
        return None if data is None else cls(**data)


class Heartbeat:
    """A thread that keeps one running trial's heartbeat fresh while the block runs, and
    writes the parameters suggested since the last beat (so that a retry gets them even when
    the worker dies before the trial reports)."""

    def __init__(self, trial: Trial, interval: float) -> None:
        self._storage = trial.study.storage
        self._trial = trial
        self._trial_id = trial.trial_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="tunelab-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._trial._flush_params()
                self._storage.record_heartbeat(self._trial_id)
            except Exception:  # a storage hiccup must not kill the trial; the next beat retries
                logger.warning(
                    "Heartbeat of trial id %d not written", self._trial_id, exc_info=True
                )


def recover_stale_trials(study: Study, settings: HeartbeatSettings) -> list[TrialRecord]:
    """Fail the study's trials whose heartbeats stopped and queue retries; return the failed."""
    failed = study.storage.fail_stale_trials(study.study_id, settings.grace_period)
    _queue_retries(study, failed, settings.max_retries)
    return failed


def fail_trials_of_dead_worker(
    study: Study, running: Iterable[TrialRecord], reason: str
) -> list[TrialRecord]:
    """Fail the ``running`` trials of a worker process known to be dead, with ``reason``, and
    queue retries as the study's ``max_retries`` allows; return the retries."""
    failed = []
    for record in running:
        try:
            failed.append(
                study.storage.finish_trial(record.trial_id, TrialState.FAIL, fail_reason=reason)
            )
        except TrialFinishedError:
            continue  # another process failed it first, for its silence, and retried it
    retries = 0 if study.heartbeat is None else study.heartbeat.max_retries
    return _queue_retries(study, failed, retries)


def _queue_retries(
    study: Study, failed: list[TrialRecord], max_retries: int
) -> list[TrialRecord]:
    """Queue each failed trial again while its retries last; the queued trials."""
    queued = []
    for record in failed:
        logger.warning("Trial %d failed: %s.", record.number, record.fail_reason)
        retry = dict(record.system_attrs.get(RETRY_ATTR, {"of": record.number, "count": 0}))
        if retry["count"] >= max_retries:
            continue
        retry["count"] += 1
        queued.append(
            study.storage.create_trial(
                study.study_id, TrialState.WAITING, system_attrs=_retry_attrs(record, retry)
            )
        )
    return queued


class StaleTrialWatch:
    """While the block runs, a thread fails (and retries) the study's silent trials every
    heartbeat interval; nothing for a study without heartbeats.

    A process that starts no trial for a while (the parent of worker processes, a worker in a
    long trial) would otherwise leave a dead worker's trial RUNNING until the next one starts.
    """

    def __init__(self, study: Study) -> None:
        self._study = study
        self._settings = study.heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="tunelab-recovery", daemon=True)

    def __enter__(self) -> StaleTrialWatch:
        if self._settings is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()

    def _watch(self) -> None:
        assert self._settings is not None
        while not self._stop.wait(self._settings.interval):
            try:
                recover_stale_trials(self._study, self._settings)
            except Exception:  # a storage hiccup must not stop the run; the next round retries
                logger.warning("Silent trials not checked", exc_info=True)


def _retry_attrs(record: TrialRecord, retry: dict[str, int]) -> dict[str, Any]:
    """A queued trial with ``record``'s parameters and plan (what it continues, its population
    member), continuing from its own checkpoint if it left one."""
    attrs = {key: record.system_attrs[key] for key in _PLAN_ATTRS if key in record.system_attrs}
    attrs[FIXED_PARAMS_ATTR] = {**attrs.get(FIXED_PARAMS_ATTR, {}), **record.params}
    step = record.system_attrs.get(CHECKPOINT_STEP_ATTR)
    if step is not None:
        before = Resume.of(record)
        previous, root = (before.previous, before.root) if before else (record.number,) * 2
        attrs[RESUME_ATTR] = Resume(record.number, record.trial_id, step, previous, root).to_json()
    attrs[RETRY_ATTR] = retry
    return attrs


