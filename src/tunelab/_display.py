"""How the command line and the report write numbers, parameters, durations and times for
people, and which trials they show as best."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tunelab.constraints import is_feasible
from tunelab.quantities import labelled
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def param_value(value: Any) -> str:
    return number(value) if isinstance(value, float) else str(value)


def params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={param_value(value)}" for name, value in params.items())


def duration(length: float | timedelta | None) -> str:
    """A length of time, given in seconds or as a timedelta, as people write it."""
    if length is None:
        return "-"
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    if seconds < 60:
        return f"{seconds:.2f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def moment(when: datetime) -> str:
    """A time in the local zone of the machine that writes the report, with its UTC offset:
    the report may be read in another zone, and the offset keeps it unambiguous."""
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def ranked_trials(study: Study) -> list[TrialRecord]:
    """The best trials first: completed trials that satisfy their constraints, by value for one
    objective; for several, the Pareto front ordered by its first objective, best first, then
    the next."""
    if len(study.directions) > 1:
        signs = [-1.0 if d == "maximize" else 1.0 for d in study.directions]
        return sorted(
            study.best_trials,
            key=lambda r: (tuple(s * v for s, v in zip(signs, r.values or ())), r.number),
        )
    sign = -1.0 if study.direction == "maximize" else 1.0
    completed = [
        r for r in study.get_trials((TrialState.COMPLETE,)) if r.values and is_feasible(r)
    ]
    return sorted(completed, key=lambda r: (sign * r.values[0], r.number))  # type: ignore[index]


def no_best_text(study: Study) -> str:
    """Why there is no best trial to show: none completed, or none that completed meets its
    constraints (a task's limits, say)."""
    if study.get_trials((TrialState.COMPLETE,)):
        return "No completed trial meets its constraints yet"
    return "No completed trial yet"


def objectives_text(study: Study) -> str:
    return ", ".join(f"{d} {labelled(n)}" for d, n in zip(study.directions, study.objective_names))


def objective_headings(study: Study) -> list[str]:
    """The objectives' names as table headings: with their units (see tunelab.quantities)."""
    return [labelled(name) for name in study.objective_names]
