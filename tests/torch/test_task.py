from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tunelab
from tunelab.config import read_study_file
from tunelab.exceptions import ConfigError
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.telemetry import artifact_dir, read_telemetry
from tunelab.torch import task as task_module
from tunelab.torch.quickstart import QUICKSTART_STUDY_NAME, QUICKSTART_TASK
from tunelab.torch.task import Task

SENSIBLE = {
    "lr": 3e-3,
    "optimizer": "adam",
    "model.width": 64,
    "model.dropout": 0.1,
    "batch_size": 64,
}


def quick_task(tmp_path, **changes) -> Task:
    spec = {**QUICKSTART_TASK, "recipe": {"epochs": 4}, "artifacts": str(tmp_path), **changes}
    return Task(spec)


def run(task: Task, *enqueued: dict, pruner=None) -> tunelab.Study:
    study = tunelab.create_study(name="t", direction=task.direction, pruner=pruner, seed=0)
    for params in enqueued:
        study.enqueue_trial(params)
    study.optimize(task, n_trials=len(enqueued) or 2)
    return study


def test_the_search_section_becomes_distributions_in_order():
    task = Task(QUICKSTART_TASK)
    space = {p.name: p.distribution for p in task.search}
    assert list(space) == ["lr", "optimizer", "momentum", "model.width", "model.dropout",
                           "batch_size"]
    assert space["lr"] == FloatDistribution(1e-4, 3e-1, log=True)
    assert space["model.width"] == IntDistribution(16, 256, log=True)
    assert space["batch_size"] == CategoricalDistribution((16, 32, 64, 128))
    momentum = next(p for p in task.search if p.name == "momentum")
    assert momentum.when == {"optimizer": ("sgd",)}


def test_a_task_trains_reports_every_epoch_and_keeps_telemetry_and_weights(tmp_path):
    task = quick_task(tmp_path)
    study = run(task, SENSIBLE)
    record = study.trials[0]
    assert record.state is tunelab.TrialState.COMPLETE
    assert record.value >= 0.9
    assert record.value == max(record.intermediate_values.values())
    assert sorted(record.intermediate_values) == [1, 2, 3, 4]
    assert len(read_telemetry(record)) == 4
    assert (tmp_path / "t" / "trial-0" / "best.pt").is_file()
    assert artifact_dir(record) == str((tmp_path / "t" / "trial-0").resolve())
    assert record.user_attrs["epochs_run"] == 4


def test_conditional_entries_are_suggested_only_when_their_condition_holds(tmp_path):
    task = quick_task(tmp_path)
    sgd = {**SENSIBLE, "optimizer": "sgd", "momentum": 0.9}
    study = run(task, SENSIBLE, sgd)
    assert "momentum" not in study.trials[0].params
    assert study.trials[1].params["momentum"] == 0.9


def test_the_same_trial_number_gives_the_same_value(tmp_path):
    task = quick_task(tmp_path, artifacts=False)
    first = run(task, SENSIBLE).trials[0].value
    assert run(task, SENSIBLE).trials[0].value == first


def test_a_pruned_trial_stops_after_the_epoch_the_pruner_refused(tmp_path):
    task = quick_task(tmp_path, artifacts=False)
    poor = {**SENSIBLE, "lr": 1e-4, "model.width": 16}
    study = run(task, SENSIBLE, SENSIBLE, poor, pruner={"name": "median", "n_startup_trials": 2})
    pruned = study.trials[2]
    assert pruned.state is tunelab.TrialState.PRUNED
    assert list(pruned.intermediate_values) == [1]


def test_model_options_reach_the_model_builder(tmp_path):
    task = quick_task(tmp_path, artifacts=False)
    recipe, options = task.resolve({"lr": 0.01, "model.width": 24})
    assert recipe.lr == 0.01
    model = task.build_model(options, recipe)
    assert model.blocks[0].linear.out_features == 24


def test_a_searched_binary_loss_gets_a_single_output(tmp_path):
    task = Task({"data": "breast_cancer", "recipe": {"epochs": 2}, "artifacts": False,
                 "search": {"loss": ["bce", "cross_entropy"]}})
    study = run(task, {"loss": "bce"}, {"loss": "cross_entropy"})
    assert [t.state for t in study.trials] == [tunelab.TrialState.COMPLETE] * 2


def test_pretraining_runs_once_and_is_reused(tmp_path):
    spec = {
        "data": {"name": "digits_images", "classes": [5, 6, 7, 8, 9], "train_per_class": 5},
        "model": {"name": "cnn", "depth": 1, "channels": 8},
        "pretrain": {"data": {"name": "digits_images", "classes": [0, 1, 2, 3, 4]},
                     "recipe": {"epochs": 1}},
        "recipe": {"epochs": 1, "freeze": ["blocks.0.*"]},
        "artifacts": str(tmp_path),
    }
    task = Task(spec)
    path = task.pretrained_weights()
    stamp = path.stat().st_mtime_ns
    assert task.pretrained_weights() == path and path.stat().st_mtime_ns == stamp
    study = run(task, {})
    assert study.trials[0].state is tunelab.TrialState.COMPLETE
    saved = torch.load(path, weights_only=True)
    trained = torch.load(tmp_path / "t" / "trial-0" / "best.pt", weights_only=True)
    assert torch.equal(saved["blocks.0.conv.weight"], trained["blocks.0.conv.weight"])


