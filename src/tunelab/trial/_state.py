"""The life cycle of a trial."""

from __future__ import annotations

import enum


class TrialState(str, enum.Enum):
    """Life cycle of a trial: WAITING (enqueued) -> RUNNING -> COMPLETE | PRUNED | FAIL."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"

    @property
    def is_finished(self) -> bool:
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
