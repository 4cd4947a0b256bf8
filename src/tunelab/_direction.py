"""Whether an objective is minimized or maximized, with Optuna's members; the objectives'
names.

Scripts written for Optuna compare ``study.direction`` with ``StudyDirection.MAXIMIZE``;
tunelab's own code, its study files and its storage speak of ``"maximize"``. A member is
that very string, so both comparisons hold, it is stored and printed as the word, and
``StudyDirection.MAXIMIZE`` is accepted wherever a direction is given.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from tunelab.exceptions import ConfigError


class StudyDirection(str, enum.Enum):
    """MINIMIZE or MAXIMIZE; NOT_SET only names a direction that was never given."""

    NOT_SET = "not_set"
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


def check_metric_names(metric_names: Sequence[str], n_objectives: int) -> tuple[str, ...]:
    """One distinct name per objective, or ConfigError."""
    names = tuple(metric_names)
    if isinstance(metric_names, str) or len(names) != n_objectives:
        raise ConfigError(
            f"metric_names={metric_names!r} must give one name per objective ({n_objectives}).",
            field="metric_names",
        )
    if len(set(names)) != len(names):
        raise ConfigError(
            f"metric_names={list(names)!r} has duplicates; name each objective once.",
            field="metric_names",
        )
    return names
