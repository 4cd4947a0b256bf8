"""The rank plot: trials over pairs of parameters, coloured by the rank of their value."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viz.conftest import completed, numbers
from tunelab.exceptions import ConfigError
from tunelab.viz import plot_rank


def test_two_parameters_give_one_scatter_coloured_by_rank(minimize_study):
    (points,) = plot_rank(minimize_study, params=["lr", "width"]).data
    trials = completed(minimize_study)
    assert list(points.customdata) == numbers(trials)
    assert list(points.x) == [record.params["lr"] for record in trials]
    ranks = np.array(points.marker.color)
    values = np.array([record.value for record in trials])
    assert ranks.min() == 0.0 and ranks.max() == 1.0
    assert np.argmin(ranks) == np.argmin(values) and np.argmax(ranks) == np.argmax(values)
    assert points.marker.reversescale  # minimized: the darkest end is the lowest value


def test_the_colour_bar_is_labelled_with_the_objectives_values(minimize_study):
    (points,) = plot_rank(minimize_study, params=["lr", "width"]).data
    colorbar = points.marker.colorbar
    values = [record.value for record in completed(minimize_study)]
    assert colorbar.title.text == "Objective value"
    assert colorbar.ticktext[0] == f"{min(values):.3g}"
    assert colorbar.ticktext[-1] == f"{max(values):.3g}"


def test_one_parameter_is_drawn_against_the_objective(minimize_study):
    figure = plot_rank(minimize_study, params=["layers"])
    (points,) = figure.data
    assert list(points.y) == [record.value for record in completed(minimize_study)]
    assert figure.layout.yaxis.title.text == "Objective value"


def test_more_parameters_give_a_matrix_of_pairs_with_one_colour_bar(minimize_study):
    figure = plot_rank(minimize_study, params=["lr", "layers", "optimizer"])
    assert len(figure.data) == 6  # every ordered pair, the diagonal left empty
    assert [trace.marker.showscale for trace in figure.data] == [True] + [False] * 5


def test_a_conditional_parameter_has_fewer_points(minimize_study):
    (points,) = plot_rank(minimize_study, params=["lr", "momentum"]).data
    assert len(points.x) == sum("momentum" in r.params for r in completed(minimize_study))


def test_unknown_parameters_and_missing_targets_name_the_argument(
    minimize_study, two_objective_study
):
    with pytest.raises(ConfigError, match="did you mean 'layers'") as caught:
        plot_rank(minimize_study, params=["layer"])
    assert caught.value.field == "params"
    with pytest.raises(ConfigError, match="target=") as caught:
        plot_rank(two_objective_study)
    assert caught.value.field == "target"
    assert plot_rank(two_objective_study, target="speed").data
