"""Patience pruning: improvement within the window spares a trial, min_delta, maximize, a
wrapped pruner that decides once the patience has run out, validation."""

from __future__ import annotations

import math

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import MedianPruner, PatiencePruner, make_pruner

from .helpers import decide, history_study


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ([5.0, 4.0], False),  # not enough steps to judge
        ([5.0, 4.0, 3.0], False),  # improving
        ([5.0, 4.0, 4.0, 4.5], True),  # best of the last two is no better than 4.0
        ([5.0, 4.0, 6.0, 3.9], False),  # the last step improved
        ([5.0, 4.0, math.nan, math.nan], True),  # a NaN is never an improvement
    ],
)
def test_prunes_after_patience_steps_without_improvement(reported, expected):
    pruner = PatiencePruner(patience=2)
    assert decide(pruner, tunelab.create_study(), reported) is expected


def test_an_improvement_smaller_than_min_delta_does_not_count():
    study = tunelab.create_study()
    assert decide(PatiencePruner(2, min_delta=0.5), study, [5.0, 4.0, 3.8, 3.9]) is True
    assert decide(PatiencePruner(2, min_delta=0.1), study, [5.0, 4.0, 3.8, 3.9]) is False


def test_maximizing_counts_higher_values_as_improvements():
    study = tunelab.create_study(direction="maximize")
    assert decide(PatiencePruner(1), study, [0.5, 0.7]) is False
    assert decide(PatiencePruner(1), study, [0.7, 0.5]) is True


def test_a_wrapped_pruner_decides_only_once_the_trial_stopped_improving():
    # Finished trials reached 1.0 at every step, so the median rule alone prunes 5.0 and 4.0.
    study = history_study([[1.0, 1.0, 1.0, 1.0]] * 3)
    median = MedianPruner(n_startup_trials=0)
    assert decide(median, study, [5.0, 4.0]) is True
    patient = PatiencePruner(patience=2, wrapped=median)
    assert decide(patient, study, [6.0, 5.0, 4.0]) is False  # still improving: spared
    assert decide(patient, study, [4.0, 5.0, 4.5]) is True  # stalled, and the median agrees
    assert decide(patient, study, [0.5, 0.9, 0.8]) is False  # stalled, but the median keeps it


def test_the_wrapped_pruner_can_be_given_by_name_from_a_study_file():
    pruner = make_pruner({"name": "patience", "patience": 3, "wrapped": {"name": "median"}})
    assert isinstance(pruner.wrapped, MedianPruner)


@pytest.mark.parametrize(
    ("options", "field"),
    [({"patience": -1}, "patience"), ({"patience": 2.5}, "patience"),
     ({"patience": 1, "min_delta": -0.1}, "min_delta")],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        make_pruner({"name": "patience", **options})
    assert caught.value.field == field


# Optuna's PatientPruner --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ([5.0, 4.0], False),  # not enough steps to judge
        ([5.0, 4.0, 4.0], False),  # a plateau is not worse than the earlier best
        ([5.0, 4.0, 6.0, 7.0], True),  # the last two are both worse than 4.0
        ([5.0, 4.0, 6.0, 3.9], False),
    ],
)
def test_patient_pruner_prunes_when_the_last_values_got_worse(reported, expected):
    import tunelab as optuna

    pruner = optuna.pruners.PatientPruner(None, patience=1)
    assert decide(pruner, tunelab.create_study(), reported) is expected


def test_patient_pruners_min_delta_is_a_tolerance():
    from tunelab.pruners import PatientPruner

    study = tunelab.create_study()
    assert decide(PatientPruner(None, 1, min_delta=0.5), study, [5.0, 4.0, 4.3, 4.4]) is False
    assert decide(PatientPruner(None, 1, min_delta=0.1), study, [5.0, 4.0, 4.3, 4.4]) is True
    maximize = tunelab.create_study(direction="maximize")
    assert decide(PatientPruner(None, 1), maximize, [0.5, 0.7, 0.6, 0.65]) is True


def test_patient_pruners_wrapped_pruner_decides_once_the_trial_got_worse():
    from tunelab.pruners import NopPruner, PatientPruner

    study = history_study([[1.0, 1.0, 1.0, 1.0]] * 3)
    median = MedianPruner(n_startup_trials=0)
    patient = PatientPruner(wrapped_pruner=median, patience=1)
    assert decide(patient, study, [6.0, 5.0, 4.0]) is False  # still improving: spared
    assert decide(patient, study, [5.0, 4.0, 6.0, 7.0]) is True
    assert decide(PatientPruner(NopPruner(), 1), study, [5.0, 4.0, 6.0, 7.0]) is False
