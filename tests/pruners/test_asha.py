"""Asynchronous successive halving: rung steps, judging only at rungs against every trial that
reached the rung, the bootstrap of a rung with few values, maximize, NaN, a whole study, and
validated options."""

from __future__ import annotations

import math
from collections import Counter

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import SuccessiveHalvingPruner, make_pruner
from tunelab.trial import TrialState

from .helpers import converging_study, decide, history_study


@pytest.mark.parametrize(
    ("min_resource", "max_resource", "eta", "rungs"),
    [
        (2, 20, 3, [2, 6]),  # the docstrings' example: 20 // 9, 20 // 3 (not 2, 6, 18)
        (1, 20, 3, [2, 6]),  # 1 * 27 > 20: two halvings, the lowest rung at 20 // 9
        (1, 25, 3, [2, 8]),
        (1, 81, 3, [1, 3, 9, 27]),  # a power of eta: Li et al.'s ladder
        (1, 9, 3, [1, 3]),
        (1, 10, 2, [1, 2, 5]),
        (3, 100, 2, [3, 6, 12, 25, 50]),
        (1, 100, 4, [1, 6, 25]),
        (7, 50, 3, [16]),
        (5, 9, 3, []),  # 5 * 3 > 9: no room for a halving, every trial completes
    ],
)
def test_with_max_resource_rungs_sit_below_it_at_its_quotients_by_powers_of_eta(
    min_resource, max_resource, eta, rungs
):
    pruner = SuccessiveHalvingPruner(
        min_resource=min_resource, reduction_factor=eta, max_resource=max_resource
    )
    assert pruner.rung_steps(10**6) == rungs
    assert pruner.rung_steps(rungs[-1] - 1 if rungs else 0) == rungs[:-1]


def test_min_early_stopping_rate_leaves_out_the_lowest_rungs():
    pruner = SuccessiveHalvingPruner(
        min_resource=1, reduction_factor=3, max_resource=81, min_early_stopping_rate=2
    )
    assert pruner.rung_steps(100) == [9, 27]


@pytest.mark.parametrize("eta", [2, 3, 4, 5])
def test_no_rung_lies_in_the_last_1_over_eta_of_max_resource(eta):
    for min_resource in range(1, 7):
        for max_resource in range(1, 130):
            rungs = SuccessiveHalvingPruner(
                min_resource=min_resource, reduction_factor=eta, max_resource=max_resource
            ).rung_steps(max_resource)
            assert all(step <= max_resource - max_resource / eta for step in rungs)
            assert rungs == sorted(set(rungs)) and all(step >= min_resource for step in rungs)
            # each rung is the one above it (max_resource on top) divided by eta, rounded down
            uppers = [*rungs[1:], max_resource]
            assert all(step == upper // eta for step, upper in zip(rungs, uppers))
            # and the ladder goes as low as min_resource allows
            assert min(rungs, default=max_resource) < min_resource * eta


@pytest.mark.parametrize(
    ("options", "up_to", "steps"),
    [
        ({}, 30, [1, 3, 9, 27]),
        ({"reduction_factor": 2}, 16, [1, 2, 4, 8, 16]),
        ({"min_resource": 2, "reduction_factor": 3}, 20, [2, 6, 18]),
        ({"min_early_stopping_rate": 1}, 30, [3, 9, 27]),
    ],
)
def test_without_max_resource_rungs_climb_from_min_resource_by_powers_of_eta(
    options, up_to, steps
):
    assert SuccessiveHalvingPruner(**options).rung_steps(up_to) == steps


def curves(*finals):
    """Learning curves (steps 0-3) that end at ``finals``; the value at step 1 is the final."""
    return [[f + 1.0, f, f, f] for f in finals]


def test_at_a_rung_only_the_best_third_goes_on():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = history_study(curves(1.0, 2.0, 3.0, 4.0, 5.0))
    # With the new trial, 6 trials reached step 1: the best 2 go on (values 1.0 and 2.0).
    assert decide(pruner, study, [9.0, 1.5]) is False
    assert decide(pruner, study, [9.0, 2.5]) is True


def test_between_rungs_a_trial_is_never_stopped():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = history_study(curves(1.0, 2.0, 3.0))
    assert decide(pruner, study, [9.0]) is False  # step 0: before the first rung
    assert decide(pruner, study, {0: 9.0, 1: 1.5, 2: 50.0}) is False  # step 2: between rungs


def test_a_trial_that_jumps_past_rungs_is_judged_at_the_last_one():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = history_study([[5.0, 5.0, 5.0, 1.0], [5.0, 5.0, 5.0, 2.0], [5.0, 5.0, 5.0, 3.0]])
    assert decide(pruner, study, {0: 9.0, 3: 2.5}) is True  # judged at rung 3, not rung 1
    assert decide(pruner, study, {0: 9.0, 3: 0.5}) is False


def test_a_rung_with_few_values_keeps_only_its_best():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = history_study(curves(2.0))
    assert decide(pruner, study, [9.0, 1.0]) is False
    assert decide(pruner, study, [9.0, 3.0]) is True


def test_maximize_keeps_the_highest_values():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    study = history_study([[0.0, 0.9], [0.0, 0.5], [0.0, 0.7]], direction="maximize")
    assert decide(pruner, study, [0.0, 0.8]) is False  # 4 trials, the best 2: 0.9 and 0.8
    assert decide(pruner, study, [0.0, 0.6]) is True


def test_a_nan_prunes_at_once():
    pruner = SuccessiveHalvingPruner(min_resource=5)
    assert decide(pruner, tunelab.create_study(), [1.0, math.nan]) is True


FINALS = [0.37, 0.91, 0.12, 0.55, 0.78, 0.05, 0.66, 0.43, 0.29, 0.84, 0.18, 0.71, 0.95, 0.33,
          0.60, 0.48, 0.88, 0.24, 0.09, 0.52, 0.75, 0.41, 0.99, 0.15, 0.63, 0.31, 0.82]


def test_in_a_study_the_best_trial_runs_to_the_end_and_few_others_do():
    pruner = {"name": "asha", "min_resource": 1, "reduction_factor": 3}
    study = converging_study(pruner, FINALS, last_step=10)
    completed = [r for r in study.trials if r.state is TrialState.COMPLETE]
    assert study.best_value == min(FINALS)
    # measured: 3 of 27 trials completed, 27 % of the epochs that no pruning would run
    assert len(completed) <= len(FINALS) // 3
    epochs = sum(len(r.intermediate_values) for r in study.trials)
    assert epochs <= 0.4 * 10 * len(FINALS)


def stops(study):
    return Counter((r.state, r.last_step) for r in study.trials)


def test_in_a_study_of_20_epochs_trials_stop_at_the_rungs_below_max_resource_only():
    pruner = {"name": "asha", "min_resource": 2, "reduction_factor": 3, "max_resource": 20}
    study = converging_study(pruner, FINALS, last_step=20)
    assert stops(study) == {
        (TrialState.PRUNED, 2): 18, (TrialState.PRUNED, 6): 5, (TrialState.COMPLETE, 20): 4
    }
    assert study.best_value == min(FINALS)
    # Without max_resource the rungs climb to 18, and a trial is stopped there, 90 % trained.
    pruner.pop("max_resource")
    assert stops(converging_study(pruner, FINALS, last_step=20))[TrialState.PRUNED, 18] == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [({"min_resource": 0}, "min_resource"), ({"reduction_factor": 1}, "reduction_factor"),
     ({"min_early_stopping_rate": -1}, "min_early_stopping_rate"),
     ({"max_resource": 0}, "max_resource")],
)
def test_bad_options_raise_a_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError) as caught:
        make_pruner({"name": "asha", **options})
    assert caught.value.field == field


