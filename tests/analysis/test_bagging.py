"""Bagging the best trial: bootstrap resamples, retrained models that differ, the bag's score
beside the trial's, and the errors a user can cause."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import tunelab
from tests.analysis.test_ensembles import digits_task, run_study
from tunelab.analysis import bagging
from tunelab.analysis.bagging import (
    BaggingResult,
    BootstrapModel,
    bag_best_trial,
    bootstrap_rows,
    train_on_bootstrap,
)
from tunelab.analysis.ensembles import metric_function
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.torch import Task


def test_bootstrap_rows_draw_with_replacement_by_seed():
    rows = bootstrap_rows(1000, seed=3)

    assert rows.shape == (1000,) and rows.min() >= 0 and rows.max() < 1000
    # About 1 - 1/e of the rows are drawn at least once; the rest of the draws repeat them.
    assert 0.58 < len(np.unique(rows)) / 1000 < 0.68
    np.testing.assert_array_equal(rows, bootstrap_rows(1000, seed=3))
    assert not np.array_equal(rows, bootstrap_rows(1000, seed=4))


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> tuple[tunelab.Study, Task]:
    task = digits_task(tmp_path_factory.mktemp("artifacts"), epochs=3, widths=(8, 32))
    return run_study(task, 4), task


def test_the_bag_averages_models_trained_on_different_resamples(small_study, monkeypatch):
    study, task = small_study
    trained: list[BootstrapModel] = []

    def recording(task, params, seed):
        model = train_on_bootstrap(task, params, seed)
        trained.append(model)
        return model

    monkeypatch.setattr(bagging, "train_on_bootstrap", recording)
    rng_before = torch.get_rng_state()
    result = bag_best_trial(study, task, n=3, seed=7)

    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's random state is kept
    assert isinstance(result, BaggingResult)
    assert result.trial == result.best_single_trial == study.best_trial.number
    assert result.seeds == (7, 8, 9) == tuple(model.seed for model in trained)
    # Each model had its own resample of the training part, and predicts differently.
    n_train = len(task.data.y_train)
    for model in trained:
        assert model.rows.shape == (n_train,)
    for first, second in [(0, 1), (0, 2), (1, 2)]:
        assert not np.array_equal(trained[first].rows, trained[second].rows)
        assert not np.allclose(trained[first].test, trained[second].test)
    # The bag's score is its mean prediction's, beside the best trial's saved model's.
    score = metric_function("accuracy", "classification", task.data.y_test, 10)
    assert result.test_value == pytest.approx(score(np.mean([m.test for m in trained], axis=0)))
    assert result.member_test_values == pytest.approx([score(m.test) for m in trained])
    assert result.best_single_test_value == pytest.approx(
        study.best_trial.user_attrs["test_accuracy"], abs=1e-6)
    assert result.improvement == pytest.approx(result.test_value - result.best_single_test_value)


def test_a_bootstrap_model_is_seeded_and_trained_on_its_own_resample(small_study):
    study, task = small_study
    best = study.best_trial

    model = train_on_bootstrap(task, best.params, seed=0)
    again = train_on_bootstrap(task, best.params, seed=0)

    np.testing.assert_array_equal(model.rows, bootstrap_rows(len(task.data.y_train), 0))
    np.testing.assert_array_equal(model.test, again.test)  # seeded: the same model
    assert model.val.shape == (len(task.data.y_val), 10)
    np.testing.assert_allclose(model.test.sum(axis=1), 1.0, rtol=1e-6)
    # A fair model of the digits after 3 epochs, not a broken one.
    assert np.mean(model.val.argmax(axis=1) == task.data.y_val.numpy()) > 0.5


def test_bagging_errors_name_the_argument_and_the_fix(small_study, tmp_path):
    study, task = small_study
    with pytest.raises(ConfigError, match="bag_best_trial: n=1 must be an integer >= 2") as error:
        bag_best_trial(study, task, n=1)
    assert error.value.field == "n"
    with pytest.raises(ConfigError, match="bag_best_trial: seed=-1 must be an integer >= 0"):
        bag_best_trial(study, task, seed=-1)
    no_weights = Task({"data": {"name": "digits", "test_fraction": 0.2}, "artifacts": False})
    with pytest.raises(ConfigError, match="bag_best_trial: the task keeps no weights"):
        bag_best_trial(study, no_weights)
    empty = tunelab.create_study(name="empty")
    with pytest.raises(TunelabError, match="bag_best_trial: study 'empty' has no completed trial "
                                           "with saved weights"):
        bag_best_trial(empty, task)
    two = tunelab.create_study(name="two", directions=["maximize", "minimize"])
    with pytest.raises(TunelabError, match="bag_best_trial: study 'two' has 2 objectives"):
        bag_best_trial(two, task)
