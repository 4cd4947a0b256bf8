"""Optuna's RDBStorage and its heartbeat callbacks over tunelab's SQL storage."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tunelab._attrs import RETRY_ATTR
from tunelab._options import check_int
from tunelab.exceptions import ConfigError
from tunelab.heartbeat import HeartbeatSettings, recover_stale_trials
from tunelab.storage.sql import SQLStorage
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study


class RetryHeartbeatStaleTrialCallback:
    """Queue a trial whose heartbeats stopped again with its parameters, up to ``max_retry``
    times (None: without end). Give it to :class:`RDBStorage`, which turns it into the
    studies' ``max_retries``."""

    def __init__(self, max_retry: int | None = None, inherit_intermediate_values: bool = False):
        if inherit_intermediate_values:
            raise ConfigError(
                "RetryFailedTrialCallback(inherit_intermediate_values=True): a tunelab retry "
                "continues from the trial's last checkpoint, with its curve up to it, when "
                "its training saved one, and starts over otherwise; leave out "
                "inherit_intermediate_values.",
                field="inherit_intermediate_values",
            )
        hint = "e.g. 3 retries a trial three times; None retries it without end."
        self.max_retry = None if max_retry is None else check_int(
            "RetryFailedTrialCallback", "max_retry", max_retry, 0, hint
        )

    @property
    def max_retries(self) -> int:
        return sys.maxsize if self.max_retry is None else self.max_retry

    @staticmethod
    def retried_trial_number(trial: TrialRecord) -> int | None:
        """The number of the first try of the trial that ``trial`` retries; None if it is no
        retry."""
        retry = trial.system_attrs.get(RETRY_ATTR)
        return None if retry is None else int(retry["of"])


RetryFailedTrialCallback = RetryHeartbeatStaleTrialCallback  # Optuna's earlier name

StaleTrialCallback = Callable[[Any, TrialRecord], None]


class RDBStorage(SQLStorage):
    """A SQL storage (``sqlite:///file.db``, ``postgresql://...``) with Optuna's arguments.

    ``engine_kwargs`` go to SQLAlchemy's ``create_engine``. tunelab checks the schema's
    version itself and adds in place what a database from an older tunelab lacks, so
    ``skip_compatibility_check`` and ``skip_table_creation`` change nothing.
    """

    def __init__(
        self,
        url: str,
        engine_kwargs: Mapping[str, Any] | None = None,
        skip_compatibility_check: bool = False,
        *,
        heartbeat_interval: float | None = None,
        grace_period: float | None = None,
        heartbeat_stale_trial_callback: StaleTrialCallback | None = None,
        failed_trial_callback: StaleTrialCallback | None = None,
        skip_table_creation: bool = False,
    ) -> None:
        retry = _retry_callback(heartbeat_stale_trial_callback or failed_trial_callback)
        if retry is not None and heartbeat_interval is None:
            raise ConfigError(
                "RDBStorage: failed_trial_callback retries the trials whose heartbeats "
                "stopped; give heartbeat_interval too, e.g. heartbeat_interval=60.",
                field="heartbeat_interval",
            )
        self.default_heartbeat = HeartbeatSettings.checked(
            heartbeat_interval, grace_period, 0 if retry is None else retry.max_retries,
            where="RDBStorage",
        )
        super().__init__(url, engine_kwargs)


def _retry_callback(callback: Any) -> RetryHeartbeatStaleTrialCallback | None:
    if callback is None or isinstance(callback, RetryHeartbeatStaleTrialCallback):
        return callback
    raise ConfigError(
        f"RDBStorage: failed_trial_callback={callback!r} is a function of your own, which "
        "tunelab does not call; it retries the trials whose heartbeats stopped with "
        "failed_trial_callback=RetryFailedTrialCallback(max_retry=n).",
        field="failed_trial_callback",
    )


def fail_stale_trials(study: Study) -> None:
    """Fail (and retry, as the study's settings allow) its running trials whose heartbeats
    stopped; nothing for a study without heartbeats. ``optimize`` and ``ask`` do this on
    their own."""
    if study.heartbeat is not None:
        recover_stale_trials(study, study.heartbeat)