def test_regression_tasks_minimize_mse_unless_told_otherwise():
    assert Task({"data": "diabetes"}).direction == "minimize"
    assert Task({"data": "diabetes", "recipe": {"metric": "r2"}}).direction == "maximize"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"dataa": {}}, "dataa", ["did you mean 'data'"]),
        ({"recipe": {"lr": -1}}, "recipe.lr", ["'lr'", "outside"]),
        ({"recipe": {"optimiser": "adam"}}, "recipe.optimiser", ["did you mean 'optimizer'"]),
        ({"search": {"learning_rate": [0.1]}}, "search.learning_rate", ["model.<option>"]),
        ({"search": {"lr": {"low": 1}}}, "search.lr", ["low and high"]),
        ({"search": {"lr": {"low": 0.1, "high": 0.01}}}, "search.lr", ["0.1"]),
        ({"search": {"lr": {"low": 0.1, "high": 1, "when": {"x": 1}}}}, "search.lr.when",
         ["'x'"]),
        ({"search": {"lr": {"low": 0.1, "high": 1, "type": "str"}}}, "search.lr.type",
         ["int or float"]),
        ({"artifacts": 3}, "artifacts", ["folder path"]),
        ({"threads": 0}, "threads", ["positive"]),
        ({"pretrain": {"recipe": {}}}, "pretrain.data", ["'data' is missing"]),
    ],
)
def test_a_bad_task_names_the_field(changes, field, words):
    with pytest.raises(ConfigError) as caught:
        Task({**QUICKSTART_TASK, **changes})
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model": {"name": "cnn"}, "search": {}}, "model.name"),
        ({"model": {"name": "cnn"}}, "search.model.width"),
        ({"search": {"model.widht": [8, 16]}}, "search.model.widht"),
        ({"search": {"model.width": [10**11, 10**12]}}, "search.model.width"),
        ({"model": {"name": "mlp", "width": 10**11}, "search": {}}, "model.width"),
        ({"data": {"name": "digits", "normalise": True}}, "data.normalise"),
        ({"recipe": {"rotation": 10}}, "augment.rotation"),
        ({"recipe": {"channels_last": True}}, "channels_last"),
        ({"recipe": {"precision": "fp16", "device": "cpu"}}, "precision"),
    ],
)
def test_validate_catches_what_only_data_and_model_reveal(changes, field):
    task = Task({**QUICKSTART_TASK, **changes})
    with pytest.raises(ConfigError) as caught:
        task.validate()
    assert caught.value.field == field


def test_speed_settings_are_searched_like_any_recipe_field(tmp_path):
    search = {"gradient_accumulation_steps": [1, 2], "precision": ["fp32", "bf16"]}
    task = quick_task(tmp_path, artifacts=False, recipe={"epochs": 1, "device": "cpu"},
                      search=search)

    study = run(task, {"gradient_accumulation_steps": 2, "precision": "bf16"},
                {"gradient_accumulation_steps": 1, "precision": "fp32"})

    assert [t.state for t in study.trials] == [tunelab.TrialState.COMPLETE] * 2
    assert study.trials[0].params == {"gradient_accumulation_steps": 2, "precision": "bf16"}


def test_validation_tries_the_smallest_searched_value_and_a_trial_drawing_too_large_fails(
    tmp_path,
):
    task = quick_task(tmp_path, artifacts=False, recipe={"epochs": 1},
                      search={"model.width": [10**11, 16]})
    task.validate()

    study = run(task, {"model.width": 16}, {"model.width": 10**11})

    ok, too_large = study.trials
    assert ok.state is tunelab.TrialState.COMPLETE
    assert too_large.state is tunelab.TrialState.FAIL
    assert "width 100000000000" in too_large.fail_reason
    assert "more than the limit of 2,147,483,648" in too_large.fail_reason


def test_the_quickstart_study_name_is_stable():
    assert QUICKSTART_STUDY_NAME == "quickstart-digits-mlp"


def test_the_digits_mlp_example_is_the_quickstart_task():
    example = Path(__file__).parents[2] / "examples" / "digits_mlp.yaml"
    assert read_study_file(example)["task"] == QUICKSTART_TASK


def test_worker_processes_receive_the_loaded_data_and_need_not_load_it(monkeypatch):
    task = Task({"data": {"name": "digits", "seed": 0}})
    assert pickle.loads(pickle.dumps(task))._data is None  # nothing loaded, nothing shipped
    task.validate()
    pickled = pickle.dumps(task)
    clone = pickle.loads(pickled)
    assert clone._data is not None
    assert torch.equal(clone.data.x_train, task.data.x_train)
    # A new process reads the shipped data: scikit-learn, which loads digits, is not imported.
    code = (
        "import pickle, sys; task = pickle.load(sys.stdin.buffer); task.data; "
        "print(sorted(m for m in ('sklearn', 'scipy') if m in sys.modules))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], input=pickled, capture_output=True, check=True
    ).stdout
    assert shown.decode().strip() == "[]"
    monkeypatch.setattr(task_module, "SHIPPED_DATA_BYTES", 1000)  # digits is larger: not shipped
    larger = pickle.loads(pickle.dumps(task))
    assert larger._data is None
    assert torch.equal(larger.data.y_val, task.data.y_val)  # loaded again, the same split
