"""What the study figures share: which number they plot, which trials have it, and one error.

One rule holds for every figure: trials a figure cannot use (running, failed, pruned without
a value) are left out, and a figure left with nothing to draw raises
:class:`NothingToPlotError`, whose message says what is missing and how to get it. An empty
figure would look like a plotting bug; an error says what to do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError, NothingToPlotError
from tunelab.quantities import labelled
from tunelab.registry import did_you_mean
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState

TargetSpec = Callable[[TrialRecord], float] | int | str | None
"""Which number to plot: None (the objective of a single-objective study), an objective's
index or metric name, or a callable on a trial record."""

STATE_COLORS = {
    TrialState.COMPLETE: "#1f77b4",
    TrialState.PRUNED: "#ff7f0e",
    TrialState.FAIL: "#d62728",
    TrialState.RUNNING: "#2ca02c",
    TrialState.WAITING: "#7f7f7f",
}
INFEASIBLE_COLOR = "#b0b0b0"
SEQUENTIAL_COLORSCALE = "Blues"


@dataclass(frozen=True)
class Target:
    """The number a figure plots for each trial, its axis label, and which side is better
    (None for a user's callable, whose better side tunelab cannot know)."""

    name: str
    value: Callable[[TrialRecord], float]
    direction: str | None


def resolve_target(
    study: Study, target: TargetSpec, target_name: str | None, figure: str
) -> Target:
    """The :class:`Target` that ``target`` names; a ConfigError naming ``target`` when a
    multi-objective study gets none or an objective that does not exist."""
    if callable(target):
        return Target(target_name or "Objective value", target, None)
    if target is None:
        if len(study.directions) > 1:
            raise ConfigError(
                f"{figure}: study {study.study_name!r} has {len(study.directions)} objectives "
                f"{list(study.objective_names)}; choose the one to plot with target=<index or "
                "name>, or pass a callable such as target=lambda trial: trial.values[0].",
                field="target",
            )
        index = 0
    else:
        index = objective_index(study, target, "target", figure)

    def objective_value(record: TrialRecord) -> float:
        return record.values[index]  # type: ignore[index]

    name = target_name or objective_label(study, index)
    return Target(name, objective_value, study.directions[index])


def objective_index(study: Study, key: Any, argument: str, figure: str) -> int:
    """The index of the objective that ``key`` (an index or a metric name) names."""
    names = study.objective_names
    if isinstance(key, int) and not isinstance(key, bool) and -len(names) <= key < len(names):
        return key % len(names)
    if isinstance(key, str) and key in names:
        return names.index(key)
    hint = did_you_mean(key, names) if isinstance(key, str) else ""
    raise ConfigError(
        f"{figure}: {argument}={key!r} is not an objective of study {study.study_name!r}"
        f"{hint}; use an index from 0 to {len(names) - 1} or one of {list(names)}.",
        field=argument,
    )


def objective_label(study: Study, index: int) -> str:
    """The metric name if the study has them (with its unit, see tunelab.quantities), else a
    readable generic label."""
    if study.metric_names:
        return labelled(study.metric_names[index])
    return "Objective value" if len(study.directions) == 1 else f"Objective {index}"


def target_points(study: Study, target: Target) -> list[tuple[TrialRecord, float]]:
    """Each COMPLETE trial with its target value, in trial-number order."""
    points = []
    for record in study.get_trials((TrialState.COMPLETE,)):
        value = target.value(record)
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ConfigError(
                f"target returned {value!r} ({type(value).__name__}) for trial {record.number}; "
                "it must return a number.",
                field="target",
            )
        points.append((record, float(value)))
    return points


def completed_points(
    study: Study, target: TargetSpec, target_name: str | None, figure: str
) -> tuple[Target, list[tuple[TrialRecord, float]]]:
    """The target and each COMPLETE trial with its value, for a figure that needs at least
    one such trial; NothingToPlotError when there is none."""
    objective = resolve_target(study, target, target_name, figure)
    points = target_points(study, objective)
    if not points:
        raise no_completed_trials(study, figure)
    return objective, points


def nothing_to_plot(
    figure: str, missing: str, fix: str, study: Study | None = None
) -> NothingToPlotError:
    """The error for a figure left with nothing to draw: what is missing, what the study
    holds instead, and how to get what is missing."""
    if study is not None:
        counts = Counter(record.state.name for record in study.trials)
        held = ", ".join(f"{count} {state}" for state, count in sorted(counts.items()))
        missing = f"study {study.study_name!r} has {missing} (it holds {held or 'no trials'})"
    return NothingToPlotError(f"{figure}: {missing}; {fix}.")


def no_completed_trials(study: Study, figure: str) -> NothingToPlotError:
    return nothing_to_plot(
        figure,
        "no COMPLETE trial",
        "run study.optimize(objective, n_trials=...) until at least one trial completes",
        study,
    )


def as_studies(study: Study | Sequence[Study]) -> list[Study]:
    """The studies a figure compares: one, or each of a sequence."""
    return [study] if isinstance(study, Study) else list(study)


def no_completed_in_any(studies: Sequence[Study], figure: str) -> NothingToPlotError:
    """The error for a figure over ``studies`` none of which has a COMPLETE trial."""
    if len(studies) == 1:
        return no_completed_trials(studies[0], figure)
    return nothing_to_plot(
        figure,
        f"none of the studies {[each.study_name for each in studies]} has a COMPLETE trial",
        "run study.optimize(objective, n_trials=...) on them first",
    )


def split_feasible(
    points: Sequence[tuple[TrialRecord, float]],
) -> tuple[list[tuple[TrialRecord, float]], list[tuple[TrialRecord, float]]]:
    """``points`` as (feasible, infeasible): a trial violating its constraints is never best."""
    feasible = [point for point in points if is_feasible(point[0])]
    infeasible = [point for point in points if not is_feasible(point[0])]
    return feasible, infeasible


def colorscale_for(direction: str | None) -> dict[str, Any]:
    """A sequential colour scale whose darkest end is the better value."""
    return {"colorscale": SEQUENTIAL_COLORSCALE, "reversescale": direction == "minimize"}


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 scale from ``low`` to ``high`` and the values they stand for.

    Plotly has no log scale for colour bars or parallel-coordinate axes, so those plot log10
    of the values and label the ticks with the values themselves.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [], []
    if math.floor(high) - math.ceil(low) >= 2:  # whole decades are the clearest ticks
        positions = [float(p) for p in range(math.ceil(low), math.floor(high) + 1)]
    else:
        positions = [float(p) for p in np.linspace(low, high, 5 if high > low else 1)]
    return positions, [f"{10.0 ** p:.3g}" for p in positions]
