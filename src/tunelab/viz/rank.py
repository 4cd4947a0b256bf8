"""Where the good trials lie: each trial over pairs of parameters, coloured by the rank of its
objective value.

Colouring by rank rather than by value spreads the colours evenly over the trials: one
diverged trial with a huge loss would otherwise squeeze every other trial into one shade.
The colour bar is labelled with the values at its ticks, so it still reads in the objective's
units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata

from tunelab.study import Study
from tunelab.trial import TrialRecord
from tunelab.viz._axes import ParamAxis, param_axes
from tunelab.viz._common import TargetSpec, colorscale_for, completed_points
from tunelab.viz._plotly import go, make_subplots

_COLORBAR_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


def plot_rank(
    study: Study,
    params: Sequence[str] | None = None,
    target: TargetSpec = None,
    target_name: str | None = None,
) -> go.Figure:
    """A point per COMPLETE trial, coloured by its value's rank among them (darkest is best):
    over two parameters; over the objective for one; and with more (``params``, or every
    parameter when None), a matrix with a panel for each pair. ``target`` as for
    :func:`~tunelab.viz.plot_optimization_history`."""
    figure_name = "plot_rank"
    objective, points = completed_points(study, target, target_name, figure_name)
    axes = param_axes([record for record, _ in points], params, figure_name)
    values = np.array([value for _, value in points])
    ranked = [(r, v, rank) for (r, v), rank in zip(points, _rank_fractions(values))]
    tick_values = np.quantile(values, _COLORBAR_TICKS)
    shading = {"cmin": 0.0, "cmax": 1.0, **colorscale_for(objective.direction)}
    shading["colorbar"] = {
        "title": {"text": objective.name},
        "tickvals": list(_COLORBAR_TICKS),
        "ticktext": [f"{value:.3g}" for value in tick_values],
    }
    if len(axes) == 1:
        figure = go.Figure(_scatter(ranked, axes[0], None, shading))
        figure.update_xaxes(title_text=axes[0].name, **axes[0].layout())
        figure.update_yaxes(title_text=objective.name)
    elif len(axes) == 2:
        figure = go.Figure(_scatter(ranked, axes[0], axes[1], shading))
        figure.update_xaxes(title_text=axes[0].name, **axes[0].layout())
        figure.update_yaxes(title_text=axes[1].name, **axes[1].layout())
    else:
        figure = make_subplots(rows=len(axes), cols=len(axes))
        for row, y_axis in enumerate(axes, start=1):
            for col, x_axis in enumerate(axes, start=1):
                if row != col:
                    figure.add_trace(_scatter(ranked, x_axis, y_axis, shading), row=row, col=col)
                    figure.update_xaxes(title_text=x_axis.name, row=row, col=col, **x_axis.layout())
                    figure.update_yaxes(title_text=y_axis.name, row=row, col=col, **y_axis.layout())
    for index, trace in enumerate(figure.data):
        trace.marker.showscale = index == 0  # one colour range, hence one colour bar
    figure.update_layout(title="Rank plot")
    return figure


def _rank_fractions(values: np.ndarray) -> np.ndarray:
    """Each value's rank from 0 (lowest) to 1 (highest), ties sharing their mean rank."""
    if len(values) == 1:
        return np.array([0.5])
    return (rankdata(values) - 1.0) / (len(values) - 1.0)


def _scatter(
    ranked: Sequence[tuple[TrialRecord, float, float]],
    x_axis: ParamAxis,
    y_axis: ParamAxis | None,
    shading: dict[str, Any],
) -> go.Scatter:
    """The trials (record, value, rank) that set the parameters of both axes; without a y
    axis, the objective value takes its place."""
    names = [x_axis.name] + ([y_axis.name] if y_axis else [])
    having = [point for point in ranked if all(name in point[0].params for name in names)]
    return go.Scatter(
        x=[x_axis.coordinate(record.params[x_axis.name]) for record, _, _ in having],
        y=[
            value if y_axis is None else y_axis.coordinate(record.params[y_axis.name])
            for record, value, _ in having
        ],
        mode="markers",
        marker={"color": [rank for _, _, rank in having], **shading},
        customdata=[record.number for record, _, _ in having],
        name="Trial",
        showlegend=False,
    )
