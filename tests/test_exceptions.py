"""tunelab.exceptions under Optuna's names: a script's except clauses catch what tunelab raises."""

from __future__ import annotations

import warnings

import pytest

import tunelab as optuna
from tunelab.exceptions import (
    ConfigError,
    StorageError,
    StudyNotFoundError,
    TrialFinishedError,
    TunelabError,
)


@pytest.mark.parametrize(
    ("optuna_name", "tunelab_class"),
    [
        ("OptunaError", TunelabError),
        ("StorageInternalError", StorageError),
        ("UpdateFinishedTrialError", TrialFinishedError),
        ("CLIUsageError", ConfigError),
    ],
)
def test_optunas_names_are_tunelabs_classes(optuna_name, tunelab_class):
    assert getattr(optuna.exceptions, optuna_name) is tunelab_class


def test_duplicated_study_error_and_trial_pruned_keep_their_names():
    assert issubclass(optuna.exceptions.DuplicatedStudyError, optuna.exceptions.OptunaError)
    assert optuna.exceptions.TrialPruned is optuna.TrialPruned


def test_a_finished_trial_error_is_caught_as_optunas():
    study = optuna.create_study()
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(optuna.exceptions.UpdateFinishedTrialError):
        trial.report(1.0, step=0)


def test_a_missing_study_is_a_key_error_with_a_plain_message():
    error = StudyNotFoundError("no study named 'x'")
    assert isinstance(error, KeyError) and isinstance(error, StorageError)
    assert str(error) == "no study named 'x'"


def test_experimental_warning_can_be_filtered():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.warn("new", optuna.exceptions.ExperimentalWarning, stacklevel=1)
    assert issubclass(optuna.exceptions.ExperimentalWarning, Warning)
