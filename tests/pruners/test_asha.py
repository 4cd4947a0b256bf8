"""Asynchronous successive halving: rung steps, judging only at rungs against every trial that
reached the rung, the bootstrap of a rung with few values, maximize, NaN, a whole study, and
validated options."""

from __future__ import annotations

import math

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.pruners import SuccessiveHalvingPruner, make_pruner
from tunelab.trial import TrialState

from .helpers import decide, history_study


@pytest.mark.parametrize(
    ("options", "up_to", "steps"),
    [
        ({}, 30, [1, 3, 9, 27]),
        ({"reduction_factor": 2}, 16, [1, 2, 4, 8, 16]),
        ({"min_resource": 2, "reduction_factor": 3}, 20, [2, 6, 18]),
        ({"min_early_stopping_rate": 1}, 30, [3, 9, 27]),
        ({"max_resource": 9}, 30, [1, 3]),  # a trial at its full budget completes
    ],
)
def test_rungs_sit_at_min_resource_times_powers_of_the_reduction_factor(options, up_to, steps):
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


def test_in_a_study_the_best_trial_runs_to_the_end_and_few_others_do():
    finals = [0.37, 0.91, 0.12, 0.55, 0.78, 0.05, 0.66, 0.43, 0.29, 0.84, 0.18, 0.71, 0.95, 0.33,
              0.60, 0.48, 0.88, 0.24, 0.09, 0.52, 0.75, 0.41, 0.99, 0.15, 0.63, 0.31, 0.82]

    def objective(trial):
        final = finals[trial.number]
        for step in range(10):
            trial.report(final + 1.0 / (step + 1), step=step)
            if trial.should_prune():
                raise tunelab.TrialPruned()
        return final

    study = tunelab.create_study(pruner={"name": "asha", "min_resource": 1, "reduction_factor": 3})
    study.optimize(objective, n_trials=len(finals))
    completed = [r for r in study.trials if r.state is TrialState.COMPLETE]
    assert study.best_value == min(finals)
    # measured: 3 of 27 trials completed, 36 % of the epochs that no pruning would run
    assert len(completed) <= len(finals) // 3
    epochs = sum(len(r.intermediate_values) for r in study.trials)
    assert epochs <= 0.4 * 10 * len(finals)


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
    study = history_study([[1.0] * 300, [2.0] * 300])  # 299 steps: the first rung is at 2
    assert decide(pruner, study, [9.0] * 3) is True
    assert pruner.rung_steps(40) == [2, 8, 32] and pruner.min_resource == "auto"


def test_a_rung_holding_no_more_than_bootstrap_count_trials_stops_each_one():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=2, bootstrap_count=2)
    assert decide(pruner, history_study(curves(2.0)), [9.0, 1.0]) is True  # 2 at the rung
    assert decide(pruner, history_study(curves(2.0, 3.0)), [9.0, 1.0]) is False


def test_bootstrap_count_needs_a_fixed_min_resource():
    with pytest.raises(ConfigError, match="bootstrap_count=3") as error:
        SuccessiveHalvingPruner(min_resource="auto", bootstrap_count=3)
    assert error.value.field == "bootstrap_count"
