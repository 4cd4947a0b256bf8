"""The life cycle of a trial, with Optuna's members and values.

Scripts written for Optuna compare states, call ``state.is_finished()`` and now and then build
a state from its number; the storage keeps the name, which reads well in a database and does
not depend on the numbering.
"""

from __future__ import annotations

import enum


class TrialState(enum.IntEnum):
    """Life cycle of a trial: WAITING (enqueued) -> RUNNING -> COMPLETE | PRUNED | FAIL."""

    RUNNING = 0
    COMPLETE = 1
    PRUNED = 2
    FAIL = 3
    WAITING = 4

    __str__ = enum.Enum.__str__  # "TrialState.COMPLETE", as Optuna prints it

    def is_finished(self) -> bool:
        """Whether the trial has ended: COMPLETE, PRUNED or FAIL."""
        return self not in (TrialState.RUNNING, TrialState.WAITING)
