"""tunelab.visualization.matplotlib: the same figures on matplotlib Axes."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import tunelab as optuna
from tests.visualization.conftest import SINGLE_OBJECTIVE_FIGURES
from tunelab.exceptions import MissingExtraError


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.mark.parametrize("name", SINGLE_OBJECTIVE_FIGURES)
def test_each_figure_is_drawn_on_matplotlib_axes(study, pyplot, name):
    from matplotlib.axes import Axes

    drawn = getattr(optuna.visualization.matplotlib, name)(study)
    every = list(drawn.flat) if isinstance(drawn, np.ndarray) else [drawn]
    assert all(isinstance(ax, Axes) for ax in every)
    assert any(ax.has_data() for ax in every)


def test_the_axes_show_the_plotly_figures_trials(study, pyplot):
    ax = optuna.visualization.matplotlib.plot_optimization_history(study)
    values = ax.collections[0].get_offsets()[:, 1]
    assert list(values) == [trial.value for trial in study.trials]
    axes = optuna.visualization.matplotlib.plot_slice(study, params=["lr", "x"])
    assert axes.shape == (2,) and axes[0].get_xscale() == "log"


def test_the_pareto_front_of_two_objectives(two_objective_study, pyplot):
    ax = optuna.visualization.matplotlib.plot_pareto_front(two_objective_study)
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(two_objective_study.trials)


def test_without_matplotlib_a_figure_says_which_extra_to_install(study, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "tunelab.viz.matplotlib_axes", raising=False)
    with pytest.raises(MissingExtraError, match=r"tunelab\[matplotlib\]"):
        optuna.visualization.matplotlib.plot_slice(study)


def test_is_available_needs_matplotlib_and_plotly(monkeypatch):
    missing = {"matplotlib"}
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name in missing else real(name, *args))
    assert not optuna.visualization.matplotlib.is_available()
    missing.clear()
    assert optuna.visualization.matplotlib.is_available() is (real("matplotlib") is not None)


def test_every_figure_has_its_matplotlib_form():
    figures = set(optuna.visualization.__all__) - {"matplotlib"}
    assert set(optuna.visualization.matplotlib.__all__) == figures


def test_the_hypervolume_history_of_two_objectives(two_objective_study, pyplot):
    # Both objectives lie in [0, 1]; the first is minimized, the second maximized.
    ax = optuna.visualization.matplotlib.plot_hypervolume_history(two_objective_study, [2.0, -1.0])
    (line,) = ax.get_lines()
    assert line.get_ydata()[-1] > 0 and ax.get_ylabel() == "Hypervolume"
