"""Real studies for the figure tests, built once per session: in memory, seeded and fast."""

from __future__ import annotations

import importlib.util
import math

import pytest

import tunelab
from tunelab.trial import Trial, TrialRecord, TrialState

if importlib.util.find_spec("plotly") is None:  # the plots extra is optional
    collect_ignore_glob = ["test_*.py"]

N_SINGLE_OBJECTIVE_TRIALS = 24  # every 6th is pruned, every 6th (shifted by one) fails


def single_objective(trial: Trial) -> float:
    """A loss over float, log, int, stepped, categorical and conditional parameters, reported
    for five steps; trials 4, 10, ... are pruned after reporting and 5, 11, ... fail."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    width = trial.suggest_int("width", 8, 128, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.1)
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    momentum = trial.suggest_float("momentum", 0.0, 0.99) if optimizer == "sgd" else 0.0
    loss = (math.log10(lr) + 2.5) ** 2 + 0.1 * layers + 10.0 / width + dropout + momentum
    for step in range(5):
        trial.report(loss + 1.0 / (step + 1), step)
    if trial.number % 6 == 4:
        raise tunelab.TrialPruned()
    if trial.number % 6 == 5:
        raise ValueError("the loss diverged")
    return loss


def _single_objective_study(direction: str) -> tunelab.Study:
    study = tunelab.create_study(direction=direction, sampler="random", seed=0)
    sign = 1.0 if direction == "minimize" else -1.0
    study.optimize(lambda trial: sign * single_objective(trial), n_trials=N_SINGLE_OBJECTIVE_TRIALS)
    running = study.ask()  # left running: every figure must skip it
    running.suggest_float("lr", 1e-4, 1e-1, log=True)
    running.report(1.0, 0)
    return study


@pytest.fixture(scope="session")
def minimize_study() -> tunelab.Study:
    return _single_objective_study("minimize")


@pytest.fixture(scope="session")
def maximize_study() -> tunelab.Study:
    return _single_objective_study("maximize")


def two_objectives(trial: Trial) -> tuple[float, float]:
    """Error (minimized) against speed (maximized); feasible while x <= 1.6. Trials 3, 11, ...
    are pruned and 6, 14, ... fail, so that figures meet every state here too."""
    x = trial.suggest_float("x", 0.0, 2.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    trial.set_constraints([x - 1.6])
    if trial.number % 8 == 3:
        raise tunelab.TrialPruned()
    if trial.number % 8 == 6:
        raise ValueError("the evaluation crashed")
    return (2.0 - x) ** 2 + y, x - 0.5 * y


@pytest.fixture(scope="session")
def two_objective_study() -> tunelab.Study:
    study = tunelab.create_study(
        directions=["minimize", "maximize"],
        metric_names=["error", "speed"],
        sampler="random",
        seed=1,
    )
    study.optimize(two_objectives, n_trials=40)
    return study


def three_objectives(trial: Trial) -> tuple[float, float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_float("y", 0.0, 1.0)
    z = trial.suggest_float("z", 0.0, 1.0)
    return x + z, y + z, (1.0 - x) * (1.0 - y) + z


@pytest.fixture(scope="session")
def three_objective_study() -> tunelab.Study:
    study = tunelab.create_study(directions=["minimize"] * 3, sampler="random", seed=2)
    study.optimize(three_objectives, n_trials=30)
    return study


@pytest.fixture(scope="session")
def four_objective_study() -> tunelab.Study:
    study = tunelab.create_study(directions=["minimize"] * 4, sampler="random", seed=3)
    study.optimize(lambda trial: (*three_objectives(trial), trial.number), n_trials=8)
    return study


@pytest.fixture(scope="session")
def exclusive_study() -> tunelab.Study:
    """Two parameters that no trial sets together: ``size_a`` or ``size_b``, by ``kind``."""

    def exclusive(trial: Trial) -> float:
        kind = trial.suggest_categorical("kind", ["a", "b"])
        return trial.suggest_float(f"size_{kind}", 0.0, 1.0)

    study = tunelab.create_study(sampler="random", seed=0)
    study.optimize(exclusive, n_trials=6)
    assert {"size_a", "size_b"} <= {name for r in study.trials for name in r.params}
    return study


@pytest.fixture
def empty_study() -> tunelab.Study:
    return tunelab.create_study()


@pytest.fixture(scope="session")
def trained_record() -> TrialRecord:
    """A trial trained by tunelab's real engine: a small MLP on digits for two epochs."""
    pytest.importorskip("torch")
    from tunelab.torch import Task

    task = Task(
        {
            "data": {"name": "digits"},
            "model": {"name": "mlp", "depth": 2, "width": 16},
            "recipe": {"epochs": 2},
            "artifacts": False,
        }
    )
    study = tunelab.create_study(direction=task.direction, seed=0)
    study.optimize(task, n_trials=1)
    (record,) = study.trials
    assert record.state is TrialState.COMPLETE, record.fail_reason
    return record


def numbers(records: list[TrialRecord]) -> list[int]:
    """The trial numbers of ``records``, sorted, to compare with what a figure drew."""
    return sorted(record.number for record in records)


def completed(study: tunelab.Study) -> list[TrialRecord]:
    return study.get_trials((TrialState.COMPLETE,))
