"""Where the model that won goes wrong: the confusion matrix and the most confident mistakes,
counted on made-up predictions and read from a real trained study."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tunelab
from tunelab.analysis.mistakes import ConfidentMistake, _count, mistakes
from tunelab.exceptions import ConfigError
from tunelab.torch import Task


def test_the_confusion_matrix_counts_true_classes_by_predicted_ones() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    probabilities = np.array([
        [0.9, 0.1, 0.0], [0.2, 0.7, 0.1],  # a 0 taken for a 1
        [0.1, 0.8, 0.1], [0.1, 0.6, 0.3],
        [0.05, 0.0, 0.95], [0.9, 0.05, 0.05],  # a 2 taken for a 0, with 90%
    ])
    result = _count(3, "val", ("zero", "one", "two"), labels, probabilities, 12,
                    np.arange(6.0).reshape(6, 1))

    assert result.confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.mistakes == (ConfidentMistake(5, 2, 0, 0.9), ConfidentMistake(1, 0, 1, 0.7))
    assert result.inputs.tolist() == [[5.0], [1.0]]  # the mistakes' own inputs, in order
    assert result.class_name(2) == "two"


def test_only_the_most_confident_mistakes_are_kept_ties_by_row() -> None:
    labels = np.zeros(5, dtype=int)
    probabilities = np.array([[0.4, 0.6], [0.2, 0.8], [0.4, 0.6], [1.0, 0.0], [0.3, 0.7]])
    result = _count(0, "test", (), labels, probabilities, 2, np.zeros((5, 1)))

    assert [m.index for m in result.mistakes] == [1, 4]
    assert _count(0, "val", (), labels, probabilities, 3, np.zeros((5, 1))).mistakes[2].index == 0
    assert result.class_name(1) == "1"  # bare integer labels


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> tuple[tunelab.Study, Task]:
    folder = tmp_path_factory.mktemp("mistakes")
    task = Task({
        "data": {"name": "digits_images", "val_fraction": 0.2, "seed": 0},
        "model": {"name": "cnn", "depth": 1, "channels": 8},
        "recipe": {"epochs": 2, "optimizer": "adam", "lr": 1e-2, "device": "cpu", "seed": 0},
        "artifacts": str(folder / "artifacts"),
        "threads": 1,
    })
    study = tunelab.create_study(name="mistakes", direction=task.direction)
    study.optimize(task, n_trials=1)
    return study, task


@pytest.mark.slow
def test_a_trained_model_is_scored_on_the_validation_part(digits) -> None:
    study, task = digits
    result = mistakes(study, task, top=5)

    assert result.trial == study.best_trial.number and result.split == "val"
    assert result.confusion.shape == (10, 10)
    assert result.confusion.sum() == len(task.data.y_val)
    # The matrix agrees with the accuracy the trial reported for the same weights.
    assert result.accuracy == pytest.approx(study.best_value, abs=1e-6)
    assert len(result.mistakes) == 5
    confidences = [m.confidence for m in result.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert all(m.label != m.predicted for m in result.mistakes)
    assert result.inputs.shape == (5, 1, 8, 8)
    assert (result.inputs == task.data.x_val[[m.index for m in result.mistakes]].numpy()).all()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "field"),
    [({"split": "train"}, "split"), ({"split": "test"}, "split"), ({"top": -1}, "top"),
     ({"trial": 7}, "trial")],
)
def test_bad_options_name_the_field(digits, options: dict, field: str) -> None:
    study, task = digits
    with pytest.raises(ConfigError) as error:
        mistakes(study, task, **options)
    assert error.value.field == field


@pytest.mark.slow
def test_a_regression_has_no_classes_to_confuse(tmp_path: Path) -> None:
    task = Task({"data": {"name": "diabetes"}, "model": {"name": "mlp", "width": 8},
                 "recipe": {"epochs": 1}, "artifacts": str(tmp_path / "artifacts")})
    study = tunelab.create_study(direction=task.direction)
    study.optimize(task, n_trials=1)
    with pytest.raises(ConfigError, match="regression, which has no classes to confuse"):
        mistakes(study, task)
