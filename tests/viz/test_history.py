"""Optimization history and empirical distribution figures."""

from __future__ import annotations

import numpy as np
import pytest

import tunelab
from tests.viz.conftest import completed, numbers
from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError
from tunelab.viz import NothingToPlotError, plot_edf, plot_optimization_history


def traces_by_name(figure):
    return {trace.name: trace for trace in figure.data}


def test_history_draws_each_completed_trial_once(minimize_study):
    figure = plot_optimization_history(minimize_study)
    values = traces_by_name(figure)["Objective value"]
    assert list(values.customdata) == numbers(completed(minimize_study))
    assert list(values.y) == [record.value for record in completed(minimize_study)]
    assert figure.layout.yaxis.title.text == "Objective value"


@pytest.mark.parametrize(
    ("study_fixture", "monotone"),
    [("minimize_study", np.less_equal), ("maximize_study", np.greater_equal)],
)
def test_the_best_so_far_line_follows_the_direction(request, study_fixture, monotone):
    study = request.getfixturevalue(study_fixture)
    best = np.array(traces_by_name(plot_optimization_history(study))["Best value"].y)
    assert len(best) == len(completed(study))
    assert np.all(monotone(best[1:], best[:-1]))
    assert best[-1] == study.best_value


def test_a_multi_objective_history_needs_a_target(two_objective_study):
    with pytest.raises(ConfigError, match="target=") as caught:
        plot_optimization_history(two_objective_study)
    assert caught.value.field == "target"


def test_a_multi_objective_history_keeps_infeasible_trials_off_the_best_line(two_objective_study):
    figure = plot_optimization_history(two_objective_study, target="speed")
    traces = traces_by_name(figure)
    infeasible = [r for r in completed(two_objective_study) if not is_feasible(r)]
    assert infeasible, "the fixture must hold infeasible trials"
    assert list(traces["Infeasible"].customdata) == numbers(infeasible)
    assert len(traces["speed"].customdata) + len(infeasible) == len(completed(two_objective_study))
    best = np.array(traces["Best value"].y)
    assert np.all(best[1:] >= best[:-1])  # speed is maximized
    assert best[-1] == max(r.values[1] for r in completed(two_objective_study) if is_feasible(r))


def test_a_callable_target_has_no_best_line_since_its_direction_is_unknown(minimize_study):
    figure = plot_optimization_history(
        minimize_study, target=lambda r: r.params["lr"], target_name="lr"
    )
    assert [trace.name for trace in figure.data] == ["lr"]
    assert list(figure.data[0].y) == [r.params["lr"] for r in completed(minimize_study)]


def test_a_study_without_completed_trials_says_how_to_get_one(empty_study):
    expected = "no COMPLETE trial.*holds no trials.*study.optimize"
    with pytest.raises(NothingToPlotError, match=expected):
        plot_optimization_history(empty_study)


def test_the_error_says_what_the_study_holds_instead():
    study = tunelab.create_study()
    study.optimize(lambda trial: float("nan"), n_trials=2)
    with pytest.raises(NothingToPlotError, match=r"\(it holds 2 FAIL\)"):
        plot_optimization_history(study)


def test_edf_rises_to_one_over_the_sorted_values(minimize_study):
    (curve,) = plot_edf(minimize_study).data
    values = sorted(record.value for record in completed(minimize_study))
    assert list(curve.x) == values
    assert np.allclose(curve.y, np.arange(1, len(values) + 1) / len(values))


def test_edf_compares_studies_and_skips_one_without_completed_trials(
    minimize_study, two_objective_study, empty_study
):
    figure = plot_edf([minimize_study, empty_study, two_objective_study], target=0)
    assert [trace.name for trace in figure.data] == [
        minimize_study.study_name,
        two_objective_study.study_name,
    ]
    assert len(figure.data[1].x) == len(completed(two_objective_study))
    with pytest.raises(NothingToPlotError, match="none of the studies"):
        plot_edf([empty_study, tunelab.create_study()])


def test_several_studies_are_drawn_each_under_its_name(minimize_study, maximize_study):
    figure = plot_optimization_history([minimize_study, maximize_study])
    names = [trace.name for trace in figure.data]
    for study in (minimize_study, maximize_study):
        assert f"Objective value of {study.study_name}" in names
        assert f"Best value of {study.study_name}" in names


def test_several_studies_with_error_bars_give_mean_and_spread():
    studies = [tunelab.create_study(sampler="random", seed=seed) for seed in range(3)]
    for study in studies:
        study.optimize(lambda trial: trial.suggest_float("x", 0.0, 1.0), n_trials=6)
    values, best, band = plot_optimization_history(studies, error_bar=True).data
    per_trial = np.array([[record.value for record in study.trials] for study in studies])
    assert list(values.x) == list(range(6))
    assert np.allclose(values.y, per_trial.mean(axis=0))
    assert np.allclose(values.error_y.array, per_trial.std(axis=0))
    best_so_far = np.minimum.accumulate(per_trial, axis=1)
    assert np.allclose(best.y, best_so_far.mean(axis=0))
    assert band.fill == "toself"
    assert np.allclose(band.y[:6], best_so_far.mean(axis=0) + best_so_far.std(axis=0))


def test_a_history_of_studies_without_completed_trials_says_so(empty_study):
    with pytest.raises(NothingToPlotError, match="none of the studies"):
        plot_optimization_history([empty_study, tunelab.create_study()], error_bar=True)
