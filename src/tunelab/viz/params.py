"""How hyperparameters relate to the objective: their importances, the objective against
each parameter (slice) and against all of them at once (parallel coordinates)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunelab.analysis.importance import ImportanceEvaluator, param_importances
from tunelab.exceptions import ConfigError
from tunelab.study import Study
from tunelab.trial import TrialRecord
from tunelab.viz._axes import ParamAxis, param_axes
from tunelab.viz._common import (
    SEQUENTIAL_COLORSCALE,
    TargetSpec,
    colorscale_for,
    completed_points,
    log_ticks,
    nothing_to_plot,
    resolve_target,
)
from tunelab.viz._plotly import go, make_subplots


def plot_param_importances(
    study: Study,
    importances: Mapping[str, float] | None = None,
    *,
    target: TargetSpec = None,
    target_name: str | None = None,
    evaluator: ImportanceEvaluator | None = None,
    params: list[str] | None = None,
) -> go.Figure:
    """A horizontal bar per parameter, the most important at the top.

    ``importances`` maps parameter names to importances, as
    :func:`tunelab.analysis.importance.param_importances` returns them. When omitted, that
    function computes them from the study with ``evaluator`` (fANOVA by default) over
    ``params`` (all by default), for the objective ``target`` picks (as for
    :func:`~tunelab.viz.plot_optimization_history`); a multi-objective study without a
    ``target`` gets a bar per objective for each parameter. tunelab computes no weaker
    estimate in place of the one asked for: bars of numbers that do not measure importance
    would mislead.
    """
    if importances is None:
        rated = _computed_importances(study, evaluator, params, target, target_name)
    else:
        _refuse_with_importances(target=target, evaluator=evaluator, params=params)
        rated = {target_name or "Importance": _checked_importances(study, importances)}
    first = next(iter(rated.values()))
    names = sorted(first, key=first.__getitem__)  # plotly draws the first bar lowest
    figure = go.Figure()
    for label, shares in rated.items():
        figure.add_trace(
            go.Bar(
                x=[shares.get(name, 0.0) for name in names],
                y=names,
                orientation="h",
                text=[f"{shares.get(name, 0.0):.3g}" for name in names],
                textposition="outside",
                name=label,
                showlegend=len(rated) > 1,
            )
        )
    figure.update_layout(
        title="Hyperparameter importances", xaxis_title="Importance", yaxis_title="Parameter"
    )
    return figure


def _computed_importances(
    study: Study,
    evaluator: ImportanceEvaluator | None,
    params: list[str] | None,
    target: TargetSpec,
    target_name: str | None,
) -> dict[str, dict[str, float]]:
    """The importances for the objective ``target`` picks, or for each objective of a
    multi-objective study when it picks none, by objective name."""
    figure = "plot_param_importances"
    if target is None and len(study.directions) > 1:
        indices = range(len(study.directions))
        objectives = [resolve_target(study, index, None, figure) for index in indices]
    else:
        objectives = [resolve_target(study, target, target_name, figure)]
    return {
        objective.name: _checked_importances(
            study,
            param_importances(study, evaluator=evaluator, params=params, target=objective.value),
        )
        for objective in objectives
    }


def _refuse_with_importances(**given: object) -> None:
    """Arguments that say how to compute importances have no use when they are given."""
    for argument, value in given.items():
        if value is not None:
            raise ConfigError(
                f"plot_param_importances: {argument} says how importances are computed, and "
                "importances were given already; drop one of the two.",
                field=argument,
            )


def _checked_importances(study: Study, importances: Any) -> dict[str, float]:
    """``importances`` as a dict of finite, non-negative floats naming parameters of ``study``."""
    if not isinstance(importances, Mapping) or not importances:
        raise ConfigError(
            f"plot_param_importances: importances={importances!r} must be a non-empty mapping "
            "of parameter names to importances, e.g. {'lr': 0.7, 'batch_size': 0.3}.",
            field="importances",
        )
    known = {name for record in study.trials for name in record.params}
    checked = {}
    for name, value in importances.items():
        if name not in known:
            raise ConfigError(
                f"plot_param_importances: importances names {name!r}, which is not a parameter "
                f"of study {study.study_name!r} (it has {sorted(known)}); were the importances "
                "computed on another study?",
                field="importances",
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
            math.isfinite(value) and value >= 0
        ):
            raise ConfigError(
                f"plot_param_importances: importances[{name!r}]={value!r} must be a finite, "
                "non-negative number.",
                field="importances",
            )
        checked[name] = float(value)
    return checked


def plot_slice(
    study: Study,
    params: Sequence[str] | None = None,
    target: TargetSpec = None,
    target_name: str | None = None,
) -> go.Figure:
    """The objective against each parameter in turn, one panel per parameter, a point per
    COMPLETE trial that set it (a conditional parameter has fewer points), coloured by trial
    number so that where the sampler went late shows. ``target`` as for
    :func:`~tunelab.viz.plot_optimization_history`."""
    figure_name = "plot_slice"
    objective, points = completed_points(study, target, target_name, figure_name)
    axes = param_axes([record for record, _ in points], params, figure_name)
    figure = make_subplots(rows=1, cols=len(axes), shared_yaxes=True)
    # One colour range for every panel, so that a trial has the same colour in each.
    shading: dict[str, Any] = {
        "colorscale": SEQUENTIAL_COLORSCALE,
        "colorbar": {"title": {"text": "Trial"}},
    }
    shading.update(cmin=points[0][0].number, cmax=points[-1][0].number)
    for column, axis in enumerate(axes, start=1):
        having = [(record, value) for record, value in points if axis.name in record.params]
        numbers = [record.number for record, _ in having]
        marker = {"color": numbers, "showscale": column == 1, **shading}
        figure.add_trace(
            go.Scatter(
                x=[axis.coordinate(record.params[axis.name]) for record, _ in having],
                y=[value for _, value in having],
                mode="markers",
                marker=marker,
                customdata=numbers,
                name=axis.name,
                showlegend=False,
            ),
            row=1,
            col=column,
        )
        figure.update_xaxes(title_text=axis.name, row=1, col=column, **axis.layout())
    figure.update_yaxes(title_text=objective.name, row=1, col=1)
    figure.update_layout(title="Slice plot")
    return figure


def plot_parallel_coordinate(
    study: Study,
    params: Sequence[str] | None = None,
    target: TargetSpec = None,
    target_name: str | None = None,
) -> go.Figure:
    """A line per COMPLETE trial through the objective and each parameter, coloured by the
    objective (darkest is best). A line needs a value on every axis, so trials that did not
    set one of ``params`` (conditional parameters) are left out; choose ``params`` that are
    set together to keep them. ``target`` as for
    :func:`~tunelab.viz.plot_optimization_history`."""
    figure_name = "plot_parallel_coordinate"
    objective, points = completed_points(study, target, target_name, figure_name)
    axes = param_axes([record for record, _ in points], params, figure_name)
    rows = [(r, v) for r, v in points if all(axis.name in r.params for axis in axes)]
    if not rows:
        raise nothing_to_plot(
            figure_name,
            f"no COMPLETE trial that set every one of {[axis.name for axis in axes]}",
            "choose parameters that are set together with params=[...] (a conditional "
            "parameter is set only in some trials)",
            study,
        )
    values = [value for _, value in rows]
    dimensions = [{"label": objective.name, "values": values}]
    dimensions += [_dimension(axis, [record for record, _ in rows]) for axis in axes]
    line = {"color": values, "showscale": True, "colorbar": {"title": {"text": objective.name}}}
    figure = go.Figure(
        go.Parcoords(dimensions=dimensions, line={**line, **colorscale_for(objective.direction)})
    )
    figure.update_layout(title="Parallel coordinates")
    return figure


def _dimension(axis: ParamAxis, records: Sequence[TrialRecord]) -> dict[str, Any]:
    """A parallel-coordinates axis: plotly has no log or categorical dimensions, so those
    plot log10 of the value or the category's index, with ticks labelled in the parameter's
    own values."""
    coordinates = np.array([axis.coordinate(record.params[axis.name]) for record in records])
    dimension: dict[str, Any] = {"label": axis.name}
    if axis.categories is not None:
        dimension.update(tickvals=list(range(len(axis.categories))), ticktext=axis.labels)
        dimension["range"] = [0, len(axis.categories) - 1]
    elif axis.log:
        coordinates = np.log10(coordinates)
        tickvals, ticktext = log_ticks(float(coordinates.min()), float(coordinates.max()))
        dimension.update(tickvals=tickvals, ticktext=ticktext)
    dimension["values"] = coordinates
    return dimension
