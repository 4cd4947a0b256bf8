"""A task's objectives and limits: costs measured and returned, models over a limit never
trained, trainings over one stopped in the epoch they went over, alone and fused."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import torch

import tunelab
from tunelab._attrs import COSTS_ATTR, OVER_LIMIT_ATTR
from tunelab.exceptions import ConfigError
from tunelab.telemetry import read_telemetry
from tunelab.torch import costs
from tunelab.torch.task import Task
from tunelab.trial import TrialState

IRIS = {
    "data": {"name": "iris", "seed": 0},
    "model": {"name": "mlp", "depth": 1, "width": 8},
    "recipe": {"epochs": 3, "batch_size": 16, "lr": 0.05, "optimizer": "adam"},
    "artifacts": False,
    "threads": 1,
    "search": {"model.width": [4, 8, 16, 64]},
}


def mlp_parameters(width: int) -> int:
    """An iris MLP of one hidden layer: 4 inputs, 3 classes."""
    return 4 * width + width + width * 3 + 3


def iris_task(**changes: Any) -> Task:
    return Task({**IRIS, **changes})


def run(task: Task, widths: list[int], fuse: int | None = None) -> tunelab.Study:
    study = tunelab.create_study(
        name="costs", directions=task.directions, metric_names=list(task.objective_names),
        sampler="random", seed=0,
    )
    for width in widths:
        study.enqueue_trial({"model.width": width})
    study.optimize(task, n_trials=len(widths), fuse=fuse, callbacks=task.callbacks())
    return study


@pytest.fixture
def forward_passes(monkeypatch: pytest.MonkeyPatch) -> Counter[int]:
    """Forward passes of every model a task builds, by the width of its hidden layer."""
    counts: Counter[int] = Counter()
    build = Task.seeded_model

    def counting(task: Task, options: Any, recipe: Any) -> torch.nn.Module:
        model = build(task, options, recipe)
        width = model.blocks[0].linear.out_features
        model.register_forward_hook(lambda *args: counts.update([width]))
        return model

    monkeypatch.setattr(Task, "seeded_model", counting)
    return counts


@pytest.fixture
def five_second_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves 5 s between two readings: every epoch takes 5 s. (Set on the module
    object this file imported, the one the trainers use, whatever another test left in
    sys.modules.)"""
    ticks = itertools.count()
    monkeypatch.setattr(costs, "clock", lambda: 5.0 * next(ticks))


def test_objectives_name_the_study_its_metrics_and_directions() -> None:
    task = iris_task(objectives=["parameters", "val_accuracy", "inference_latency"],
                     limits={"train_seconds": 60})

    assert task.objective_names == ("parameters", "val_accuracy", "inference_latency")
    assert task.directions == ["minimize", "maximize", "minimize"]
    assert task.costs == ("parameters", "inference_latency", "train_seconds")
    plain = iris_task()
    assert (plain.objective_names, plain.directions, plain.costs) == (
        ("val_accuracy",), ["maximize"], ()
    )


@pytest.mark.slow
def test_a_trial_returns_its_metric_and_costs_in_the_order_named() -> None:
    task = iris_task(objectives=["val_accuracy", "parameters", "flops", "train_seconds",
                                 "inference_latency"])
    study = run(task, [8, 16])

    for record, width in zip(study.trials, [8, 16]):
        assert record.state is TrialState.COMPLETE
        accuracy, parameters, flops, seconds, latency = record.values
        assert parameters == mlp_parameters(width)
        assert flops == 2 * (4 * width + width * 3)
        assert 0.0 < accuracy <= 1.0 and seconds > 0.0 and latency > 0.0
        telemetry = read_telemetry(record)
        assert seconds == pytest.approx(sum(e.epoch_time for e in telemetry))
        assert record.user_attrs[COSTS_ATTR] == {
            "parameters": parameters, "flops": flops, "train_seconds": seconds,
            "inference_latency": latency,
        }
        # A multi-objective trial has several values: it reports none, and keeps telemetry.
        assert record.intermediate_values == {} and len(telemetry) == 3
    assert OVER_LIMIT_ATTR not in study.trials[0].user_attrs


