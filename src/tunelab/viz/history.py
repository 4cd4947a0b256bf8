"""How a study went over time: values per trial with the best so far, their distribution, and
when each trial ran."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np

from tunelab._attrs import DEVICE_ATTR, WORKER_ATTR
from tunelab.study import Study
from tunelab.trial import TrialRecord, TrialState
from tunelab.viz._common import (
    INFEASIBLE_COLOR,
    STATE_COLORS,
    TargetSpec,
    completed_points,
    no_completed_trials,
    nothing_to_plot,
    resolve_target,
    split_feasible,
    target_points,
)
from tunelab.viz._plotly import go


def plot_optimization_history(
    study: Study, target: TargetSpec = None, target_name: str | None = None
) -> go.Figure:
    """The objective value of each COMPLETE trial by trial number, and the best value so far.

    ``target`` picks what to plot: required for a multi-objective study (an objective's index
    or metric name, or a callable on a :class:`~tunelab.TrialRecord`). The best-so-far line
    follows the objective's direction and counts only trials that satisfy their constraints
    (infeasible trials are drawn in grey); a callable target has no known direction, so it
    gets no best-so-far line.
    """
    figure_name = "plot_optimization_history"
    objective, points = completed_points(study, target, target_name, figure_name)
    feasible, infeasible = split_feasible(points)
    figure = go.Figure()
    figure.add_trace(_value_markers(feasible, objective.name, STATE_COLORS[TrialState.COMPLETE]))
    if infeasible:
        figure.add_trace(_value_markers(infeasible, "Infeasible", INFEASIBLE_COLOR))
    if objective.direction is not None and feasible:
        values = np.array([value for _, value in feasible])
        accumulate = np.maximum if objective.direction == "maximize" else np.minimum
        figure.add_trace(
            go.Scatter(
                x=[record.number for record, _ in feasible],
                y=accumulate.accumulate(values),
                mode="lines",
                line_shape="hv",
                name="Best value",
            )
        )
    figure.update_layout(
        title="Optimization history", xaxis_title="Trial", yaxis_title=objective.name
    )
    return figure


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
    studies = [study] if isinstance(study, Study) else list(study)
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
        if len(studies) == 1:
            raise no_completed_trials(studies[0], figure_name)
        names = [each.study_name for each in studies]
        raise nothing_to_plot(
            figure_name,
            f"none of the studies {names} has a COMPLETE trial",
            "run study.optimize(objective, n_trials=...) on them first",
        )
    figure.update_layout(
        title="Empirical distribution function",
        xaxis_title=axis_title,
        yaxis_title="Fraction of trials",
        yaxis_range=[0, 1.02],
    )
    return figure


def plot_timeline(study: Study) -> go.Figure:
    """When each trial ran, one row per worker: a bar per started trial from its start to its
    end (to now while it runs), coloured by state.

    A trial records the process that ran it ("host:pid") and, under ``optimize(devices=...)``,
    the device its worker was given; a row is one process (and device). A fused population
    trains its members side by side in one process, so their bars overlap on its row.
    """
    records = [record for record in study.trials if record.datetime_start is not None]
    if not records:
        raise nothing_to_plot(
            "plot_timeline", "no started trial", "run study.optimize(...) first", study
        )
    rows = list(dict.fromkeys(_worker_label(r) for r in sorted(records, key=_started)))
    now = datetime.now(timezone.utc)
    figure = go.Figure()
    for state in TrialState:
        in_state = [record for record in records if record.state is state]
        if not in_state:
            continue
        starts, lengths = zip(*(_bar_span(record, now) for record in in_state))
        figure.add_trace(
            go.Bar(
                y=[_worker_label(record) for record in in_state],
                base=starts,
                x=lengths,
                customdata=[record.number for record in in_state],
                hovertemplate="trial %{customdata}<extra>%{y}</extra>",
                orientation="h",
                marker_color=STATE_COLORS[state],
                name=state.name,
            )
        )
    figure.update_layout(title="Timeline", xaxis_type="date", xaxis_title="Time",
                         barmode="overlay")
    figure.update_yaxes(title_text="Worker", categoryorder="array", categoryarray=rows)
    return figure


def _started(record: TrialRecord) -> tuple[datetime, int]:
    assert record.datetime_start is not None
    return record.datetime_start, record.number


def _worker_label(record: TrialRecord) -> str:
    """The process that ran a trial, with its device if it was given one."""
    worker = str(record.system_attrs.get(WORKER_ATTR, "unknown worker"))
    device = record.system_attrs.get(DEVICE_ATTR)
    return f"{worker} ({device})" if device else worker


def _bar_span(record: TrialRecord, now: datetime) -> tuple[datetime, float]:
    """Where a started trial's bar begins, and its length in milliseconds (the unit of a
    bar's length on a date axis). The start is local wall-clock time without a zone, since
    plotly.js has no time zones and would misread an offset."""
    start = record.datetime_start
    assert start is not None
    length = ((record.datetime_complete or now) - start).total_seconds() * 1000.0
    return start.astimezone().replace(tzinfo=None), length