def test_promote_paused_continues_a_paused_trial_once_its_rung_ranks_it_among_the_best():
    # At step 1 trial i reports firsts[i]; with 9 trials at the rung the best 3 go on, so
    # trial 2 (4.0), paused when only 3 trials had reported, is promoted then.
    firsts = [3.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    trained: list[tuple[int, int]] = []
    study = tunelab.create_study(
        pruner={"name": "asha", "min_resource": 1, "reduction_factor": 3, "max_resource": 3,
                "promote_paused": True}
    )
    for number in range(len(firsts) + 1):
        if number < len(firsts):
            study.enqueue_trial({"x": firsts[number]})
        trial = study.ask()
        x = trial.suggest_float("x", 0.0, 100.0)
        start = trial.resume.step + 1 if trial.resume is not None else 1
        for step in range(start, 4):
            trained.append((trial.number, step))
            trial.report(x - step + 1, step=step)
            if trial.should_prune():
                study.tell(trial, state=TrialState.PRUNED)
                break
        else:
            study.tell(trial, x - 2)
    continuation = study.trials[9]
    assert continuation.system_attrs["resume"] == {
        "trial": 2, "trial_id": study.trials[2].trial_id, "step": 1, "previous": 2, "root": 2}
    assert continuation.params == {"x": 4.0}
    assert dict(continuation.intermediate_values) == {1: 4.0, 2: 3.0, 3: 2.0}
    assert (9, 1) not in trained and (9, 2) in trained  # step 1 is inherited, not retrained
    assert continuation.state is TrialState.COMPLETE
    assert study.pruner.next_trial(study) is None  # trial 2 is promoted only once


# Optuna's arguments ---------------------------------------------------------------------


def test_auto_min_resource_waits_for_a_completed_trial_then_takes_a_hundredth_of_its_steps():
    import tunelab as optuna

    pruner = optuna.pruners.SuccessiveHalvingPruner(
        min_resource="auto", reduction_factor=4, min_early_stopping_rate=0, bootstrap_count=0
    )
    assert decide(pruner, tunelab.create_study(), [9.0] * 10) is False
    assert pruner.rung_steps(100) == []
    # The longest completed trial's last step, 299, is the top; rungs no lower than 299 // 100
    study = history_study([[1.0] * 300, [2.0] * 300])
    assert decide(pruner, study, [9.0] * 4) is False  # step 3: below the lowest rung
    assert pruner.rung_steps(300) == [4, 18, 74]  # 299 // 4 ** 3, // 4 ** 2, // 4
    assert decide(pruner, study, [9.0] * 5) is True
    assert pruner.min_resource == "auto"


def test_auto_min_resource_keeps_a_given_max_resource_as_the_top():
    pruner = SuccessiveHalvingPruner(min_resource="auto", reduction_factor=3, max_resource=81)
    study = history_study([[1.0] * 300])  # the lowest rung may sit at 299 // 100 = 2
    decide(pruner, study, [9.0])
    assert pruner.rung_steps(100) == [3, 9, 27]


def test_a_rung_holding_no_more_than_bootstrap_count_trials_stops_each_one():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2, bootstrap_count=2)
    assert decide(pruner, history_study(curves(2.0)), [9.0, 1.0]) is True  # 2 at the rung
    assert decide(pruner, history_study(curves(2.0, 3.0)), [9.0, 1.0]) is False


def test_bootstrap_count_needs_a_fixed_min_resource():
    with pytest.raises(ConfigError, match="bootstrap_count=3") as error:
        SuccessiveHalvingPruner(min_resource="auto", bootstrap_count=3)
    assert error.value.field == "bootstrap_count"
