"""Figures of a trial's attributions (:func:`tunelab.analysis.explain.explain`): the features
of tabular data ranked by their share of the attribution, with error bars over the baselines;
for pictures, each class's example with its attribution map, and the class's mean map."""

from __future__ import annotations

import math

import numpy as np

from tunelab._options import check_int
from tunelab.analysis.explain import METHOD_NAMES, Example, ExplainResult
from tunelab.exceptions import ConfigError
from tunelab.viz._plotly import go, make_subplots

BAR_HEIGHT_PX = 22
MAP_ROW_HEIGHT_PX = 170
MAP_ROWS = ("Example", "Its attribution", "Class mean attribution")
# Red where a pixel pushes the output of the class up, blue where it pushes it down.
DIVERGING_COLORSCALE = "RdBu_r"
INPUT_COLORSCALE = "Greys"


def plot_feature_attributions(
    result: ExplainResult, method: str | None = None, top: int = 20
) -> go.Figure:
    """The ``top`` features of tabular data by their share of ``method``'s (default: the
    headline method's) mean absolute attribution, the largest on top, with error bars of one
    standard error over the runs (baselines or draws; none for a method with one run)."""
    top = check_int("plot_feature_attributions", "top", top, 1, "the number of features shown.")
    _check_kind(result, "tabular", "plot_feature_attributions", "plot_attribution_maps")
    method = result.headline if method is None else method
    shown = result.ranking(method)[:top][::-1]  # plotly draws the first bar at the bottom
    errors = [None if math.isnan(f.stderr) else f.stderr for f in shown]
    bars = go.Bar(
        x=[f.share for f in shown],
        y=[f.name for f in shown],
        orientation="h",
        error_x={"type": "data", "array": errors, "visible": any(e is not None for e in errors)},
        hovertemplate="%{y}<br>share %{x:.1%}<extra></extra>",
    )
    figure = go.Figure(bars)
    more = f", top {len(shown)} of {len(result.feature_names)}" if (
        len(shown) < len(result.feature_names)) else ""
    figure.update_layout(
        title=f"Feature attributions of trial {result.trial} ({METHOD_NAMES[method]}{more})",
        xaxis={"title": {"text": "Share of the mean absolute attribution"},
               "tickformat": ".1%", "rangemode": "tozero"},
        yaxis={"automargin": True},
        height=140 + BAR_HEIGHT_PX * len(shown),
    )
    return figure


def plot_attribution_maps(result: ExplainResult, method: str | None = None) -> go.Figure:
    """For pictures, one column per class: an example picture of the class, ``method``'s
    (default: the headline method's) attribution of it, and the class's mean attribution over
    the samples explained, as heat maps (channels summed). Each map is scaled to its largest
    magnitude, so that maps of different strength compare by shape; the hover gives the
    attribution itself."""
    _check_kind(result, "image", "plot_attribution_maps", "plot_feature_attributions")
    method = result.headline if method is None else method
    if method not in result.methods:
        raise ConfigError(
            f"plot_attribution_maps: method {method!r} was not computed; use one of: "
            f"{', '.join(result.methods)}.",
            field="method",
        )
    examples = result.examples
    titles = [_example_title(result, example) for example in examples]
    figure = make_subplots(
        rows=len(MAP_ROWS), cols=max(1, len(examples)), row_titles=list(MAP_ROWS),
        column_titles=titles, horizontal_spacing=0.01, vertical_spacing=0.04,
    )
    class_maps = result.attributions[method].class_maps
    for column, example in enumerate(examples, start=1):
        maps = (
            example.input.mean(axis=0),
            example.attributions[method].sum(axis=0),
            class_maps[example.label].sum(axis=0),
        )
        for row, values in enumerate(maps, start=1):
            figure.add_trace(_heat_map(values, signed=row > 1), row=row, col=column)
    figure.update_xaxes(showticklabels=False, constrain="domain")
    figure.update_yaxes(showticklabels=False, autorange="reversed", constrain="domain")
    for index in range(1, len(MAP_ROWS) * max(1, len(examples)) + 1):  # square pixels
        suffix = "" if index == 1 else str(index)
        figure.update_layout({f"yaxis{suffix}": {"scaleanchor": f"x{suffix}"}})
    figure.update_layout(
        title=f"Attribution maps of trial {result.trial} ({METHOD_NAMES[method]})",
        coloraxis={"colorscale": DIVERGING_COLORSCALE, "cmin": -1.0, "cmax": 1.0,
                   "colorbar": {"title": {"text": "Attribution<br>(scaled)"}}},
        height=120 + MAP_ROW_HEIGHT_PX * len(MAP_ROWS),
    )
    return figure


def _heat_map(values: np.ndarray, signed: bool) -> go.Heatmap:
    if not signed:  # the picture itself, in its own grey scale
        return go.Heatmap(z=values, colorscale=INPUT_COLORSCALE, reversescale=True,
                          showscale=False, hovertemplate="value %{z:.3g}<extra></extra>")
    largest = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    scaled = values / largest if largest > 0 else values
    return go.Heatmap(
        z=scaled, customdata=values, coloraxis="coloraxis",
        hovertemplate="row %{y}, column %{x}<br>attribution %{customdata:.3g}<extra></extra>",
    )


def _example_title(result: ExplainResult, example: Example) -> str:
    name = result.output_names[example.label]
    if example.predicted is None or example.predicted == example.label:
        return name
    return f"{name} (predicted {result.output_names[example.predicted]})"


def _check_kind(result: ExplainResult, kind: str, figure: str, other: str) -> None:
    if result.kind != kind:
        raise ConfigError(
            f"{figure}: the attributions are of {result.kind} inputs, and this figure draws "
            f"{kind} ones; use {other} for them.",
            field="result",
        )
