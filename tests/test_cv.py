"""Cross-validation: fold splitting, the shared loop (reports, stored scores, pruning between
folds, per-fold views) and scikit-learn estimators in a study."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import tunelab
from tunelab.cv import (
    Fold,
    cross_val_score,
    cross_validate,
    k_fold_indices,
    stratified_k_fold_indices,
)
from tunelab.exceptions import ConfigError, TrialPruned, TunelabError
from tunelab.telemetry import read_validation_size
from tunelab.trial import TrialState

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold  # noqa: E402

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
UNEVEN_LABELS = np.array([2] * 5 + [0] * 23 + [1] * 9 + [2] * 36 + [1] * 4)  # 23/13/41 rows


def check_partition(folds: list[Fold], n: int) -> None:
    assert [fold.index for fold in folds] == list(range(len(folds)))
    validation = np.concatenate([fold.validation for fold in folds])
    assert sorted(validation) == list(range(n))  # every row validates exactly once
    for fold in folds:
        assert np.array_equal(fold.validation, np.sort(fold.validation))
        assert not np.intersect1d(fold.train, fold.validation).size
        assert np.array_equal(np.union1d(fold.train, fold.validation), np.arange(n))
    sizes = [len(fold.validation) for fold in folds]
    assert max(sizes) - min(sizes) <= 1


def validations(folds: list[Fold]) -> list[list[int]]:
    return [fold.validation.tolist() for fold in folds]


def ask(direction: str = "maximize", pruner=None) -> tuple[tunelab.Study, tunelab.Trial]:
    study = tunelab.create_study(direction=direction, pruner=pruner, seed=0)
    return study, study.ask()


def replay(scores: list[float]):
    """A fit_fold that returns preset scores and counts its calls."""

    def fit_fold(fold, fold_trial):
        fit_fold.calls += 1
        return scores[fold.index]

    fit_fold.calls = 0
    return fit_fold


# Splitting ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "k"), [(10, 2), (11, 3), (150, 5), (7, 7)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_k_fold_indices_partition_the_rows_into_balanced_folds(n, k, shuffle):
    check_partition(k_fold_indices(n, k, seed=3, shuffle=shuffle), n)


def test_the_seed_reproduces_the_shuffle_and_another_seed_changes_it():
    assert validations(k_fold_indices(50, 5, seed=1)) == validations(k_fold_indices(50, 5, seed=1))
    assert validations(k_fold_indices(50, 5, seed=1)) != validations(k_fold_indices(50, 5, seed=2))
    labels = UNEVEN_LABELS
    first = stratified_k_fold_indices(labels, 4, seed=1)
    assert validations(first) == validations(stratified_k_fold_indices(labels, 4, seed=1))
    assert validations(first) != validations(stratified_k_fold_indices(labels, 4, seed=2))


def test_unshuffled_folds_are_those_of_scikit_learn():
    ours = validations(k_fold_indices(23, 4, shuffle=False))
    assert ours == [v.tolist() for _, v in KFold(4).split(np.zeros(23))]
    ours = validations(stratified_k_fold_indices(UNEVEN_LABELS, 4, shuffle=False))
    theirs = StratifiedKFold(4).split(np.zeros(len(UNEVEN_LABELS)), UNEVEN_LABELS)
    assert ours == [v.tolist() for _, v in theirs]


@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("k", [3, 5])
def test_stratified_folds_keep_each_class_share_in_every_fold(k, shuffle):
    labels = np.array(["a", "b", "c"])[UNEVEN_LABELS]  # any labels, not only integers
    folds = stratified_k_fold_indices(labels, k, seed=0, shuffle=shuffle)
    check_partition(folds, len(labels))
    for label in ("a", "b", "c"):
        share = np.sum(labels == label) / k
        for fold in folds:
            count = np.sum(labels[fold.validation] == label)
            assert np.floor(share) <= count <= np.ceil(share)


def test_a_class_smaller_than_the_folds_warns_as_in_scikit_learn():
    labels = [0] * 10 + [1] * 2
    with pytest.warns(UserWarning, match=r"class 1 has only 2 member\(s\), fewer than n_splits=3"):
        folds = stratified_k_fold_indices(labels, 3)
    check_partition(folds, len(labels))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: k_fold_indices(10, 1), "n_splits"),
        (lambda: k_fold_indices(10, 2.0), "n_splits"),
        (lambda: k_fold_indices(4, 5), "n_splits"),
        (lambda: k_fold_indices(10, 2, seed=-1), "seed"),
        (lambda: k_fold_indices(10, 2, shuffle=1), "shuffle"),
        (lambda: k_fold_indices(0, 2), "n_samples"),
        (lambda: stratified_k_fold_indices([[0, 1], [1, 0]], 2), "labels"),
        (lambda: stratified_k_fold_indices([0, 1, 0], 4), "n_splits"),
    ],
)
def test_bad_split_options_name_the_option(call, field):
    with pytest.raises(ConfigError) as caught:
        call()
    assert caught.value.field == field


# The shared loop ---------------------------------------------------------------------------------


def test_each_fold_reports_the_running_mean_at_its_index_and_stores_the_scores():
    study, trial = ask()
    scores = [0.5, 0.7, 0.6, 0.9]
    mean = cross_validate(trial, replay(scores), k_fold_indices(8, 4))
    study.tell(trial, mean)
    record = study.trials[0]
    assert mean == pytest.approx(np.mean(scores))
    assert list(record.intermediate_values) == [0, 1, 2, 3]
    expected = [np.mean(scores[: i + 1]) for i in range(4)]
    assert list(record.intermediate_values.values()) == pytest.approx(expected)
    assert record.user_attrs["cv_scores"] == scores
    assert record.user_attrs["cv_mean"] == pytest.approx(np.mean(scores))
    assert record.user_attrs["cv_std"] == pytest.approx(np.std(scores))
    assert read_validation_size(record) == 8  # every row validated once
    assert "cv_curves" not in record.system_attrs  # nothing reported inside the folds


def test_the_pruner_stops_the_trial_between_folds_and_the_scores_so_far_stay():
    study, trial = ask(pruner={"name": "threshold", "lower": 0.5})
    fit_fold = replay([0.9, 0.1, 0.1, 0.9, 0.9])
    with pytest.raises(TrialPruned, match="after fold 3 of 5"):
        cross_validate(trial, fit_fold, k_fold_indices(10, 5))
    study.tell(trial, state=TrialState.PRUNED)
    record = study.trials[0]
    assert fit_fold.calls == 3
    assert list(record.intermediate_values) == [0, 1, 2]
    assert record.user_attrs["cv_scores"] == [0.9, 0.1, 0.1]
    assert "cv_mean" not in record.user_attrs and read_validation_size(record) is None


def test_without_pruning_the_folds_report_and_the_pruner_is_not_asked():
    study, trial = ask(pruner="none")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # asking a study that prunes nothing would warn
        mean = cross_validate(trial, replay([0.2, 0.4]), k_fold_indices(4, 2), prune=False)
    study.tell(trial, mean)
    assert list(study.trials[0].intermediate_values.values()) == pytest.approx([0.2, 0.3])


def test_epochs_go_to_the_fold_view_and_are_kept_per_fold_without_warnings():
    study, trial = ask(pruner={"name": "threshold", "lower": 0.0})

    def fit_fold(fold, fold_trial):
        for epoch in (1, 2, 3):  # the same steps in every fold, as a trainer reports them
            fold_trial.report(fold.index + epoch / 10, step=epoch)
            assert fold_trial.should_prune() is False
        assert fold_trial.number == trial.number
        fold_trial.set_system_attr("telemetry", [fold.index])
        fold_trial.set_user_attr("best_epoch", 3)
        return fold.index

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mean = cross_validate(trial, fit_fold, k_fold_indices(6, 3))
    assert caught == []
    study.tell(trial, mean)
    record = study.trials[0]
    assert list(record.intermediate_values) == [0, 1, 2]
    assert record.system_attrs["cv_curves"][1] == [[1, 1.1], [2, 1.2], [3, 1.3]]
    assert record.system_attrs["fold_telemetry"] == [[0], [1], [2]]
    assert record.user_attrs["fold_best_epoch"] == [3, 3, 3]


def test_a_fold_that_fails_keeps_its_curve():
    study, trial = ask()

    def fit_fold(fold, fold_trial):
        fold_trial.report(0.5, step=1)
        if fold.index == 1:
            raise FloatingPointError("diverged")
        return 0.5

    with pytest.raises(FloatingPointError):
        cross_validate(trial, fit_fold, k_fold_indices(6, 3))
    study.tell(trial, state=TrialState.FAIL)
    assert study.trials[0].system_attrs["cv_curves"] == [[[1, 0.5]], [[1, 0.5]], None]


def test_index_pairs_from_a_scikit_learn_splitter_are_folds():
    study, trial = ask()
    splits = KFold(3).split(np.zeros(9))
    assert cross_validate(trial, lambda fold, _: len(fold.validation), splits) == 3.0
    assert list(study.storage.get_trial(trial.trial_id).intermediate_values) == [0, 1, 2]


@pytest.mark.parametrize(
    ("folds", "returned", "error", "words"),
    [
        ([], 0.5, ConfigError, "folds is empty"),
        ([(1, 2, 3)], 0.5, ConfigError, "(train, validation) pairs"),
        (k_fold_indices(4, 2), "0.5", TunelabError, "fold 1 of 2: fit_fold returned '0.5'"),
        (k_fold_indices(4, 2), np.array([0.5, 0.5]), TunelabError, "as a number"),
    ],
)
def test_bad_folds_or_scores_are_explained(folds, returned, error, words):
    _, trial = ask()
    with pytest.raises(error, match=re.escape(words)):
        cross_validate(trial, lambda fold, _: returned, folds)


# scikit-learn ------------------------------------------------------------------------------------


def test_a_five_fold_study_prunes_at_a_fold_and_stores_every_trials_folds_without_warnings():
    def objective(trial):
        model = LogisticRegression(C=trial.suggest_float("C", 1e-4, 1e2, log=True), max_iter=1000)
        return cross_val_score(trial, model, X_IRIS, Y_IRIS, cv=5)

    study = tunelab.create_study(
        direction="maximize", pruner={"name": "median", "n_startup_trials": 2}, seed=0
    )
    for c in (1.0, 10.0, 1e-4):  # the last one is far too regularized to learn iris
        study.enqueue_trial({"C": c})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.optimize(objective, n_trials=3)
    assert [str(w.message) for w in caught] == []
    good, better, poor = study.trials
    assert [good.state, better.state, poor.state] == [TrialState.COMPLETE] * 2 + [
        TrialState.PRUNED
    ]
    for record in (good, better):
        assert list(record.intermediate_values) == [0, 1, 2, 3, 4]
        assert len(record.user_attrs["cv_scores"]) == 5
        assert record.value == pytest.approx(np.mean(record.user_attrs["cv_scores"]))
        assert record.value > 0.9
    last_fold = max(poor.intermediate_values)
    assert last_fold < 4
    assert len(poor.user_attrs["cv_scores"]) == last_fold + 1


def test_classifiers_get_stratified_folds_and_regressors_plain_ones():
    labels = np.repeat([0, 1], 20)  # sorted: unstratified, unshuffled folds see one class each
    x = np.arange(40.0).reshape(-1, 1)

    def classes_seen(estimator, x_val, y_val):
        return float(len(np.unique(y_val)))

    def mean_classes(estimator, **options):
        _, trial = ask()
        return cross_val_score(trial, estimator, x, labels, cv=4, scoring=classes_seen,
                               shuffle=False, **options)

    assert mean_classes(LogisticRegression()) == 2.0
    assert mean_classes(LinearRegression()) == 1.0
    assert mean_classes(LogisticRegression(), stratified=False) == 1.0
    assert mean_classes(LinearRegression(), stratified=True) == 2.0


def test_a_scikit_learn_splitter_and_a_scorer_name_are_used():
    _, trial = ask()
    model = LogisticRegression(max_iter=1000)
    splitter = StratifiedKFold(3, shuffle=True, random_state=0)
    value = cross_val_score(trial, model, X_IRIS, Y_IRIS, cv=splitter, scoring="f1_macro")
    assert 0.9 < value <= 1.0
    assert len(trial.study.storage.get_trial(trial.trial_id).user_attrs["cv_scores"]) == 3


@pytest.mark.parametrize(
    ("direction", "options", "field", "words"),
    [
        ("minimize", {}, "direction", "direction='maximize'"),
        ("maximize", {"scoring": "accurasy"}, "scoring", "'accurasy'"),
        ("maximize", {"cv": KFold(3), "stratified": True}, "stratified", "number of folds"),
        ("maximize", {"stratified": "yes"}, "stratified", "true or false"),
        ("maximize", {"cv": 1}, "n_splits", ">= 2"),
    ],
)
def test_bad_cross_val_score_options_fail_before_any_fold(direction, options, field, words):
    study, trial = ask(direction)
    with pytest.raises(ConfigError) as caught:
        cross_val_score(trial, LogisticRegression(), X_IRIS, Y_IRIS, **options)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert study.storage.get_trial(trial.trial_id).intermediate_values == {}


def test_rows_and_targets_must_match():
    _, trial = ask()
    with pytest.raises(ConfigError, match="X has 150 rows but y has 149"):
        cross_val_score(trial, LogisticRegression(), X_IRIS, Y_IRIS[:-1])
