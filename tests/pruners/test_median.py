"""Median pruning: the 50th-percentile rule, its defaults, and pruning inside optimize."""

from __future__ import annotations

import pytest

import tunelab
from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.pruners import MedianPruner, make_pruner
from tunelab.trial import TrialState

from .helpers import decide, history_study


@pytest.mark.parametrize(
    ("direction", "finals", "current", "expected"),
    [
        ("minimize", [1, 2, 3, 4, 5], 3.5, True),
        ("minimize", [1, 2, 3, 4, 5], 3.0, False),
        ("maximize", [1, 2, 3, 4, 5], 2.5, True),
        ("maximize", [1, 2, 3, 4, 5], 3.0, False),
        ("minimize", [1, 2, 3, 4], 2.6, True),  # even count: the median is 2.5
        ("minimize", [1, 2, 3, 4], 2.5, False),
        ("maximize", [1, 2, 3, 4], 2.4, True),
    ],
)
def test_prunes_a_trial_worse_than_the_median(direction, finals, current, expected):
    study = history_study([[float(v)] for v in finals], direction)
    assert decide(MedianPruner(n_startup_trials=0), study, [current]) is expected


def test_defaults_wait_for_five_completed_trials():
    pruner = MedianPruner()
    assert (pruner.percentile, pruner.n_startup_trials, pruner.n_warmup_steps) == (50.0, 5, 0)
    assert (pruner.interval_steps, pruner.n_min_trials) == (1, 1)
    assert decide(pruner, history_study([[1.0]] * 4), [10.0]) is False
    assert decide(pruner, history_study([[1.0]] * 5), [10.0]) is True


def test_one_pruner_on_studies_in_two_storages_judges_each_by_its_own_trials():
    pruner = MedianPruner(n_startup_trials=0)
    low, high = history_study([[1.0, 1.0]] * 3), history_study([[9.0, 9.0]] * 3)
    assert [t.trial_id for t in low.trials] == [t.trial_id for t in high.trials]
    assert decide(pruner, low, [5.0, 5.0]) is True
    assert decide(pruner, high, [5.0, 5.0]) is False
    assert decide(pruner, low, [5.0, 5.0]) is True


def test_trials_that_finish_later_join_the_median_at_every_step():
    pruner = MedianPruner(n_startup_trials=0)
    study = history_study([[1.0, 1.0]])
    assert decide(pruner, study, [2.0, 2.0]) is True  # worse than the one finished trial
    study.tell(study.trials[-1].number, state=TrialState.FAIL)
    for _ in range(2):  # two trials at 3.0 move the median of the finished ones to 3.0
        trial = study.ask()
        trial.report(3.0, step=0)
        trial.report(3.0, step=1)
        study.tell(trial, 3.0)
    assert decide(pruner, study, [2.0, 2.0]) is False


def test_median_pruner_in_optimize_prunes_the_bad_trials():
    def objective(trial):
        value = 10.0 if trial.number % 2 else 1.0
        for step in range(5):
            trial.report(value, step=step)
            if trial.should_prune():
                raise TrialPruned()
        return value

    study = tunelab.create_study(pruner="median", seed=0)
    study.optimize(objective, n_trials=10)
    assert [r.state for r in study.trials] == [TrialState.COMPLETE] * 5 + [
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.COMPLETE,
        TrialState.PRUNED,
    ]
    assert all(r.last_step == 0 for r in study.get_trials([TrialState.PRUNED]))


def test_built_by_name_with_options():
    pruner = make_pruner({"name": "median", "n_warmup_steps": 3, "interval_steps": 2})
    assert isinstance(pruner, MedianPruner)
    assert (pruner.n_warmup_steps, pruner.interval_steps) == (3, 2)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_startup_trials": -1}, "median pruner: n_startup_trials=-1 must be an integer >= 0"),
        ({"interval_steps": 0}, "median pruner: interval_steps=0 must be an integer >= 1"),
        (
            {"percentile": 10},
            "pruner 'median' has no option 'percentile'; its options are: n_startup_trials",
        ),
    ],
)
def test_invalid_options_raise_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        make_pruner({"name": "median", **options})