@pytest.mark.slow
def test_a_model_over_a_parameter_limit_never_runs_and_completes_infeasible(
    forward_passes: Counter[int],
) -> None:
    limit = mlp_parameters(16)
    task = iris_task(objectives=["val_accuracy", "parameters", "train_seconds"],
                     limits={"parameters": limit})
    study = run(task, [8, 64, 16, 64])

    assert forward_passes[64] == 0
    assert forward_passes[8] > 0 and forward_passes[16] > 0
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 4
    trained, refused = study.trials[0], study.trials[1]
    assert refused.user_attrs[OVER_LIMIT_ATTR] == (
        f"parameters {mlp_parameters(64):,} is over the limit {limit:,} (refused before training)"
    )
    assert refused.system_attrs["constraints:parameters"] == pytest.approx(
        mlp_parameters(64) / limit - 1
    )
    assert trained.system_attrs["constraints:parameters"] < 0
    assert not read_telemetry(refused)
    # What it has: the metric of a model that learned nothing (iris's three classes are as
    # large, so about a third), its parameters, and no training time.
    accuracy, parameters, seconds = refused.values
    assert 0.2 < accuracy < 0.45
    assert (parameters, seconds) == (mlp_parameters(64), 0.0)
    assert refused.user_attrs[COSTS_ATTR] == {"parameters": mlp_parameters(64)}
    assert {r.number for r in study.best_trials} <= {0, 2}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("limit", "epochs_run", "message"),
    [
        ({"train_seconds": 12}, 3, "train_seconds 15 s is over the limit 12 s"),
        ({"train_seconds_per_epoch": "4000ms"}, 1, "train_seconds_per_epoch 5 s is over the "
                                                   "limit 4 s"),
    ],
    ids=["total", "per-epoch"],
)
def test_a_training_over_a_time_limit_stops_in_the_epoch_it_went_over(
    five_second_epochs: None, limit: dict[str, Any], epochs_run: int, message: str
) -> None:
    task = iris_task(recipe={**IRIS["recipe"], "epochs": 10}, limits=limit)
    study = run(task, [8])

    record = study.trials[0]
    assert record.state is TrialState.COMPLETE
    assert record.user_attrs["epochs_run"] == epochs_run
    assert len(read_telemetry(record)) == epochs_run
    assert record.user_attrs[OVER_LIMIT_ATTR] == (
        f"{message} (training stopped after epoch {epochs_run} of 10)"
    )
    (name,) = limit
    assert record.system_attrs[f"constraints:{name}"] == pytest.approx(0.25)
    assert record.value == max(record.intermediate_values.values())  # one objective: reported
    assert study.best_trials == []


@pytest.mark.slow
def test_fused_members_keep_their_own_model_costs_and_share_the_time(
    five_second_epochs: None,
) -> None:
    task = iris_task(recipe={**IRIS["recipe"], "epochs": 2},
                     objectives=["val_accuracy", "parameters", "train_seconds"],
                     limits={"parameters": mlp_parameters(16), "train_seconds": 60})
    study = run(task, [8, 16, 64], fuse=3)

    members, refused = study.trials[:2], study.trials[2]
    for record, width in zip(members, [8, 16]):
        telemetry = read_telemetry(record)
        # Two members trained together: each epoch's 5 s is shared between them.
        assert [e.epoch_time for e in telemetry] == [2.5, 2.5]
        assert record.values[1:] == (mlp_parameters(width), 5.0)
        assert OVER_LIMIT_ATTR not in record.user_attrs
    assert "refused before training" in refused.user_attrs[OVER_LIMIT_ATTR]
    assert not read_telemetry(refused)


@pytest.mark.slow
def test_a_fused_member_over_a_time_limit_leaves_after_that_epoch(
    five_second_epochs: None,
) -> None:
    task = iris_task(recipe={**IRIS["recipe"], "epochs": 6}, limits={"train_seconds": 6})
    study = run(task, [8, 16], fuse=2)

    for record in study.trials:  # 2.5 s a member per epoch: over 6 s in the third
        assert record.user_attrs["epochs_run"] == 3
        assert record.user_attrs[OVER_LIMIT_ATTR].endswith(
            "(training stopped after epoch 3 of 6)"
        )


Check = Callable[[Task], object]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"objectives": ["val_accuracy", "paramaters"]}, "objectives[1]",
         ["'paramaters' is neither the task's metric", "did you mean 'parameters'"]),
        ({"objectives": ["val_acuracy"]}, "objectives[0]", ["did you mean 'val_accuracy'"]),
        ({"objectives": "val_accuracy"}, "objectives", ["must be a list of names"]),
        ({"objectives": []}, "objectives", ["must be a list of names"]),
        ({"objectives": ["val_accuracy", "parameters", "parameters"]}, "objectives",
         ["'parameters' is listed twice"]),
        ({"objectives": ["parameters"]}, "objectives", ["task's metric exactly once"]),
        ({"objectives": ["val_accuracy", "val_f1"]}, "objectives", ["exactly once"]),
        ({"limits": {"parametres": 100}}, "limits.parametres",
         ["did you mean 'parameters'"]),
        ({"limits": {"peak_memory": "1s"}}, "limits.peak_memory",
         ["'s'", "does not measure peak_memory"]),
        ({"limits": {"parameters": -5}}, "limits.parameters", ["positive"]),
        ({"limits": 5}, "limits", ["must be a mapping"]),
        ({"cv": 3, "limits": {"parameters": 100}}, "cv", ["cross-validation", "remove cv"]),
    ],
)
def test_bad_objectives_and_limits_name_the_field(
    changes: dict[str, Any], field: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        iris_task(**changes)
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


def test_validation_checks_that_the_objective_is_the_tasks_metric() -> None:
    task = iris_task(objectives=["val_mse", "parameters"])
    with pytest.raises(ConfigError) as caught:
        task.validate()
    assert caught.value.field == "objectives"
    assert "'val_mse' is not this task's metric, which is 'accuracy'" in str(caught.value)
    assert "write 'val_accuracy'" in str(caught.value)
    iris_task(objectives=["val_f1", "parameters"], recipe={"metric": "f1"}).validate()
