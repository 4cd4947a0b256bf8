"""The Pareto front of a multi-objective study, in two or three dimensions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError
from tunelab.study import Study
from tunelab.study._ranking import pareto_front
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import (
    INFEASIBLE_COLOR,
    STATE_COLORS,
    no_completed_trials,
    objective_index,
    objective_label,
)
from tunelab.viz._plotly import go

FIGURE = "plot_pareto_front"
FRONT_COLOR = "#d62728"
Coordinates = Callable[[TrialRecord], Sequence[float]]


def plot_pareto_front(
    study: Study,
    *,
    target_names: Sequence[str] | None = None,
    include_dominated_trials: bool = True,
    axis_order: Sequence[int | str] | None = None,
    targets: Coordinates | None = None,
    constraints_func: Coordinates | None = None,
) -> go.Figure:
    """The COMPLETE trials of a study with two or three objectives (a 3-D scatter for three),
    the Pareto front (``study.best_trials``) highlighted.

    The front is always the study's own, over all its objectives and directions; what the
    axes show is the objectives in ``axis_order`` (indices or metric names: two or three of
    them, required for a study with more than three objectives), or what ``targets`` returns
    for a trial (two or three numbers). Trials that violate their constraints are grey
    crosses, never on the front; ``include_dominated_trials=False`` leaves out the feasible
    trials off the front. ``constraints_func`` (a trial's constraint values, feasible when all
    are <= 0) replaces the constraints the trials stored, and the front is then that of the
    trials it finds feasible.
    """
    coordinates_of, names = _what_to_plot(study, target_names, axis_order, targets)
    completed = study.get_trials((TrialState.COMPLETE,))
    if not completed:
        raise no_completed_trials(study, FIGURE)
    coordinates = {r.number: [float(v) for v in coordinates_of(r)] for r in completed}
    names = _checked_names(names, coordinates)
    satisfied = is_feasible if constraints_func is None else _satisfies(constraints_func)
    feasible = [record for record in completed if satisfied(record)]
    on_front = {record.number for record in pareto_front(feasible, study.directions)}
    groups = [("Pareto front", [n for n in coordinates if n in on_front], {"color": FRONT_COLOR})]
    if include_dominated_trials:
        dominated = [r.number for r in feasible if r.number not in on_front]
        groups.append(("Dominated", dominated, {"color": STATE_COLORS[TrialState.COMPLETE]}))
    infeasible = [record.number for record in completed if not satisfied(record)]
    groups.append(("Infeasible", infeasible, {"color": INFEASIBLE_COLOR, "symbol": "x"}))
    figure = go.Figure()
    for name, numbers, marker in groups:
        if numbers:
            figure.add_trace(_scatter([coordinates[n] for n in numbers], numbers, name, marker))
    if len(names) == 3:
        figure.update_layout(scene={f"{a}axis_title": n for a, n in zip("xyz", names)})
    else:
        figure.update_layout(xaxis_title=names[0], yaxis_title=names[1])
    figure.update_layout(title="Pareto front")
    return figure


def _satisfies(constraints_func: Coordinates) -> Callable[[TrialRecord], bool]:
    def satisfied(record: TrialRecord) -> bool:
        return all(value <= 0.0 for value in constraints_func(record))

    return satisfied


def _what_to_plot(
    study: Study,
    target_names: Sequence[str] | None,
    axis_order: Sequence[int | str] | None,
    targets: Coordinates | None,
) -> tuple[Coordinates, list[str] | None]:
    """What to plot of a trial, and the axis names if they are known before plotting."""
    n_objectives = len(study.directions)
    if n_objectives == 1:
        raise ConfigError(
            f"{FIGURE}: study {study.study_name!r} has one objective, and a Pareto front needs "
            "two or three; use plot_optimization_history for it.",
            field="study",
        )
    if targets is not None and axis_order is not None:
        raise ConfigError(
            f"{FIGURE}: give targets or axis_order, not both; targets alone decides what the "
            "axes show.",
            field="axis_order",
        )
    if targets is not None:
        return targets, None if target_names is None else list(target_names)
    if axis_order is None and n_objectives > 3:
        raise ConfigError(
            f"{FIGURE}: study {study.study_name!r} has {n_objectives} objectives "
            f"{list(study.objective_names)}; choose two or three to plot with "
            "axis_order=[0, 1] (indices or names), or pass targets=...",
            field="axis_order",
        )
    order = range(n_objectives) if axis_order is None else axis_order
    indices = [objective_index(study, key, "axis_order", FIGURE) for key in order]
    if len(set(indices)) != len(indices):
        raise ConfigError(
            f"{FIGURE}: axis_order={list(order)!r} repeats an objective; name each once.",
            field="axis_order",
        )

    def chosen_objectives(record: TrialRecord) -> list[float]:
        return [record.values[i] for i in indices]  # type: ignore[index]

    default_names = [objective_label(study, i) for i in indices]
    return chosen_objectives, default_names if target_names is None else list(target_names)


def _checked_names(names: list[str] | None, coordinates: dict[int, list[float]]) -> list[str]:
    """The axis names, one per plotted number, for two or three numbers per trial."""
    dimensions = {len(point) for point in coordinates.values()}
    if len(dimensions) != 1 or not dimensions <= {2, 3}:
        raise ConfigError(
            f"{FIGURE}: each trial must give two or three numbers to plot, and they give "
            f"{sorted(dimensions)}; choose two or three objectives (axis_order) or return "
            "two or three numbers from targets.",
            field="targets",
        )
    (dimension,) = dimensions
    if names is None:
        return [f"Target {i}" for i in range(dimension)]
    if len(names) != dimension:
        raise ConfigError(
            f"{FIGURE}: target_names={names!r} must give one name per axis ({dimension}).",
            field="target_names",
        )
    return names


def _scatter(
    points: list[list[float]], numbers: list[int], name: str, marker: dict[str, Any]
) -> go.Scatter | go.Scatter3d:
    columns = list(zip(*points))
    common = {
        "mode": "markers",
        "name": name,
        "marker": marker,
        "customdata": numbers,
        "text": [f"trial {number}" for number in numbers],
    }
    if len(columns) == 3:
        return go.Scatter3d(x=columns[0], y=columns[1], z=columns[2], **common)
    return go.Scatter(x=columns[0], y=columns[1], **common)
