"""Percentile pruning: hand-made histories, startup/warm-up/interval options, NaN, validation."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab.exceptions import ConfigError
from tunelab.pruners import PercentilePruner, make_pruner
from tunelab.pruners.percentile import percentile

from .helpers import decide, history_study

FINALS = [[1.0], [2.0], [3.0], [4.0], [5.0]]


@pytest.mark.parametrize(
    ("direction", "percentile", "current", "expected"),
    [
        # minimize: prune when worse than the 25th percentile (2.0) of the completed trials
        ("minimize", 25.0, 2.5, True),
        ("minimize", 25.0, 2.0, False),
        ("minimize", 25.0, 1.5, False),
        # maximize: keeping the best 25 % means pruning below the 75th percentile (4.0)
        ("maximize", 25.0, 3.5, True),
        ("maximize", 25.0, 4.0, False),
        ("maximize", 25.0, 4.5, False),
        ("minimize", 100.0, 5.0, False),
        ("minimize", 100.0, 5.5, True),
        ("maximize", 0.0, 5.0, False),
        ("maximize", 0.0, 4.9, True),
    ],
)
def test_prunes_a_trial_worse_than_the_percentile(direction, percentile, current, expected):
    pruner = PercentilePruner(percentile, n_startup_trials=0)
    assert decide(pruner, history_study(FINALS, direction), [current]) is expected


@pytest.mark.parametrize(
    ("current", "expected"),
    [([0.5, 10.0], False), ([10.0, 10.0], True), ([3.0, 0.9], False)],
)
def test_judges_the_trial_by_its_best_value_so_far(current, expected):
    # completed running averages at step 1 are 3.0, 5.0 and 1.5 (median 3.0)
    completed = [[5.0, 1.0], [1.0, 9.0], [2.0, 1.0]]
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    assert decide(pruner, history_study(completed), current) is expected


def test_values_reported_after_the_step_are_not_used():
    completed = [[9.0, 9.0, 0.1]] * 3
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    assert decide(pruner, history_study(completed), [5.0, 5.0]) is False


@pytest.mark.parametrize(("n_completed", "expected"), [(2, False), (3, True)])
def test_no_pruning_before_n_startup_trials_completed(n_completed, expected):
    pruner = PercentilePruner(50.0, n_startup_trials=3)
    assert decide(pruner, history_study([[1.0]] * n_completed), [10.0]) is expected


def test_failed_and_pruned_trials_do_not_count_as_startup_trials():
    study = history_study([[1.0]] * 2)
    study.tell(study.ask(), state="FAIL")
    study.tell(study.ask(), state="PRUNED")
    assert decide(PercentilePruner(50.0, n_startup_trials=3), study, [10.0]) is False


@pytest.mark.parametrize(("last_step", "expected"), [(0, False), (1, False), (2, True), (3, True)])
def test_no_pruning_before_n_warmup_steps(last_step, expected):
    pruner = PercentilePruner(50.0, n_startup_trials=0, n_warmup_steps=2)
    study = history_study([[1.0] * 4] * 3)
    assert decide(pruner, study, [10.0] * (last_step + 1)) is expected


@pytest.mark.parametrize(
    ("last_step", "expected"),
    [(0, False), (1, True), (2, False), (3, True), (4, False), (5, True)],
)
def test_checks_only_every_interval_steps_after_warm_up(last_step, expected):
    pruner = PercentilePruner(50.0, n_startup_trials=0, n_warmup_steps=1, interval_steps=2)
    study = history_study([[1.0] * 6] * 3)
    assert decide(pruner, study, [10.0] * (last_step + 1)) is expected


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_nan_prunes_at_once_even_during_startup_and_warm_up(direction):
    pruner = PercentilePruner(50.0, n_startup_trials=100, n_warmup_steps=100)
    assert decide(pruner, history_study([], direction), [1.0, float("nan")]) is True


def test_an_earlier_nan_is_ignored_once_a_number_is_reported():
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    study = history_study([[1.0, 1.0]] * 3)
    assert decide(pruner, study, [float("nan"), 0.5]) is False
    assert decide(pruner, study, [float("nan"), 5.0]) is True


def test_nan_values_of_completed_trials_are_ignored():
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    study = history_study([[float("nan")], [float("nan")], [1.0]])
    assert decide(pruner, study, [2.0]) is True
    assert decide(pruner, study, [0.5]) is False


def test_completed_trials_without_reports_give_nothing_to_compare():
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    assert decide(pruner, history_study([[], [], []]), [100.0]) is False


def test_sparse_steps_are_compared_at_the_trial_s_last_step():
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    study = history_study([[1.0, 1.0, 1.0, 1.0]] * 3)
    assert decide(pruner, study, {0: 0.5, 3: 10.0}) is False  # best so far is 0.5
    assert decide(pruner, study, {3: 10.0}) is True


@pytest.mark.parametrize(("n_min_trials", "expected"), [(1, True), (3, True), (4, False)])
def test_n_min_trials_needs_enough_completed_trials_with_values(n_min_trials, expected):
    pruner = PercentilePruner(50.0, n_startup_trials=0, n_min_trials=n_min_trials)
    study = history_study([[1.0]] * 3)
    assert decide(pruner, study, [10.0]) is expected


def test_n_min_trials_counts_only_completed_trials_that_reached_the_step():
    # only the first completed trial reported step 3; n_min_trials=2 asks for two of them
    study = history_study([[1.0, 1.0, 1.0, 1.0], [1.0], [1.0]])
    pruner = PercentilePruner(50.0, n_startup_trials=0, n_min_trials=2)
    assert decide(pruner, study, [5.0, 5.0, 5.0, 5.0]) is False


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"percentile": -1.0}, r"percentile=-1.0 must be a number in \[0, 100\]"),
        ({"percentile": 100.5}, r"percentile=100.5 must be a number in \[0, 100\]"),
        ({"percentile": True}, r"percentile=True must be a number in \[0, 100\]"),
        ({"percentile": float("nan")}, r"percentile=nan must be a number in \[0, 100\]"),
        ({"percentile": 50, "n_startup_trials": -1}, "n_startup_trials=-1 must be an integer >= 0"),
        (
            {"percentile": 50, "n_startup_trials": 2.5},
            "n_startup_trials=2.5 must be an integer >= 0",
        ),
        ({"percentile": 50, "n_warmup_steps": "3"}, "n_warmup_steps='3' must be an integer >= 0"),
        ({"percentile": 50, "interval_steps": 0}, "interval_steps=0 must be an integer >= 1"),
        ({"percentile": 50, "n_min_trials": 0}, "n_min_trials=0 must be an integer >= 1"),
        ({"percentile": 50, "n_min_trials": False}, "n_min_trials=False must be an integer >= 1"),
    ],
)
def test_invalid_options_raise_config_error_naming_the_option(options, message):
    with pytest.raises(ConfigError, match=f"percentile pruner: {message}") as caught:
        PercentilePruner(**options)
    assert caught.value.field == message.split("=")[0]
    with pytest.raises(ConfigError, match=message):
        make_pruner({"name": "percentile", **options})


def test_percentile_is_required_by_name():
    with pytest.raises(ConfigError, match="pruner 'percentile'.*'percentile'"):
        make_pruner("percentile")


def test_built_from_a_mapping_with_options():
    pruner = make_pruner({"name": "percentile", "percentile": 25, "n_warmup_steps": 3})
    assert isinstance(pruner, PercentilePruner)
    assert (pruner.percentile, pruner.n_warmup_steps, pruner.n_startup_trials) == (25.0, 3, 5)


@pytest.mark.parametrize("current", [10.0, 0.5])
def test_prune_returns_a_python_bool(current):
    study = history_study(FINALS)
    trial = study.ask()
    trial.report(current, step=0)
    pruner = PercentilePruner(50.0, n_startup_trials=0)
    answer = pruner.prune(study, study.storage.get_trial(trial.trial_id))
    assert type(answer) is bool


@pytest.mark.parametrize(("current", "expected"), [(0.8, False), (0.6, True)])
def test_completed_trials_count_with_their_running_average_not_their_best(current, expected):
    # Completed trial reached 0.9 at step 1, but its running average there is 0.7.
    study = history_study([[0.5, 0.9]], direction="maximize")
    pruner = PercentilePruner(50, n_startup_trials=0)
    assert decide(pruner, study, [current - 0.1, current]) is expected


def test_pruned_trials_that_reached_the_step_are_part_of_the_reference():
    study = history_study([[1.0, 1.0]], direction="maximize")
    for _ in range(2):
        trial = study.ask()
        trial.report(0.2, step=0)
        trial.report(0.2, step=1)
        study.tell(trial, state="PRUNED")
    pruner = PercentilePruner(50, n_startup_trials=1)
    # reference averages at step 1: 1.0, 0.2, 0.2 -> median 0.2
    assert decide(pruner, study, [0.5, 0.5]) is False
    assert decide(pruner, study, [0.1, 0.1]) is True


@pytest.mark.parametrize("q", [0.0, 10.0, 25.0, 33.3, 50.0, 75.0, 90.0, 100.0])
@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 51])
def test_percentile_equals_numpy_s_linear_percentile_to_the_bit(n, q):
    rng = np.random.default_rng(n)
    values = [float(v) for v in rng.normal(0.0, 100.0, size=n)]
    values[0] = values[-1]  # ties sort alike
    assert percentile(values, q) == float(np.percentile(values, q))
