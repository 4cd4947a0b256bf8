"""Intermediate values (learning curves) of many trials."""

from __future__ import annotations

import pytest

from tests.viz.conftest import numbers
from tunelab.exceptions import ConfigError
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


def test_max_trials_keeps_the_running_the_best_and_the_latest(minimize_study):
    reported = [r for r in minimize_study.trials if r.intermediate_values]
    limit = len(reported) - 2
    figure = plot_intermediate_values(minimize_study, max_trials=limit)
    drawn = [trace.customdata[0] for trace in figure.data]
    assert len(drawn) == limit and drawn == sorted(drawn)
    running = numbers(minimize_study.get_trials((TrialState.RUNNING,)))
    complete = [r for r in reported if r.state is TrialState.COMPLETE]
    best = min(complete, key=lambda r: r.value).number
    assert set(running) <= set(drawn) and best in drawn
    assert reported[-1].number in drawn
    assert f"{limit:,} of {len(reported):,} trials" in figure.layout.title.text


def test_max_trials_above_the_count_draws_every_curve_under_the_plain_title(minimize_study):
    figure = plot_intermediate_values(minimize_study, max_trials=10_000)
    assert len(figure.data) == len([r for r in minimize_study.trials if r.intermediate_values])
    assert figure.layout.title.text == "Intermediate values"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_max_trials_must_be_a_positive_count(minimize_study, bad):
    with pytest.raises(ConfigError, match="max_trials"):
        plot_intermediate_values(minimize_study, max_trials=bad)
