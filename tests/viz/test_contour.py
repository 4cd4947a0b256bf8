"""Contour figures: one pair of parameters, or a matrix of pairs."""

from __future__ import annotations

import numpy as np
import pytest

import tunelab
from tests.viz.conftest import completed, numbers
from tunelab.exceptions import ConfigError
from tunelab.viz import NothingToPlotError, plot_contour
from tunelab.viz.contour import GRID_POINTS


def kinds(figure):
    return [trace.type for trace in figure.data]


def test_one_pair_gives_one_contour_with_the_trials_on_it(minimize_study):
    figure = plot_contour(minimize_study, params=["lr", "layers"])
    assert kinds(figure) == ["contour", "scatter"]
    contour, trials = figure.data
    records = completed(minimize_study)
    assert list(trials.customdata) == numbers(records)
    assert list(trials.x) == [record.params["lr"] for record in records]
    assert np.asarray(contour.z).shape == (GRID_POINTS, GRID_POINTS)
    assert (figure.layout.xaxis.title.text, figure.layout.xaxis.type) == ("lr", "log")
    assert figure.layout.yaxis.title.text == "layers"


def test_the_log_axis_is_interpolated_evenly_in_the_logarithm(minimize_study):
    contour = plot_contour(minimize_study, params=["lr", "layers"]).data[0]
    steps = np.diff(np.log10(contour.x))
    assert np.allclose(steps, steps[0])
    lrs = [record.params["lr"] for record in completed(minimize_study)]
    assert np.isclose(contour.x[0], min(lrs)) and np.isclose(contour.x[-1], max(lrs))


def test_a_categorical_axis_has_a_position_per_choice(minimize_study):
    figure = plot_contour(minimize_study, params=["optimizer", "dropout"])
    assert list(figure.layout.xaxis.ticktext) == ["sgd", "adam", "rmsprop"]
    assert set(figure.data[-1].x) <= {0.0, 1.0, 2.0}


def test_more_parameters_give_a_matrix_of_pairs(minimize_study):
    figure = plot_contour(minimize_study, params=["lr", "layers", "optimizer"])
    trials = [trace for trace in figure.data if trace.name == "Trial"]
    assert len(trials) == 3 * 2  # every ordered pair, none on the diagonal
    assert all(list(trace.customdata) == numbers(completed(minimize_study)) for trace in trials)
    contours = [trace for trace in figure.data if trace.type == "contour"]
    assert [contour.showscale for contour in contours] == [True] + [False] * (len(contours) - 1)
    assert figure.layout.xaxis2.title.text == "layers" and figure.layout.yaxis2.title.text == "lr"


def test_a_conditional_pair_uses_the_trials_that_set_both(minimize_study):
    figure = plot_contour(minimize_study, params=["momentum", "lr"])
    having = [r for r in completed(minimize_study) if "momentum" in r.params]
    assert list(figure.data[-1].customdata) == numbers(having)


def test_trials_on_one_line_give_points_without_a_surface():
    study = tunelab.create_study(sampler="random", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 1), n_trials=5)
    assert kinds(plot_contour(study)) == ["scatter"]


def test_a_contour_needs_two_parameters(minimize_study):
    with pytest.raises(ConfigError, match=r"two parameters.*\['lr'\].*plot_slice") as caught:
        plot_contour(minimize_study, params=["lr"])
    assert caught.value.field == "params"


def test_a_pair_no_trial_set_together_says_how_to_choose(exclusive_study):
    with pytest.raises(NothingToPlotError, match="set both 'size_a' and 'size_b'"):
        plot_contour(exclusive_study, params=["size_a", "size_b"])
