"""The hypervolume history of a multi-objective study."""

from __future__ import annotations

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.trial import TrialState, create_trial
from tunelab.viz import NothingToPlotError, plot_hypervolume_history


def study_of(values, directions=("minimize", "minimize"), constraints=None):
    study = tunelab.create_study(directions=list(directions))
    for i, point in enumerate(values):
        named = None if constraints is None else {"c": constraints[i]}
        study.add_trial(create_trial(values=point, constraints=named))
    return study


def test_each_trial_adds_what_it_dominates_beyond_the_trials_before_it():
    # Reference (4, 4). (1, 3) covers 3 x 1; (3, 1) adds 1 x 2 more (3 x 1 minus the overlap);
    # (2, 2) adds the square between them; (3, 3) is dominated and adds nothing.
    study = study_of([(1.0, 3.0), (3.0, 1.0), (2.0, 2.0), (3.0, 3.0)])
    (trace,) = plot_hypervolume_history(study, [4.0, 4.0]).data
    assert list(trace.x) == [0, 1, 2, 3]
    assert list(trace.y) == pytest.approx([3.0, 5.0, 6.0, 6.0])


def test_a_maximized_objective_counts_from_below_its_reference():
    study = study_of([(1.0, 3.0), (0.5, 2.0), (2.0, 2.0)], directions=("minimize", "maximize"))
    (trace,) = plot_hypervolume_history(study, [4.0, 0.0]).data
    # (4 - 1) * 3; then the strip from 0.5 to 1 up to 2; (2, 2) is dominated by (1, 3).
    assert list(trace.y) == pytest.approx([9.0, 10.0, 10.0])


def test_infeasible_and_unfinished_trials_are_left_out():
    study = study_of([(1.0, 1.0), (2.0, 2.0)], constraints=[1.0, -1.0])
    study.ask()
    study.tell(study.ask(), state=TrialState.PRUNED)
    (trace,) = plot_hypervolume_history(study, [3.0, 3.0]).data
    assert (list(trace.x), list(trace.y)) == ([1], [1.0])


def test_points_beyond_the_reference_add_nothing():
    (trace,) = plot_hypervolume_history(study_of([(5.0, 1.0)]), [4.0, 4.0]).data
    assert list(trace.y) == [0.0]


def test_the_figure_is_labelled_as_optunas_is():
    layout = plot_hypervolume_history(study_of([(1.0, 1.0)]), [2.0, 2.0]).layout
    assert (layout.xaxis.title.text, layout.yaxis.title.text) == ("Trial", "Hypervolume")


@pytest.mark.parametrize(
    ("reference", "message"),
    [([1.0], "one finite number per objective \\(2\\)"), ([1.0, float("nan")], "finite")],
)
def test_a_reference_point_that_does_not_fit_is_refused(reference, message):
    with pytest.raises(ConfigError, match=message) as caught:
        plot_hypervolume_history(study_of([(1.0, 1.0)]), reference)
    assert caught.value.field == "reference_point"


def test_a_single_objective_study_and_an_empty_one_are_refused():
    with pytest.raises(ConfigError, match="plot_optimization_history instead"):
        plot_hypervolume_history(tunelab.create_study(), [1.0])
    with pytest.raises(NothingToPlotError, match="no COMPLETE trial"):
        plot_hypervolume_history(study_of([]), [1.0, 1.0])
