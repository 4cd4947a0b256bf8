"""The timeline: when each trial ran, and on which worker."""

from __future__ import annotations

import pytest

import tunelab
from tests.viz.conftest import numbers
from tunelab._attrs import DEVICE_ATTR, WORKER_ATTR
from tunelab.exceptions import ConfigError
from tunelab.trial import TrialState, worker_name
from tunelab.viz import NothingToPlotError, plot_timeline


def test_timeline_has_a_bar_per_started_trial_coloured_by_state(minimize_study):
    figure = plot_timeline(minimize_study)
    bars = {trace.name: list(trace.customdata) for trace in figure.data}
    for state in ("COMPLETE", "PRUNED", "FAIL", "RUNNING"):
        assert bars[state] == numbers(minimize_study.get_trials((TrialState[state],))), state
    assert sum(len(drawn) for drawn in bars.values()) == len(minimize_study.trials)
    assert all(length >= 0 for trace in figure.data for length in trace.x)
    assert figure.layout.xaxis.type == "date"
    # One process ran every trial: one row, this process.
    assert list(figure.layout.yaxis.categoryarray) == [worker_name()]


def test_timeline_has_a_row_per_worker_and_device():
    study = tunelab.create_study()

    def as_two_workers(trial):
        worker = f"host-{trial.number % 2}:1{trial.number % 2}"
        study.storage.set_trial_system_attr(trial.trial_id, WORKER_ATTR, worker)
        if trial.number >= 2:
            trial.set_system_attr(DEVICE_ATTR, "cuda:0")
        return trial.suggest_float("x", 0.0, 1.0)

    study.optimize(as_two_workers, n_trials=4)
    figure = plot_timeline(study)
    assert list(figure.layout.yaxis.categoryarray) == [
        "host-0:10", "host-1:11", "host-0:10 (cuda:0)", "host-1:11 (cuda:0)"
    ]
    assert list(figure.data[0].y) == list(figure.layout.yaxis.categoryarray)  # trials 0-3


def test_timeline_of_a_study_that_never_started_a_trial(empty_study):
    empty_study.enqueue_trial({"x": 1.0})
    with pytest.raises(NothingToPlotError, match=r"no started trial \(it holds 1 WAITING\)"):
        plot_timeline(empty_study)


def test_timeline_can_keep_only_the_most_recent_trials(minimize_study):
    figure = plot_timeline(minimize_study, n_recent_trials=5)
    drawn = sorted(number for trace in figure.data for number in trace.customdata)
    assert drawn == numbers(minimize_study.trials[-5:])


@pytest.mark.parametrize("n_recent_trials", [0, -1, 2.5, True])
def test_n_recent_trials_must_be_a_positive_integer(minimize_study, n_recent_trials):
    with pytest.raises(ConfigError, match="positive integer") as caught:
        plot_timeline(minimize_study, n_recent_trials=n_recent_trials)
    assert caught.value.field == "n_recent_trials"
