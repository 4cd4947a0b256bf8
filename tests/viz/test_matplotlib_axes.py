"""Plotly figures drawn again on matplotlib Axes: the same points, lines, bars and axes."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from tunelab.exceptions import TunelabError  # noqa: E402
from tunelab.viz import plot_contour, plot_intermediate_values, plot_slice  # noqa: E402
from tunelab.viz._plotly import go, make_subplots  # noqa: E402
from tunelab.viz.matplotlib_axes import draw_figure  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def offsets(ax: Axes) -> list[np.ndarray]:
    return [collection.get_offsets() for collection in ax.collections]


def test_points_and_a_step_line_keep_their_values_and_legend():
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=[0, 1, 2], y=[3.0, 1.0, 2.0], mode="markers", name="Value"))
    figure.add_trace(go.Scatter(x=[0, 1, 2], y=[3.0, 1.0, 1.0], mode="lines", line_shape="hv",
                                name="Best"))
    figure.update_layout(title="History", xaxis_title="Trial", yaxis_title="Loss")
    ax = draw_figure(figure)
    assert isinstance(ax, Axes)
    assert np.array_equal(offsets(ax)[0], [[0, 3.0], [1, 1.0], [2, 2.0]])
    (line,) = ax.get_lines()
    assert line.get_drawstyle() == "steps-post"
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("History", "Trial", "Loss")
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["Value", "Best"]


def test_colour_by_number_gets_a_colour_bar_with_the_plotly_title():
    marker = {"color": [1, 2, 3], "colorscale": "Blues", "showscale": True,
              "colorbar": {"title": {"text": "Trial"}}}
    ax = draw_figure(go.Figure(go.Scatter(x=[1, 2, 3], y=[1, 2, 3], mode="markers",
                                          marker=marker)))
    assert list(ax.collections[0].get_array()) == [1, 2, 3]
    (colorbar_axes,) = [other for other in ax.figure.axes if other is not ax]
    assert colorbar_axes.get_ylabel() == "Trial"


def test_a_symbol_per_point_is_kept():
    marker = {"symbol": ["circle", "circle", "x"], "size": [5, 5, 10]}
    ax = draw_figure(go.Figure(go.Scatter(x=[0, 1, 2], y=[1, 1, 1], mode="markers",
                                          marker=marker)))
    assert [len(points) for points in offsets(ax)] == [2, 1]


def test_log_axes_and_labelled_ticks_follow_the_layout():
    figure = go.Figure(go.Scatter(x=[1e-3, 1e-1], y=[0, 2], mode="markers"))
    figure.update_xaxes(type="log")
    figure.update_yaxes(tickvals=[0, 1, 2], ticktext=["sgd", "adam", "rmsprop"])
    ax = draw_figure(figure)
    assert ax.get_xscale() == "log"
    assert [label.get_text() for label in ax.get_yticklabels()] == ["sgd", "adam", "rmsprop"]


def test_subplots_become_an_array_of_axes_in_their_grid():
    figure = make_subplots(rows=2, cols=2)
    figure.add_trace(go.Scatter(x=[1], y=[1]), row=2, col=1)
    figure.update_xaxes(title_text="bottom left", row=2, col=1)
    figure.update_layout(title="Grid")
    axes = draw_figure(figure)
    assert axes.shape == (2, 2)
    assert axes[1, 0].get_xlabel() == "bottom left"
    assert len(offsets(axes[1, 0])) == 1 and not axes[0, 0].axison
    assert axes[0, 0].figure._suptitle.get_text() == "Grid"
    row = draw_figure(make_subplots(rows=1, cols=3).add_trace(go.Scatter(x=[1], y=[1])))
    assert row.shape == (3,)


def test_horizontal_bars_keep_their_order_and_are_grouped_side_by_side():
    figure = go.Figure()
    figure.add_trace(go.Bar(x=[0.2, 0.8], y=["b", "a"], orientation="h", name="loss",
                            text=["0.2", "0.8"]))
    figure.add_trace(go.Bar(x=[0.6, 0.4], y=["b", "a"], orientation="h", name="time"))
    ax = draw_figure(figure)
    assert [label.get_text() for label in ax.get_yticklabels()] == ["b", "a"]
    loss, time = ax.containers
    assert [bar.get_width() for bar in loss] == [0.2, 0.8]
    assert loss[0].get_y() < time[0].get_y()  # side by side, not on top of each other


def test_bars_with_a_date_base_are_laid_on_a_date_axis():
    start = datetime(2024, 5, 1, 12, 0, 0)
    figure = go.Figure(go.Bar(y=["worker"], base=[start], x=[60_000.0], orientation="h"))
    figure.update_layout(barmode="overlay")
    ax = draw_figure(figure)
    (bar,) = ax.containers[0]
    assert bar.get_width() == pytest.approx(timedelta(minutes=1) / timedelta(days=1))
    assert matplotlib.dates.num2date(bar.get_x()).replace(tzinfo=None) == start


def test_a_contour_keeps_its_blank_outside_the_trials():
    z = np.array([[1.0, 2.0, np.nan], [2.0, 3.0, 4.0], [np.nan, 4.0, 5.0]])
    ax = draw_figure(go.Figure(go.Contour(x=[0, 1, 2], y=[0, 1, 2], z=z, zmin=1, zmax=5)))
    (filled,) = [c for c in ax.collections if hasattr(c, "levels")]
    assert filled.levels[0] == 1.0 and filled.levels[-1] == 5.0


def test_parallel_coordinates_draw_a_line_per_trial_through_each_axis():
    dimensions = [{"label": "loss", "values": [1.0, 2.0, 3.0]},
                  {"label": "lr", "values": [0.1, 0.2, 0.3], "tickvals": [0.1], "ticktext": ["a"]}]
    ax = draw_figure(go.Figure(go.Parcoords(dimensions=dimensions,
                                            line={"color": [1.0, 2.0, 3.0], "showscale": True})))
    (lines,) = ax.collections
    assert len(lines.get_segments()) == 3
    assert [label.get_text() for label in ax.get_xticklabels()] == ["loss", "lr"]


def test_three_dimensional_points_get_three_dimensional_axes():
    figure = go.Figure(go.Scatter3d(x=[1, 2], y=[3, 4], z=[5, 6], mode="markers", name="front"))
    figure.update_layout(scene={"xaxis_title": "a", "yaxis_title": "b", "zaxis_title": "c"})
    ax = draw_figure(figure)
    assert ax.name == "3d"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel()) == ("a", "b", "c")


def test_study_figures_come_through_whole(minimize_study):
    slices = draw_figure(plot_slice(minimize_study, params=["lr", "optimizer"]))
    assert slices.shape == (2,)
    assert slices[0].get_xscale() == "log"
    assert [t.get_text() for t in slices[1].get_xticklabels()] == ["sgd", "adam", "rmsprop"]
    curves = draw_figure(plot_intermediate_values(minimize_study))
    reported = [r for r in minimize_study.trials if r.intermediate_values]
    assert len(curves.get_lines()) == len(reported)
    matrix = draw_figure(plot_contour(minimize_study, params=["lr", "layers", "width"]))
    assert matrix.shape == (3, 3)


def test_a_trace_without_a_matplotlib_drawing_is_an_error_not_a_gap():
    with pytest.raises(TunelabError, match="'heatmap' trace has no matplotlib drawing"):
        draw_figure(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
