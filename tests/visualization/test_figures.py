"""tunelab.visualization: the plotly figures under Optuna's names and arguments."""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys

import optuna as real_optuna
import plotly.graph_objects as go
import pytest

import tunelab as optuna
import tunelab.viz
from tests.visualization.conftest import MULTI_OBJECTIVE_FIGURES, SINGLE_OBJECTIVE_FIGURES

FIGURES = SINGLE_OBJECTIVE_FIGURES


@pytest.mark.parametrize("name", FIGURES)
def test_each_figure_of_a_finished_study_is_a_plotly_figure_with_data(study, name):
    figure = getattr(optuna.visualization, name)(study)
    assert isinstance(figure, go.Figure)
    assert figure.data


def test_the_names_are_tunelab_viz_figures():
    for name in set(FIGURES) - {"plot_param_importances"}:
        assert getattr(optuna.visualization, name) is getattr(tunelab.viz, name)
    for name in MULTI_OBJECTIVE_FIGURES:
        assert getattr(optuna.visualization, name) is getattr(tunelab.viz, name)


@pytest.mark.parametrize("name", FIGURES + sorted(MULTI_OBJECTIVE_FIGURES))
def test_every_argument_of_optunas_figure_is_taken_where_optuna_takes_it(name):
    theirs = inspect.signature(getattr(real_optuna.visualization, name)).parameters
    ours = inspect.signature(getattr(optuna.visualization, name)).parameters
    assert set(theirs) <= set(ours)
    positional = [p for p in theirs.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == list(ours)[: len(positional)]


def test_param_importances_take_the_evaluator_and_params_in_optunas_order(study):
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator()
    figure = optuna.visualization.plot_param_importances(study, evaluator, ["x", "optimizer"])
    (bars,) = figure.data
    assert list(bars.y) == ["optimizer", "x"]  # the most important on top, drawn last


def test_param_importances_of_a_multi_objective_study(two_objective_study):
    figure = optuna.visualization.plot_param_importances(
        two_objective_study, target=lambda t: t.values[1], target_name="b"
    )
    (bars,) = figure.data
    assert bars.name == "b" and list(bars.y)[-1] == "b"
    each = optuna.visualization.plot_param_importances(two_objective_study)
    assert [bars.name for bars in each.data] == ["Objective 0", "Objective 1"]


def test_the_pareto_front_of_a_multi_objective_study(two_objective_study):
    figure = optuna.visualization.plot_pareto_front(two_objective_study, target_names=["a", "b"])
    assert figure.layout.xaxis.title.text == "a"


def test_is_available_says_whether_plotly_is_installed(monkeypatch):
    assert optuna.visualization.is_available()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    assert not optuna.visualization.is_available()


def test_importing_the_package_needs_no_plotting_library():
    code = (
        "import sys, tunelab.visualization as v; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'plotly', 'matplotlib'}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="plot_terminator_improvement"):
        optuna.visualization.plot_terminator_improvement  # noqa: B018
