"""A finished study for the figures under Optuna's names (plotly is an optional extra)."""

from __future__ import annotations

import importlib.util

import pytest

import tunelab as optuna

if importlib.util.find_spec("plotly") is None:
    collect_ignore_glob = ["test_*.py"]


# Figures of several objectives; every other figure is drawn for a single-objective study.
MULTI_OBJECTIVE_FIGURES = {"plot_pareto_front", "plot_hypervolume_history"}
SINGLE_OBJECTIVE_FIGURES = sorted(
    name
    for name in optuna.visualization.__all__
    if name.startswith("plot_") and name not in MULTI_OBJECTIVE_FIGURES
)


def objective(trial):
    x = trial.suggest_float("x", -4.0, 4.0)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam"])
    for step in range(3):
        trial.report(x**2 + 1.0 / (step + 1), step)
    return x**2 + (0.5 if optimizer == "sgd" else 0.0) + 0.01 * lr


@pytest.fixture(scope="session")
def study():
    study = optuna.create_study(sampler="random", seed=0)
    study.optimize(objective, n_trials=25)
    return study


@pytest.fixture(scope="session")
def two_objective_study():
    study = optuna.create_study(directions=["minimize", "maximize"], sampler="random", seed=0)
    study.optimize(
        lambda trial: (trial.suggest_float("a", 0.0, 1.0), trial.suggest_float("b", 0.0, 1.0)),
        n_trials=25,
    )
    return study
