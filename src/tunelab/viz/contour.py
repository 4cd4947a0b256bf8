"""The objective over pairs of parameters: a contour interpolated between the trials, with
the trials themselves drawn on top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.interpolate import griddata
from scipy.spatial import QhullError

from tunelab.exceptions import ConfigError
from tunelab.study import Study
from tunelab.trial import TrialRecord
from tunelab.viz._axes import ParamAxis, param_axes
from tunelab.viz._common import (
    TargetSpec,
    colorscale_for,
    completed_points,
    nothing_to_plot,
)
from tunelab.viz._plotly import go, make_subplots

# The surface is interpolated from a few dozen trials; a finer grid shows no more than this.
GRID_POINTS = 50


def plot_contour(
    study: Study,
    params: Sequence[str] | None = None,
    target: TargetSpec = None,
    target_name: str | None = None,
) -> go.Figure:
    """The objective over two parameters; with more (``params``, or every parameter when
    None), a matrix with a contour for each pair.

    Each contour interpolates linearly between the COMPLETE trials that set both parameters
    (on a log axis, linearly in the logarithm) and is left blank outside them; the trials
    are drawn as points. A categorical parameter takes one position per choice. ``target``
    as for :func:`~tunelab.viz.plot_optimization_history`.
    """
    figure_name = "plot_contour"
    objective, points = completed_points(study, target, target_name, figure_name)
    axes = param_axes([record for record, _ in points], params, figure_name)
    if len(axes) < 2:
        raise ConfigError(
            f"{figure_name}: a contour needs two parameters, and there is only "
            f"{[axis.name for axis in axes]}; give params=[...] with two or more names, or use "
            "plot_slice for one parameter.",
            field="params",
        )
    values = [value for _, value in points]
    shading = {"zmin": min(values), "zmax": max(values), **colorscale_for(objective.direction)}
    shading["colorbar"] = {"title": {"text": objective.name}}
    if len(axes) == 2:
        figure = go.Figure()
        if not _add_pair(figure, axes[0], axes[1], points, shading):
            raise nothing_to_plot(
                figure_name,
                f"no COMPLETE trial that set both {axes[0].name!r} and {axes[1].name!r}",
                "choose two parameters that are set together with params=[...]",
                study,
            )
    else:
        figure = make_subplots(rows=len(axes), cols=len(axes))
        for row, y_axis in enumerate(axes, start=1):
            for col, x_axis in enumerate(axes, start=1):
                if row != col:
                    _add_pair(figure, x_axis, y_axis, points, shading, (row, col))
    # The contours share zmin/zmax, hence one colour bar serves them all.
    for index, contour in enumerate(t for t in figure.data if isinstance(t, go.Contour)):
        contour.showscale = index == 0
    figure.update_layout(title="Contour plot")
    return figure


def _add_pair(
    figure: go.Figure,
    x_axis: ParamAxis,
    y_axis: ParamAxis,
    points: Sequence[tuple[TrialRecord, float]],
    shading: dict[str, Any],
    cell: tuple[int, int] | None = None,
) -> int:
    """Draw the contour of one pair (in subplot ``cell`` of a matrix); the number of trials
    drawn, 0 when no trial set both parameters."""
    both = [(r, v) for r, v in points if x_axis.name in r.params and y_axis.name in r.params]
    if not both:
        return 0
    xs = [x_axis.coordinate(record.params[x_axis.name]) for record, _ in both]
    ys = [y_axis.coordinate(record.params[y_axis.name]) for record, _ in both]
    row, col = cell or (None, None)
    surface = _interpolated(xs, ys, [value for _, value in both], x_axis, y_axis)
    if surface is not None:
        grid_x, grid_y, z = surface
        figure.add_trace(
            go.Contour(x=grid_x, y=grid_y, z=z, connectgaps=False, **shading), row=row, col=col
        )
    figure.add_trace(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker={"color": "black", "size": 5},
            customdata=[record.number for record, _ in both],
            name="Trial",
            showlegend=False,
        ),
        row=row,
        col=col,
    )
    figure.update_xaxes(title_text=x_axis.name, row=row, col=col, **x_axis.layout())
    figure.update_yaxes(title_text=y_axis.name, row=row, col=col, **y_axis.layout())
    return len(both)


def _interpolated(
    xs: Sequence[float],
    ys: Sequence[float],
    zs: Sequence[float],
    x_axis: ParamAxis,
    y_axis: ParamAxis,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The objective on a grid spanning the trials, interpolated in the plane each axis is
    drawn in (log10 for a log axis); None when the trials span no area (under three
    distinct points, or all on one line)."""
    plane_x = np.log10(xs) if x_axis.log else np.asarray(xs, dtype=float)
    plane_y = np.log10(ys) if y_axis.log else np.asarray(ys, dtype=float)
    if len(np.unique(plane_x)) < 2 or len(np.unique(plane_y)) < 2:
        return None
    grid_x = np.linspace(plane_x.min(), plane_x.max(), GRID_POINTS)
    grid_y = np.linspace(plane_y.min(), plane_y.max(), GRID_POINTS)
    try:
        # rescale: parameters span very different ranges, and the triangulation must not
        # depend on their units.
        z = griddata(
            (plane_x, plane_y), np.asarray(zs), tuple(np.meshgrid(grid_x, grid_y)),
            method="linear", rescale=True,
        )
    except QhullError:
        return None
    return (10**grid_x if x_axis.log else grid_x), (10**grid_y if y_axis.log else grid_y), z
