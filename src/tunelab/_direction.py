"""Whether an objective is minimized or maximized, with Optuna's members.

Scripts written for Optuna compare ``study.direction`` with ``StudyDirection.MAXIMIZE``;
tunelab's own code, its study files and its storage speak of ``"maximize"``. A member is
that very string, so both comparisons hold, it is stored and printed as the word, and
``StudyDirection.MAXIMIZE`` is accepted wherever a direction is given.
"""

from __future__ import annotations

import enum


class StudyDirection(str, enum.Enum):
    """MINIMIZE or MAXIMIZE; NOT_SET only names a direction that was never given."""

    NOT_SET = "not_set"
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)
