"""Threshold pruning: bounds, non-finite values at once, warm-up and interval, validation."""

from __future__ import annotations

import math

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import ThresholdPruner, make_pruner
from tunelab.trial import TrialState

from .helpers import decide


@pytest.mark.parametrize(
    ("options", "reported", "expected"),
    [
        ({"upper": 2.0}, [1.0, 2.0], False),  # on the bound is inside
        ({"upper": 2.0}, [1.0, 2.5], True),
        ({"upper": 2.0}, [3.0, 1.0], False),  # only the last value counts
        ({"lower": 0.5}, [0.4], True),
        ({"lower": 0.5, "upper": 2.0}, [1.0], False),
        ({}, [1e30], False),
    ],
)
def test_prunes_a_value_outside_the_bounds(options, reported, expected):
    assert decide(ThresholdPruner(**options), tunelab.create_study(), reported) is expected


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_finite_prunes_at_once_even_in_warm_up(bad):
    pruner = ThresholdPruner(upper=10.0, n_warmup_steps=5)
    assert decide(pruner, tunelab.create_study(), [1.0, bad]) is True


def test_warm_up_and_interval_delay_the_bounds():
    study = tunelab.create_study()
    pruner = ThresholdPruner(upper=1.0, n_warmup_steps=2, interval_steps=2)
    assert decide(pruner, study, {0: 5.0}) is False  # warm-up
    assert decide(pruner, study, {0: 5.0, 1: 5.0, 2: 5.0}) is True  # step 2: checked
    assert decide(pruner, study, {3: 5.0}) is False  # step 3: between checks


def test_a_diverging_objective_is_recorded_as_pruned_at_the_first_nan():
    def objective(trial):
        for step, loss in enumerate([1.0, 0.5, math.nan, 0.1]):
            trial.report(loss, step=step)
            if trial.should_prune():
                raise tunelab.TrialPruned()
        return 0.1

    study = tunelab.create_study(pruner={"name": "threshold"})
    study.optimize(objective, n_trials=1)
    record = study.trials[0]
    assert record.state is TrialState.PRUNED
    assert record.last_step == 2


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"upper": math.nan}, "upper"),
        ({"lower": "low"}, "lower"),
        ({"lower": 2.0, "upper": 1.0}, "lower"),
        ({"n_warmup_steps": -1}, "n_warmup_steps"),
        ({"interval_steps": 0}, "interval_steps"),
    ],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        make_pruner({"name": "threshold", **options})
    assert caught.value.field == field
