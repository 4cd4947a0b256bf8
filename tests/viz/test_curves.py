"""Intermediate values (learning curves) of many trials."""

from __future__ import annotations

import pytest

from tests.viz.conftest import numbers
from tunelab.trial import TrialState
from tunelab.viz import NothingToPlotError, plot_intermediate_values


def test_a_curve_per_trial_that_reported(minimize_study):
    figure = plot_intermediate_values(minimize_study)
    reported = [record for record in minimize_study.trials if record.intermediate_values]
    assert sorted(trace.customdata[0] for trace in figure.data) == numbers(reported)
    for trace, record in zip(figure.data, reported):
        steps = sorted(record.intermediate_values)
        assert list(trace.x) == steps
        assert list(trace.y) == [record.intermediate_values[step] for step in steps]
        assert trace.legendgroup == record.state.name


def test_pruned_trials_are_dotted_and_end_in_a_cross(minimize_study):
    figure = plot_intermediate_values(minimize_study)
    pruned = numbers(minimize_study.get_trials((TrialState.PRUNED,)))
    assert pruned
    for trace in figure.data:
        if trace.customdata[0] in pruned:
            assert (trace.line.dash, trace.marker.symbol[-1]) == ("dot", "x")
        else:
            assert trace.line.dash == "solid" and "x" not in trace.marker.symbol


def test_the_legend_has_one_entry_per_state(minimize_study):
    figure = plot_intermediate_values(minimize_study)
    shown = [trace.name for trace in figure.data if trace.showlegend]
    assert sorted(shown) == ["COMPLETE", "FAIL", "PRUNED", "RUNNING"]


def test_without_reports_the_error_says_to_report(two_objective_study):
    with pytest.raises(NothingToPlotError, match=r"trial\.report\(value, step\)"):
        plot_intermediate_values(two_objective_study)
