"""Real studies for the report tests, trained and reported once per session.

The single-objective study is trained by tunelab's engine (a :class:`~tunelab.torch.Task` on
the digits, on the CPU, seeded), with a pruner that stops slow starters and three enqueued
trials whose learning rate makes them diverge: completed, pruned and failed trials, telemetry,
saved weights and a test part for the ensemble, in a few seconds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import tunelab

if TYPE_CHECKING:
    from tunelab.torch import Task

if importlib.util.find_spec("plotly") is None or importlib.util.find_spec("torch") is None:
    collect_ignore_glob = ["test_*.py"]  # the report needs the plots extra, training torch

N_TRAINED_TRIALS = 12
DIVERGING_LR = 100.0  # SGD on the digits MLP overflows in its first epoch at this rate
N_DIVERGING = 3
PRUNE_BELOW_ACCURACY = 0.5  # after the first epoch: the slow starters of the lr range


def digits_task_spec(artifacts: Path | str) -> dict:
    return {
        "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "seed": 0},
        "model": {"name": "mlp", "depth": 1},
        "recipe": {"epochs": 4, "optimizer": "sgd", "device": "cpu", "seed": 0},
        "search": {
            "lr": {"low": 1e-2, "high": DIVERGING_LR, "log": True},
            "model.width": {"low": 8, "high": 32, "log": True},
            "batch_size": [64, 128],
        },
        "artifacts": str(artifacts),
        "threads": 1,
    }


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[tunelab.Study, Task]:
    """A trained single-objective study and the task that trained it."""
    from tunelab.torch import Task

    task = Task(digits_task_spec(tmp_path_factory.mktemp("artifacts")))
    study = tunelab.create_study(
        name="digits-report",
        direction=task.direction,
        metric_names=[f"val_{task.metric}"],
        sampler="random",
        seed=3,
        pruner={"name": "threshold", "lower": PRUNE_BELOW_ACCURACY, "n_warmup_steps": 1},
    )
    for width in (8, 16, 32)[:N_DIVERGING]:
        study.enqueue_trial({"lr": DIVERGING_LR, "model.width": width, "batch_size": 64})
    study.optimize(task, n_trials=N_TRAINED_TRIALS)
    return study, task


def two_objectives(trial: tunelab.Trial) -> tuple[float, float]:
    """Error (minimized) against speed (maximized), over two parameters."""
    x = trial.suggest_float("x", 0.0, 2.0)
    kind = trial.suggest_categorical("kind", ["small", "large"])
    penalty = 0.5 if kind == "large" else 0.0
    return (2.0 - x) ** 2 + penalty, x - penalty


@pytest.fixture(scope="session")
def multi_objective() -> tunelab.Study:
    study = tunelab.create_study(
        name="error-vs-speed",
        directions=["minimize", "maximize"],
        metric_names=["error", "speed"],
        sampler="random",
        seed=1,
    )
    study.optimize(two_objectives, n_trials=24)
    return study


@pytest.fixture(scope="session")
def reports(
    tmp_path_factory: pytest.TempPathFactory,
    trained: tuple[tunelab.Study, Task],
    multi_objective: tunelab.Study,
) -> dict[str, Path]:
    """The report of each study, written once: "trained" (given its task, trusting the
    storage for the trials' weights) and "multi"."""
    from tunelab.report import write_report

    folder = tmp_path_factory.mktemp("reports")
    study, task = trained
    return {
        "trained": write_report(study, folder / "trained.html", task=task, trust_storage=True),
        "multi": write_report(multi_objective, folder / "multi.html"),
    }
