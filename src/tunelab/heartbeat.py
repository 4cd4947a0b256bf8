"""Heartbeats: trials whose worker died are failed, and retried, instead of running forever.

A study created with ``heartbeat_interval`` keeps the setting in its storage, so that every
process and machine working on it follows the same rule. While a trial runs, a thread of its
worker writes a heartbeat every ``heartbeat_interval`` seconds, whatever the objective is
doing: a slow trial is alive as long as its process is. Whenever a process starts a trial it
first fails the RUNNING trials whose last heartbeat is older than ``grace_period`` (the worker
was killed, or its machine lost), and, while ``max_retries`` allows, queues each again with
its parameters; a trial whose training left a checkpoint (``checkpoint_step``, written by the
training engine) continues from it rather than from the start.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
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
from tunelab.exceptions import ConfigError
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
        cls, interval: Any, grace_period: Any, max_retries: Any
    ) -> HeartbeatSettings | None:
        """The settings from ``create_study``'s arguments; None without an interval."""
        if interval is None:
            if grace_period is not None or max_retries:
                raise ConfigError(
                    f"{_WHERE}: grace_period and max_retries work through heartbeats; give "
                    "heartbeat_interval too, e.g. heartbeat_interval=10.",
                    field="heartbeat_interval",
                )
            return None
        interval = check_number(
            _WHERE, "heartbeat_interval", interval, 0.0, math.inf, "seconds, e.g. 10."
        )
        grace = 2.0 * interval if grace_period is None else check_number(
            _WHERE, "grace_period", grace_period, interval, math.inf,
            "seconds of silence before a running trial is failed; more than the interval.",
        )
        retries = check_int(_WHERE, "max_retries", max_retries, 0, "e.g. 1 retries once.")
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
    for record in failed:
        logger.warning("Trial %d failed: %s.", record.number, record.fail_reason)
        retry = dict(record.system_attrs.get(RETRY_ATTR, {"of": record.number, "count": 0}))
        if retry["count"] >= settings.max_retries:
            continue
        retry["count"] += 1
        study.storage.create_trial(
            study.study_id, TrialState.WAITING, system_attrs=_retry_attrs(record, retry)
        )
    return failed


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


