"""The rules every figure shares: the missing extra, choosing the objective, parameter axes."""

from __future__ import annotations

import importlib
import inspect
import sys

import pytest

import tunelab
import tunelab.viz
from tunelab.exceptions import ConfigError, MissingExtraError, TunelabError
from tunelab.trial import TrialState
from tunelab.viz._axes import param_axes
from tunelab.viz._common import NothingToPlotError, log_ticks, resolve_target, target_points


def test_without_plotly_the_import_names_the_extra_to_install(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("tunelab.viz")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'tunelab\[plots\]'") as caught:
        importlib.import_module("tunelab.viz")
    assert "tunelab.viz" in str(caught.value) and "'plotly'" in str(caught.value)


def test_every_public_figure_is_exported_and_typed():
    for name in tunelab.viz.__all__:
        function = getattr(tunelab.viz, name)
        if name.startswith("plot_"):
            signature = inspect.signature(function)
            assert signature.return_annotation == "go.Figure", name
            assert all(p.annotation is not p.empty for p in signature.parameters.values()), name


def test_nothing_to_plot_is_a_tunelab_error():
    assert issubclass(NothingToPlotError, TunelabError)


def test_a_multi_objective_study_needs_a_target(two_objective_study):
    with pytest.raises(ConfigError, match=r"2 objectives \['error', 'speed'\].*target=") as caught:
        resolve_target(two_objective_study, None, None, "plot_x")
    assert caught.value.field == "target"


@pytest.mark.parametrize("target", [2, -3, True, 1.0])
def test_an_objective_index_out_of_range_is_refused(two_objective_study, target):
    with pytest.raises(ConfigError, match=r"plot_x: target=.* from 0 to 1"):
        resolve_target(two_objective_study, target, None, "plot_x")


def test_a_misspelt_objective_name_gets_a_suggestion(two_objective_study):
    with pytest.raises(ConfigError, match="did you mean 'speed'"):
        resolve_target(two_objective_study, "sped", None, "plot_x")


def test_a_target_by_name_index_or_callable(two_objective_study):
    by_name = resolve_target(two_objective_study, "speed", None, "plot_x")
    by_index = resolve_target(two_objective_study, -1, None, "plot_x")
    by_callable = resolve_target(two_objective_study, lambda r: r.values[1], "Speed", "plot_x")
    assert (by_name.name, by_name.direction) == ("speed", "maximize")
    assert (by_index.name, by_index.direction) == ("speed", "maximize")
    by_name_points = target_points(two_objective_study, by_name)
    assert target_points(two_objective_study, by_index) == by_name_points
    assert by_callable.direction is None and by_callable.name == "Speed"
    assert [v for _, v in target_points(two_objective_study, by_callable)] == [
        v for _, v in target_points(two_objective_study, by_name)
    ]


def test_a_target_that_returns_no_number_is_refused(minimize_study):
    target = resolve_target(minimize_study, lambda record: "fast", None, "plot_x")
    with pytest.raises(ConfigError, match="must return a number"):
        target_points(minimize_study, target)


def test_param_axes_know_log_and_categorical_parameters(minimize_study):
    records = minimize_study.get_trials((tunelab.TrialState.COMPLETE,))
    axes = {axis.name: axis for axis in param_axes(records, None, "plot_x")}
    assert sorted(axes) == ["dropout", "layers", "lr", "momentum", "optimizer", "width"]
    assert axes["lr"].log and axes["width"].log and not axes["layers"].log
    assert axes["optimizer"].categories == ("sgd", "adam", "rmsprop")
    assert axes["optimizer"].coordinate("adam") == 1.0
    assert axes["optimizer"].layout() == {
        "tickvals": [0, 1, 2],
        "ticktext": ["sgd", "adam", "rmsprop"],
    }
    assert axes["lr"].layout() == {"type": "log"}


def test_param_axes_refuse_unknown_or_malformed_names(minimize_study):
    records = minimize_study.get_trials((tunelab.TrialState.COMPLETE,))
    with pytest.raises(ConfigError, match="did you mean 'lr'") as caught:
        param_axes(records, ["lrr"], "plot_x")
    assert caught.value.field == "params"
    with pytest.raises(ConfigError, match="non-empty list"):
        param_axes(records, "lr", "plot_x")


def test_log_ticks_are_whole_decades_when_the_range_spans_them():
    assert log_ticks(-4.2, -0.9) == ([-4.0, -3.0, -2.0, -1.0], ["0.0001", "0.001", "0.01", "0.1"])
    positions, labels = log_ticks(0.0, 0.5)
    assert positions[0] == 0.0 and positions[-1] == 0.5 and labels[0] == "1"


def test_every_study_figure_draws_a_multi_objective_study_with_pruned_and_failed_trials(
    two_objective_study,
):
    states = {record.state for record in two_objective_study.trials}
    assert {TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE} <= states
    viz = tunelab.viz
    for plot in (viz.plot_optimization_history, viz.plot_parallel_coordinate, viz.plot_contour,
                 viz.plot_slice, viz.plot_edf):
        assert plot(two_objective_study, target="speed").data
    assert viz.plot_pareto_front(two_objective_study).data
    assert viz.plot_timeline(two_objective_study).data
