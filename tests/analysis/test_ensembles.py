"""Ensembles: the combination rules on hand-made arrays, then real studies on digits."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest
import torch

import tunelab
from tunelab.analysis import ensembles
from tunelab.analysis.ensembles import (
    METHODS,
    EnsembleResult,
    average_predictions,
    build_ensemble,
    build_ensembles,
    greedy_selection,
    member_predictions,
    one_hot,
    vote,
)
from tunelab.analysis.stacking import fit_stacker
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.torch import Task


def accuracy_of(y: np.ndarray):
    return lambda probabilities: float(np.mean(probabilities.argmax(axis=-1) == y))


def negative_mse_of(y: np.ndarray):
    return lambda values: -float(np.mean((values - y) ** 2))


def binary(*positive: float) -> np.ndarray:
    """Probabilities (samples, 2) from each sample's probability of class 1."""
    p = np.array(positive)
    return np.stack([1.0 - p, p], axis=1)


# --- average and vote -------------------------------------------------------------------------


def test_average_is_the_mean_or_the_rescaled_weighted_mean():
    predictions = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]])
    np.testing.assert_allclose(average_predictions(predictions), [[0.5, 0.5]])
    np.testing.assert_allclose(average_predictions(predictions, [2, 1, 1]), [[0.625, 0.375]])
    with pytest.raises(ConfigError, match="one non-negative weight per member"):
        average_predictions(predictions, [1, 1])
    with pytest.raises(ConfigError, match="shape"):
        average_predictions(np.array([0.1, 0.2]))


def test_vote_takes_the_majority_class():
    members = np.stack([binary(0.9, 0.2), binary(0.6, 0.1), binary(0.2, 0.9)])
    np.testing.assert_array_equal(vote(members), [1, 0])


def test_a_tied_vote_goes_to_the_class_with_the_higher_mean_probability():
    # Both samples get two votes per class. Sample 0: the mean probability of class 1 is
    # 0.4375, so class 0 wins; sample 1: it is 0.6, so class 1 wins.
    members = np.stack([
        binary(0.4, 0.45),
        binary(0.1, 0.4),
        binary(0.7, 0.9),
        binary(0.55, 0.65),
    ])
    np.testing.assert_array_equal(vote(members), [0, 1])


def test_a_tie_is_broken_among_the_tied_classes_only():
    # Classes 0 and 1 have two votes each; class 2 has one voter, so sure of itself that it
    # has the highest mean probability, but it is not in the tie.
    members = np.array([
        [[0.5, 0.3, 0.2]],
        [[0.4, 0.35, 0.25]],
        [[0.3, 0.4, 0.3]],
        [[0.05, 0.5, 0.45]],
        [[0.0, 0.0, 1.0]],
    ])
    mean = members.mean(axis=0)[0]
    assert mean.argmax() == 2 and mean[1] > mean[0]
    np.testing.assert_array_equal(vote(members), [1])


# --- greedy ensemble selection -----------------------------------------------------------


def test_greedy_picks_the_complementary_model_over_a_better_look_alike():
    y = np.array([0, 0, 1, 1])
    best = binary(0.1, 0.1, 0.9, 0.4)  # wrong on sample 3
    look_alike = binary(0.2, 0.2, 0.8, 0.45)  # right and wrong where best is
    complement = binary(0.55, 0.6, 0.9, 0.9)  # worst alone (0.5), but right on sample 3
    predictions = np.stack([best, look_alike, complement])
    score = accuracy_of(y)
    assert [score(p) for p in predictions] == [0.75, 0.75, 0.5]
    counts = greedy_selection(predictions, score, n_init=1, n_rounds=6)
    np.testing.assert_array_equal(counts, [1, 0, 1])
    assert score(average_predictions(predictions, counts)) == 1.0


def test_greedy_weights_come_from_repeated_selection():
    # The best mix of the two is exactly 2/3 of the first and 1/3 of the second.
    y = np.array([[2.0], [-2.0]])
    predictions = np.array([[[3.0], [-3.0]], [[0.0], [0.0]]])
    counts = greedy_selection(predictions, negative_mse_of(y), n_init=1, n_rounds=8)
    np.testing.assert_array_equal(counts, [2, 1])
    np.testing.assert_allclose(counts / counts.sum(), [2 / 3, 1 / 3])


def test_greedy_starts_from_the_n_init_best_models_and_keeps_the_best_ensemble_seen():
    y = np.array([[1.0]])
    predictions = np.array([[[0.0]], [[1.0]], [[4.0]]])
    # Alone: model 1 is exact, model 0 next (error 1), model 2 last (error 9).
    counts = greedy_selection(predictions, negative_mse_of(y), n_init=2, n_rounds=0)
    np.testing.assert_array_equal(counts, [1, 1, 0])
    # From model 1 alone no addition scores strictly better, so the rounds go on adding but
    # the smallest exact ensemble is the one kept.
    counts = greedy_selection(predictions, negative_mse_of(y), n_init=1, n_rounds=5)
    np.testing.assert_array_equal(counts, [0, 1, 0])


