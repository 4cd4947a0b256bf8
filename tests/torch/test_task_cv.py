"""Cross-validated tasks (``cv:`` in a task): folds over the merged training and validation
parts, one fresh model per fold, pruning between folds and per-fold results."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import tunelab
from tunelab.config import load_study_config
from tunelab.exceptions import ConfigError
from tunelab.telemetry import read_telemetry
from tunelab.torch.task import CrossValidation, Task
from tunelab.trial import TrialState

IRIS_CV = {
    "data": {"name": "iris", "test_fraction": 0.2},
    "model": {"name": "mlp", "width": 16, "depth": 1},
    "recipe": {"epochs": 2, "batch_size": 16, "optimizer": "adam"},
    "search": {"lr": {"low": 1e-5, "high": 1e-1, "log": True}},
    "cv": 5,
    "artifacts": False,
    "threads": 1,
}


def run(task: Task, *learning_rates: float, pruner=None) -> tunelab.Study:
    study = tunelab.create_study(direction=task.direction, pruner=pruner, seed=0)
    for lr in learning_rates:
        study.enqueue_trial({"lr": lr})
    study.optimize(task, n_trials=len(learning_rates))
    return study


def test_a_five_fold_task_prunes_at_a_fold_and_stores_every_trials_folds_without_warnings(
    tmp_path,
):
    task = Task({**IRIS_CV, "artifacts": str(tmp_path)})
    task.validate()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The last learning rate is too small to move the model in two epochs.
        study = run(task, 3e-2, 5e-2, 1e-5, pruner={"name": "median", "n_startup_trials": 2})
    assert [str(w.message) for w in caught] == []
    good, better, poor = study.trials
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 2 + [TrialState.PRUNED]
    for record in (good, better):
        assert list(record.intermediate_values) == [0, 1, 2, 3, 4]
        scores = record.user_attrs["cv_scores"]
        assert record.value == pytest.approx(np.mean(scores))
        # The fold's score is its best epoch, and the epochs are kept per fold.
        curves = record.system_attrs["cv_curves"]
        assert [max(v for _, v in curve) for curve in curves] == pytest.approx(scores)
        assert all([step for step, _ in curve] == [1, 2] for curve in curves)
        assert [len(t) for t in record.system_attrs["fold_telemetry"]] == [2] * 5
        assert len(record.user_attrs["fold_test_accuracy"]) == 5  # the test part is scored
        assert read_telemetry(record) == []  # no fold overwrites the trial's own telemetry
    last_fold = max(poor.intermediate_values)
    assert last_fold < 4
    assert len(poor.user_attrs["cv_scores"]) == last_fold + 1
    assert poor.system_attrs["cv_curves"][last_fold + 1:] == [None] * (4 - last_fold)
    folders = sorted(p.name for p in (tmp_path / study.study_name / "trial-0").iterdir())
    assert folders == [f"fold-{i}" for i in range(5)]
    assert (tmp_path / study.study_name / "trial-0" / "fold-4" / "best.pt").is_file()


def test_the_folds_split_the_training_and_validation_parts_by_class_and_leave_the_test_out():
    task = Task(IRIS_CV)
    data = task.data
    merged = np.concatenate([data.y_train.numpy(), data.y_val.numpy()])
    folds = task.folds()
    assert len(folds) == 5
    assert sorted(np.concatenate([f.validation for f in folds])) == list(range(len(merged)))
    for fold in folds:  # 40 of each iris class outside the test part: 8 per fold
        assert np.bincount(merged[fold.validation]).tolist() == [8, 8, 8]
    assert len(merged) + len(data.y_test) == 150


def test_the_same_trial_gives_the_same_value():
    task = Task({**IRIS_CV, "cv": {"folds": 3, "seed": 1}})
    assert run(task, 3e-2).trials[0].value == run(task, 3e-2).trials[0].value


def test_a_regression_task_gets_plain_folds():
    task = Task({"data": "diabetes", "cv": 3, "artifacts": False})
    assert task.direction == "minimize"
    assert len(task.folds()) == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (False, None),
        (4, CrossValidation(folds=4)),
        ({"stratified": False, "seed": 3}, CrossValidation(5, False, 3)),
    ],
)
def test_the_cv_entry_is_a_number_of_folds_or_a_mapping(value, expected):
    assert Task({**IRIS_CV, "cv": value}).cv == expected


@pytest.mark.parametrize(
    ("value", "field", "words"),
    [
        (1, "cv.folds", ["folds=1", ">= 2", "remove cv"]),
        ({"folds": 2.5}, "cv.folds", ["folds=2.5"]),
        ({"fold": 5}, "cv.fold", ["did you mean 'folds'"]),
        ({"stratified": "yes"}, "cv.stratified", ["true or false"]),
        ({"seed": -1}, "cv.seed", ["seed=-1"]),
        ("five", "cv", ["number of folds"]),
        (True, "cv", ["number of folds"]),
    ],
)
def test_a_bad_cv_entry_names_the_field(value, field, words):
    with pytest.raises(ConfigError) as caught:
        Task({**IRIS_CV, "cv": value})
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"cv": 200}, ["200 folds", "hold 120"]),
        ({"data": {"name": "iris", "train_per_class": 2, "val_fraction": 0.1}, "cv": 10},
         ["class 'setosa' has 7 sample(s)", "lower folds to 7"]),
        ({"data": "diabetes", "cv": {"stratified": True}}, ["regression"]),
    ],
)
def test_validate_checks_the_folds_against_the_data(changes, words):
    task = Task({**IRIS_CV, **changes})
    with pytest.raises(ConfigError) as caught:
        task.validate()
    assert caught.value.field in ("cv.folds", "cv.stratified")
    for word in words:
        assert word in str(caught.value)


def test_a_study_file_error_in_cv_names_the_task_field(tmp_path: Path):
    path = tmp_path / "study.yaml"
    path.write_text("name: t\nn_trials: 1\ntask:\n  data: {name: iris}\n  cv: {folds: 1}\n")
    with pytest.raises(ConfigError, match=r"field 'task\.cv\.folds'") as caught:
        load_study_config(path)
    assert caught.value.field == "task.cv.folds"
