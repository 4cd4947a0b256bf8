"""Pareto-front figures of studies with two, three and more objectives."""

from __future__ import annotations

import pytest

from tests.viz.conftest import completed, numbers
from tunelab.constraints import is_feasible
from tunelab.exceptions import ConfigError
from tunelab.viz import NothingToPlotError, plot_pareto_front


def traces_by_name(figure):
    return {trace.name: trace for trace in figure.data}


def test_the_front_is_exactly_the_studys_best_trials(two_objective_study):
    traces = traces_by_name(plot_pareto_front(two_objective_study))
    assert list(traces["Pareto front"].customdata) == numbers(two_objective_study.best_trials)
    by_number = {record.number: record for record in completed(two_objective_study)}
    front = traces["Pareto front"]
    for number, x, y in zip(front.customdata, front.x, front.y):
        assert (x, y) == by_number[number].values


def test_infeasible_trials_are_drawn_apart_and_never_on_the_front(two_objective_study):
    traces = traces_by_name(plot_pareto_front(two_objective_study))
    infeasible = [r for r in completed(two_objective_study) if not is_feasible(r)]
    assert infeasible, "the fixture must hold infeasible trials"
    assert list(traces["Infeasible"].customdata) == numbers(infeasible)
    assert traces["Infeasible"].marker.symbol == "x"
    drawn = sum(len(trace.customdata) for trace in traces.values())
    assert drawn == len(completed(two_objective_study))


def test_the_axes_are_named_after_the_metrics(two_objective_study):
    figure = plot_pareto_front(two_objective_study)
    assert (figure.layout.xaxis.title.text, figure.layout.yaxis.title.text) == ("error", "speed")
    swapped = plot_pareto_front(two_objective_study, axis_order=["speed", 0])
    assert swapped.layout.xaxis.title.text == "speed"
    assert list(swapped.data[0].x) == list(plot_pareto_front(two_objective_study).data[0].y)


def test_dominated_trials_can_be_left_out(two_objective_study):
    names = [trace.name for trace in plot_pareto_front(two_objective_study).data]
    assert names == ["Pareto front", "Dominated", "Infeasible"]
    figure = plot_pareto_front(two_objective_study, include_dominated_trials=False)
    assert [trace.name for trace in figure.data] == ["Pareto front", "Infeasible"]


def test_three_objectives_give_a_3d_scatter(three_objective_study):
    figure = plot_pareto_front(three_objective_study)
    front = traces_by_name(figure)["Pareto front"]
    assert front.type == "scatter3d"
    assert list(front.customdata) == numbers(three_objective_study.best_trials)
    assert figure.layout.scene.zaxis.title.text == "Objective 2"


def test_targets_choose_what_the_axes_show(two_objective_study):
    figure = plot_pareto_front(
        two_objective_study,
        targets=lambda r: (r.params["x"], r.params["y"]),
        target_names=["x", "y"],
    )
    front = traces_by_name(figure)["Pareto front"]
    assert list(front.customdata) == numbers(two_objective_study.best_trials)
    assert figure.layout.xaxis.title.text == "x"


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"axis_order": [0, 0]}, "axis_order", "repeats an objective"),
        ({"axis_order": [0, "latency"]}, "axis_order", "'latency' is not an objective"),
        ({"targets": lambda r: r.values, "axis_order": [0, 1]}, "axis_order", "not both"),
        ({"targets": lambda r: (*r.values, 1.0, 2.0)}, "targets", "two or three numbers"),
        ({"target_names": ["a", "b", "c"]}, "target_names", "one name per axis"),
    ],
)
def test_wrong_options_name_the_argument(two_objective_study, options, field, message):
    with pytest.raises(ConfigError, match=message) as caught:
        plot_pareto_front(two_objective_study, **options)
    assert caught.value.field == field


def test_a_single_objective_study_has_no_front(minimize_study):
    with pytest.raises(ConfigError, match="one objective.*plot_optimization_history"):
        plot_pareto_front(minimize_study)


def test_more_than_three_objectives_need_an_axis_order(four_objective_study):
    with pytest.raises(ConfigError, match=r"4 objectives.*axis_order=\[0, 1\]"):
        plot_pareto_front(four_objective_study)
    figure = plot_pareto_front(four_objective_study, axis_order=[3, 0, 1])
    assert figure.data[0].type == "scatter3d"
    assert list(figure.data[0].customdata) == numbers(four_objective_study.best_trials)


def test_a_front_needs_completed_trials():
    import tunelab

    with pytest.raises(NothingToPlotError, match="no COMPLETE trial"):
        plot_pareto_front(tunelab.create_study(directions=["minimize", "minimize"]))


def test_constraints_func_decides_feasibility_and_the_front_among_the_feasible(
    two_objective_study,
):
    def constraints(record):
        return [record.params["y"] - 0.5]  # y <= 0.5, in place of the stored x <= 1.6

    traces = traces_by_name(plot_pareto_front(two_objective_study, constraints_func=constraints))
    trials = completed(two_objective_study)
    assert list(traces["Infeasible"].customdata) == numbers(
        [r for r in trials if r.params["y"] > 0.5]
    )
    feasible = [r for r in trials if r.params["y"] <= 0.5]
    front = list(traces["Pareto front"].customdata)
    assert set(front) <= set(numbers(feasible))
    for record in feasible:  # nothing feasible dominates a trial on the front
        error, speed = record.values
        for number in front:
            on_front = next(r for r in trials if r.number == number)
            assert not (error <= on_front.values[0] and speed >= on_front.values[1]
                        and record.values != on_front.values)
