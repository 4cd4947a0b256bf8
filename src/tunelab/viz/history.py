"""How a study went: values per trial with the best so far, and their distribution."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import (
    INFEASIBLE_COLOR,
    STATE_COLORS,
    Target,
    TargetSpec,
    as_studies,
    no_completed_in_any,
    resolve_target,
    split_feasible,
    target_points,
)
from tunelab.viz._plotly import go


def plot_optimization_history(
    study: Study | Sequence[Study],
    target: TargetSpec = None,
    target_name: str | None = None,
    error_bar: bool = False,
) -> go.Figure:
    """The objective value of each COMPLETE trial by trial number, and the best value so far.

    ``target`` picks what to plot: required for a multi-objective study (an objective's index
    or metric name, or a callable on a :class:`~tunelab.TrialRecord`). The best-so-far line
    follows the objective's direction and counts only trials that satisfy their constraints
    (infeasible trials are drawn in grey); a callable target has no known direction, so it
    gets no best-so-far line.

    Give several studies (a sequence), say one per seed, to draw each in turn, its traces
    named after it; or, with ``error_bar=True``, their mean and standard deviation at each
    trial number, the best so far as a band.
    """
    figure_name = "plot_optimization_history"
    studies = as_studies(study)
    histories = [_history(each, target, target_name, figure_name) for each in studies]
    histories = [history for history in histories if history.feasible or history.infeasible]
    if not histories:
        raise no_completed_in_any(studies, figure_name)
    figure = go.Figure()
    if error_bar:
        _draw_spread(figure, histories)
    else:
        for history in histories:
            _draw_history(figure, history, f" of {history.study_name}" if len(studies) > 1 else "")
    figure.update_layout(
        title="Optimization history", xaxis_title="Trial", yaxis_title=histories[0].objective.name
    )
    return figure


@dataclass(frozen=True)
class _History:
    """One study's values to draw: feasible and infeasible COMPLETE trials, and the best
    feasible value so far at each feasible trial (None when the target has no direction)."""

    study_name: str
    objective: Target
    feasible: list[tuple[TrialRecord, float]]
    infeasible: list[tuple[TrialRecord, float]]
    best: np.ndarray | None


def _history(study: Study, target: TargetSpec, target_name: str | None, figure: str) -> _History:
    objective = resolve_target(study, target, target_name, figure)
    feasible, infeasible = split_feasible(target_points(study, objective))
    best = None
    if objective.direction is not None and feasible:
        accumulate = np.maximum if objective.direction == "maximize" else np.minimum
        best = accumulate.accumulate(np.array([value for _, value in feasible]))
    return _History(study.study_name, objective, feasible, infeasible, best)


def _draw_history(figure: go.Figure, history: _History, suffix: str) -> None:
    name, color = history.objective.name + suffix, STATE_COLORS[TrialState.COMPLETE]
    figure.add_trace(_value_markers(history.feasible, name, color))
    if history.infeasible:
        figure.add_trace(
            _value_markers(history.infeasible, "Infeasible" + suffix, INFEASIBLE_COLOR)
        )
    if history.best is not None:
        figure.add_trace(
            go.Scatter(
                x=[record.number for record, _ in history.feasible],
                y=history.best,
                mode="lines",
                line_shape="hv",
                name="Best value" + suffix,
            )
        )


def _value_markers(
    points: Sequence[tuple[TrialRecord, float]], name: str, color: str
) -> go.Scatter:
    return go.Scatter(
        x=[record.number for record, _ in points],
        y=[value for _, value in points],
        customdata=[record.number for record, _ in points],
        mode="markers",
        marker_color=color,
        name=name,
    )


def _draw_spread(figure: go.Figure, histories: Sequence[_History]) -> None:
    """The mean and standard deviation over the studies of the feasible values at each trial
    number, and of the best value so far as a band (where the target has a direction)."""
    at_number: dict[int, list[float]] = {}
    for history in histories:
        for record, value in history.feasible:
            at_number.setdefault(record.number, []).append(value)
    numbers = sorted(at_number)
    mean, std = _mean_and_std([at_number[number] for number in numbers])
    figure.add_trace(
        go.Scatter(
            x=numbers,
            y=mean,
            error_y={"type": "data", "array": std, "visible": True},
            mode="markers",
            marker_color=STATE_COLORS[TrialState.COMPLETE],
            name=histories[0].objective.name,
        )
    )
    if all(history.best is not None for history in histories) and numbers:
        best_mean, best_std = _mean_and_std([_best_at(histories, n) for n in numbers])
        figure.add_trace(go.Scatter(x=numbers, y=best_mean, mode="lines", name="Best value"))
        figure.add_trace(
            go.Scatter(
                x=numbers + numbers[::-1],
                y=np.concatenate([best_mean + best_std, (best_mean - best_std)[::-1]]),
                fill="toself",
                mode="none",
                opacity=0.2,
                fillcolor=STATE_COLORS[TrialState.FAIL],
                name="Best value ± std",
                showlegend=False,
            )
        )


def _best_at(histories: Sequence[_History], number: int) -> list[float]:
    """Each study's best value so far at trial ``number``, for the studies that have one."""
    found = []
    for history in histories:
        assert history.best is not None
        numbers = [record.number for record, _ in history.feasible]
        index = int(np.searchsorted(numbers, number, side="right")) - 1
        if index >= 0:
            found.append(float(history.best[index]))
    return found


def _mean_and_std(groups: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    return np.array([np.mean(g) for g in groups]), np.array([np.std(g) for g in groups])


def plot_edf(
    study: Study | Sequence[Study], target: TargetSpec = None, target_name: str | None = None
) -> go.Figure:
    """The empirical distribution function of the objective values of COMPLETE trials: for
    each value, the fraction of trials that reached at most that value.

    Give several studies (a sequence) to compare them, say one per sampler: a curve per study
    with COMPLETE trials, each study's ``target`` resolved as for
    :func:`plot_optimization_history`.
    """
    figure_name = "plot_edf"
    studies = as_studies(study)
    figure = go.Figure()
    axis_title = None
    for each in studies:
        objective = resolve_target(each, target, target_name, figure_name)
        values = np.sort([value for _, value in target_points(each, objective)])
        if len(values) == 0:
            continue
        axis_title = axis_title or objective.name
        fractions = np.arange(1, len(values) + 1) / len(values)
        figure.add_trace(
            go.Scatter(x=values, y=fractions, mode="lines", line_shape="hv", name=each.study_name)
        )
    if not figure.data:
        raise no_completed_in_any(studies, figure_name)
    figure.update_layout(
        title="Empirical distribution function",
        xaxis_title=axis_title,
        yaxis_title="Fraction of trials",
        yaxis_range=[0, 1.02],
    )
    return figure