def test_greedy_checks_its_options():
    predictions = np.zeros((2, 3, 2))
    with pytest.raises(ConfigError, match="n_init=3 must be an integer >= 1 and <= 2"):
        greedy_selection(predictions, lambda p: 0.0, n_init=3)
    with pytest.raises(ConfigError, match="n_rounds=-1"):
        greedy_selection(predictions, lambda p: 0.0, n_rounds=-1)


def test_one_hot_rows():
    np.testing.assert_array_equal(one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# --- real studies on digits ---------------------------------------------------------------


def digits_task(artifacts: Any, seed: int = 0, epochs: int = 8, widths=(16, 128)) -> Task:
    return Task({
        "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "seed": seed},
        "model": {"name": "mlp", "depth": 1},
        "recipe": {"epochs": epochs, "device": "cpu", "seed": seed},
        "search": {
            "lr": {"low": 1e-3, "high": 3e-2, "log": True},
            "model.width": {"low": widths[0], "high": widths[1], "log": True},
            "model.dropout": {"low": 0.0, "high": 0.5},
            "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True},
            "batch_size": [32, 64, 128],
        },
        "artifacts": str(artifacts),
        "threads": 1,
    })


def run_study(task: Task, n_trials: int, seed: int = 0) -> tunelab.Study:
    study = tunelab.create_study(name=f"digits-{seed}", direction=task.direction,
                                 sampler="random", seed=seed)
    study.optimize(task, n_trials=n_trials)
    return study


@pytest.fixture(scope="module")
def small_study(tmp_path_factory) -> tuple[tunelab.Study, Task]:
    task = digits_task(tmp_path_factory.mktemp("artifacts"), epochs=3, widths=(8, 32))
    return run_study(task, 5), task


@pytest.mark.parametrize("method", METHODS)
def test_build_ensemble_combines_the_best_trials_and_scores_on_the_test_part(small_study, method):
    study, task = small_study
    ranked = sorted(study.trials, key=lambda t: (-t.value, t.number))
    rng_before = torch.get_rng_state()
    result = build_ensemble(study, task, k=3, method=method)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the caller's random state is kept
    assert isinstance(result, EnsembleResult) and result.method == method
    assert result.metric == "accuracy" and result.higher_is_better
    assert result.library == tuple(t.number for t in ranked[:3])
    assert result.best_single_trial == study.best_trial.number == result.library[0]
    # The trainer scored each trial on the test part when it finished: the same number.
    assert result.best_single_test_value == pytest.approx(
        study.best_trial.user_attrs["test_accuracy"], abs=1e-6)
    # Greedy selection starts from every model of the library (n_init = k) and only adds;
    # stacking's regularization shrinks every member's coefficients but drops none.
    assert result.members == result.library
    assert sum(result.weights) == pytest.approx(1.0)
    if method in ("average", "vote"):
        assert result.weights == pytest.approx([1 / 3] * 3)


@pytest.mark.parametrize(("higher_is_better", "improvement"), [(True, -0.1), (False, 0.1)])
def test_improvement_is_positive_when_the_ensemble_does_better(higher_is_better, improvement):
    result = EnsembleResult(
        method="average", metric="m", higher_is_better=higher_is_better, library=(1, 2),
        members=(1, 2), weights=(0.5, 0.5), val_value=0.0, test_value=0.2,
        best_single_trial=1, best_single_test_value=0.3,
    )
    assert result.improvement == pytest.approx(improvement)


def test_member_predictions_use_the_trained_weights_and_the_trainers_normalization(small_study):
    study, task = small_study
    best = study.best_trial
    member = member_predictions(best, task)
    data = task.data
    assert member.trial == best.number
    assert member.val.shape == (len(data.y_val), 10) and member.test.shape == (len(data.y_test), 10)
    np.testing.assert_allclose(member.test.sum(axis=1), 1.0, rtol=1e-6)
    # The trial's value is its best validation accuracy, which its saved weights gave.
    assert np.mean(member.val.argmax(axis=1) == data.y_val.numpy()) == pytest.approx(best.value)


def test_the_average_scores_the_mean_of_the_members_test_probabilities(small_study):
    study, task = small_study
    result = build_ensemble(study, task, k=2, method="average")
    members = [member_predictions(r, task) for r in study.trials if r.number in result.members]
    mean = np.mean([m.test for m in members], axis=0)
    expected = np.mean(mean.argmax(axis=1) == task.data.y_test.numpy())
    assert result.test_value == pytest.approx(expected)


def test_build_ensemble_errors_name_the_argument_and_the_fix(small_study, tmp_path):
    study, task = small_study
    with pytest.raises(TunelabError, match="k=9 but study 'digits-0' has 5 completed"):
        build_ensemble(study, task, k=9)
    with pytest.raises(ConfigError, match="did you mean 'greedy'") as error:
        build_ensemble(study, task, method="greedly")
    assert error.value.field == "method"
    with pytest.raises(ConfigError, match=r"method='stak' is unknown \(did you mean 'stack'\?\); "
                       "use one of: average, vote, greedy, stack"):
        build_ensemble(study, task, method="stak")
    with pytest.raises(ConfigError, match="k=1 must be an integer >= 2"):
        build_ensemble(study, task, k=1)
    with pytest.raises(ConfigError, match="metric='mse' does not fit a classification task"):
        build_ensemble(study, task, metric="mse")
    regression = Task({"data": {"name": "diabetes", "test_fraction": 0.2},
                       "artifacts": str(tmp_path)})
    with pytest.raises(ConfigError, match="'vote' needs class predictions"):
        build_ensemble(study, regression, method="vote")
    no_test = Task({"data": "digits", "artifacts": str(tmp_path)})
    with pytest.raises(ConfigError, match="no test part.*test_fraction: 0.2") as error:
        build_ensemble(study, no_test)
    assert error.value.field == "data.test_fraction"
    no_weights = Task({"data": {"name": "digits", "test_fraction": 0.2}, "artifacts": False})
    with pytest.raises(ConfigError, match="keeps no weights"):
        build_ensemble(study, no_weights)


# --- stacking on a study ------------------------------------------------------------------


def test_stacking_learns_from_the_validation_part_and_never_from_the_test_part(
    small_study, monkeypatch
):
    study, task = small_study
    fitted: list[tuple[np.ndarray, np.ndarray, Any]] = []

    def recording_fit(predictions, targets, kind, **options):
        stacker = fit_stacker(predictions, targets, kind, **options)
        fitted.append((predictions, targets, stacker))
        return stacker

    monkeypatch.setattr(ensembles, "fit_stacker", recording_fit)
    clean = build_ensemble(study, task, k=3, method="stack")
    data = task.data
    poisoned_labels = (data.y_test + 1) % 10  # every test label wrong
    monkeypatch.setattr(task, "_data", dataclasses.replace(data, y_test=poisoned_labels))
    poisoned = build_ensemble(study, task, k=3, method="stack")

    (predictions, targets, first), (_, _, second) = fitted
    library = [r for n in clean.library for r in study.trials if r.number == n]
    # What it was fitted on: the members' predictions of the validation part, and its labels.
    np.testing.assert_array_equal(targets, data.y_val.numpy())
    np.testing.assert_array_equal(
        predictions, np.stack([member_predictions(r, task).val for r in library]))
    # Wrong test labels change the score, but not the meta-learner or its predictions.
    np.testing.assert_array_equal(first.model.coef_, second.model.coef_)
    test_predictions = np.stack([member_predictions(r, task).test for r in library])
    np.testing.assert_array_equal(first.predict(test_predictions),
                                  second.predict(test_predictions))
    assert (poisoned.weights, poisoned.val_value) == (clean.weights, clean.val_value)
    assert poisoned.test_value < 0.2 < clean.test_value


def test_build_ensembles_rebuilds_each_member_once_for_every_method(small_study, monkeypatch):
    study, task = small_study
    rebuilt: list[int] = []

    def counting(record, task):
        rebuilt.append(record.number)
        return member_predictions(record, task)

    monkeypatch.setattr(ensembles, "member_predictions", counting)
    results = build_ensembles(study, task, k=3)
    monkeypatch.undo()

    assert list(results) == list(METHODS)
    assert len(rebuilt) == 3
    for method, result in results.items():
        assert result == build_ensemble(study, task, k=3, method=method)


@pytest.fixture(scope="module")
def regression_study(tmp_path_factory) -> tuple[tunelab.Study, Task]:
    task = Task({
        "data": {"name": "diabetes", "val_fraction": 0.25, "test_fraction": 0.2, "seed": 0},
        "model": {"name": "mlp", "depth": 1, "width": 16},
        "recipe": {"epochs": 5, "device": "cpu", "seed": 0},
        "search": {"lr": {"low": 1e-3, "high": 3e-2, "log": True}},
        "artifacts": str(tmp_path_factory.mktemp("artifacts")),
        "threads": 1,
    })
    study = tunelab.create_study(name="diabetes", direction=task.direction, sampler="random",
                                 seed=0)
    study.optimize(task, n_trials=4)
    return study, task


def test_a_regression_is_stacked_by_ridge_and_not_voted_on(regression_study):
    study, task = regression_study
    results = build_ensembles(study, task, k=3)

    assert list(results) == ["average", "greedy", "stack"]
    stacked = results["stack"]
    assert stacked.metric == "mse" and not stacked.higher_is_better
    assert stacked.best_single_test_value == pytest.approx(
        study.best_trial.user_attrs["test_mse"], rel=1e-5)
    assert np.isfinite(stacked.test_value) and stacked.test_value > 0
    assert sum(stacked.weights) == pytest.approx(1.0)


# --- acceptance: the best 5 of a study beat its best trial ---------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_ensemble_of_the_best_five_beats_the_best_trial_on_the_test_part(tmp_path, seed):
    """12 random-search trials of 8 epochs per seed; bench/ensembles.py prints the table."""
    task = digits_task(tmp_path, seed=seed)
    study = run_study(task, 12, seed)
    average = build_ensemble(study, task, k=5, method="average")
    greedy = build_ensemble(study, task, k=5, method="greedy")
    assert average.test_value > average.best_single_test_value
    assert greedy.test_value >= greedy.best_single_test_value
