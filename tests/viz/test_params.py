"""Parameter importances, slice and parallel-coordinate figures."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viz.conftest import completed, numbers
from tunelab.exceptions import ConfigError
from tunelab.trial import TrialState
from tunelab.viz import (
    NothingToPlotError,
    plot_parallel_coordinate,
    plot_param_importances,
    plot_slice,
)
from tunelab.viz import params as viz_params


def test_importances_are_bars_with_the_most_important_on_top(minimize_study):
    (bars,) = plot_param_importances(minimize_study, {"width": 0.2, "lr": 0.7, "layers": 0.1}).data
    assert bars.orientation == "h"
    assert list(bars.y) == ["layers", "width", "lr"]  # plotly draws the first bar lowest
    assert list(bars.x) == [0.1, 0.2, 0.7]


@pytest.mark.parametrize(
    ("importances", "message"),
    [
        ({}, "non-empty mapping"),
        ([("lr", 1.0)], "non-empty mapping"),
        ({"learning_rate": 1.0}, "'learning_rate', which is not a parameter"),
        ({"lr": -0.5}, r"importances\['lr'\]=-0.5 must be a finite, non-negative"),
        ({"lr": float("nan")}, "finite, non-negative"),
    ],
)
def test_importances_that_cannot_be_right_are_refused(minimize_study, importances, message):
    with pytest.raises(ConfigError, match=message) as caught:
        plot_param_importances(minimize_study, importances)
    assert caught.value.field == "importances"


@pytest.fixture
def fake_importances(monkeypatch):
    """Stands in for tunelab.analysis.importance.param_importances; notes the targets it was
    asked about and the evaluator and params it was given."""
    asked = []

    def param_importances(study, *, evaluator=None, params=None, target=None):
        values = [target(record) for record in study.get_trials((TrialState.COMPLETE,))]
        asked.append((values, evaluator, params))
        return {"x": 0.75, "y": 0.25} if "x" in study.trials[0].params else {"lr": 1.0}

    monkeypatch.setattr(viz_params, "param_importances", param_importances)
    return asked


def test_importances_default_to_the_analysis_module(minimize_study, fake_importances):
    (bars,) = plot_param_importances(minimize_study).data
    assert list(bars.y) == ["lr"]
    values = [record.value for record in completed(minimize_study)]
    assert fake_importances == [(values, None, None)]


def test_the_evaluator_and_params_are_passed_on(minimize_study, fake_importances):
    evaluator = object()
    plot_param_importances(minimize_study, evaluator=evaluator, params=["lr"])
    assert fake_importances[0][1:] == (evaluator, ["lr"])


def test_importances_explain_the_objective_that_target_picks(two_objective_study, fake_importances):
    (bars,) = plot_param_importances(two_objective_study, target="speed").data
    assert list(bars.y) == ["y", "x"]
    assert fake_importances == [
        ([record.values[1] for record in completed(two_objective_study)], None, None)
    ]


def test_without_a_target_each_objective_gets_its_bars(two_objective_study, fake_importances):
    figure = plot_param_importances(two_objective_study)
    assert [bars.name for bars in figure.data] == ["error", "speed"]
    assert all(list(bars.y) == ["y", "x"] for bars in figure.data)
    assert [values for values, _, _ in fake_importances] == [
        [record.values[i] for record in completed(two_objective_study)] for i in (0, 1)
    ]


@pytest.mark.parametrize("argument", ["target", "evaluator", "params"])
def test_how_to_compute_has_no_use_when_importances_are_given(minimize_study, argument):
    with pytest.raises(ConfigError, match="drop one of the two") as caught:
        plot_param_importances(minimize_study, {"lr": 1.0}, **{argument: ["lr"]})
    assert caught.value.field == argument


def test_slice_has_a_panel_per_parameter_with_the_trials_that_set_it(minimize_study):
    figure = plot_slice(minimize_study)
    panels = {trace.name: trace for trace in figure.data}
    assert sorted(panels) == ["dropout", "layers", "lr", "momentum", "optimizer", "width"]
    for name, trace in panels.items():
        having = [r for r in completed(minimize_study) if name in r.params]
        assert list(trace.customdata) == numbers(having), name
        assert list(trace.y) == [r.value for r in having], name
    assert 0 < len(panels["momentum"].customdata) < len(completed(minimize_study))
    ranges = {(trace.marker.cmin, trace.marker.cmax) for trace in figure.data}
    assert len(ranges) == 1  # a trial has one colour in every panel


def test_slice_axes_are_log_or_categorical_as_the_parameters_are(minimize_study):
    figure = plot_slice(minimize_study, params=["lr", "optimizer", "layers"])
    lr_axis, optimizer_axis, layers_axis = (figure.layout[f"xaxis{i}"] for i in ("", "2", "3"))
    assert (lr_axis.title.text, lr_axis.type) == ("lr", "log")
    assert list(optimizer_axis.ticktext) == ["sgd", "adam", "rmsprop"]
    assert set(figure.data[1].x) <= {0.0, 1.0, 2.0}
    assert layers_axis.type in (None, "-", "linear")


def test_slice_refuses_a_parameter_no_trial_has(minimize_study):
    with pytest.raises(ConfigError, match="'optimiser', which no COMPLETE trial has"):
        plot_slice(minimize_study, params=["optimiser"])


def test_parallel_coordinates_draw_a_line_per_trial_with_every_parameter(minimize_study):
    (lines,) = plot_parallel_coordinate(minimize_study, params=["lr", "optimizer", "width"]).data
    labels = [dimension.label for dimension in lines.dimensions]
    assert labels == ["Objective value", "lr", "optimizer", "width"]
    records = completed(minimize_study)
    assert list(lines.dimensions[0]["values"]) == [record.value for record in records]
    assert np.allclose(lines.dimensions[1]["values"], np.log10([r.params["lr"] for r in records]))
    assert list(lines.dimensions[2].ticktext) == ["sgd", "adam", "rmsprop"]
    assert lines.line.reversescale is True  # minimized: the lowest value is the darkest


def test_parallel_coordinates_leave_out_trials_without_a_conditional_parameter(minimize_study):
    (lines,) = plot_parallel_coordinate(minimize_study).data
    with_momentum = [r for r in completed(minimize_study) if "momentum" in r.params]
    assert len(lines.dimensions) == 7
    assert len(lines.dimensions[0]["values"]) == len(with_momentum)


def test_parallel_coordinates_colour_the_best_darkest_whichever_the_direction(maximize_study):
    (lines,) = plot_parallel_coordinate(maximize_study, params=["lr"]).data
    assert lines.line.reversescale is False
    assert lines.line.colorscale[-1][1] == "rgb(8,48,107)"  # the darkest blue, at the highest


def test_parallel_coordinates_of_exclusive_parameters_say_how_to_choose(exclusive_study):
    with pytest.raises(NothingToPlotError, match="set every one of.*params="):
        plot_parallel_coordinate(exclusive_study, params=["size_a", "size_b"])
