"""Step savings: pruned trials save the steps they did not run, continuations count only the
steps past their resume point and belong to the run they continue."""

from __future__ import annotations

import tunelab
from tunelab.pruners.base import Continuation
from tunelab.pruners.savings import step_savings
from tunelab.trial import TrialState


def finished(study, steps, state):
    trial = study.ask()
    for step in steps:
        trial.report(1.0, step=step)
    study.tell(trial, 1.0 if state is TrialState.COMPLETE else None, state=state)


def test_pruned_trials_save_the_steps_they_did_not_run():
    study = tunelab.create_study()
    finished(study, range(1, 11), TrialState.COMPLETE)
    finished(study, range(1, 4), TrialState.PRUNED)
    savings = step_savings(study.trials)
    assert (savings.run, savings.without_pruning, savings.full_steps) == (13, 20, 10)
    assert savings.saved_fraction == 1 - 13 / 20


def test_a_continuation_counts_only_its_own_steps_and_no_run_of_its_own():
    study = tunelab.create_study()
    finished(study, range(1, 4), TrialState.PRUNED)
    paused = study.trials[0]
    study.pruner.next_trial = lambda s: Continuation(paused, 3, {})
    finished(study, range(4, 11), TrialState.COMPLETE)
    savings = step_savings(study.trials)
    assert (savings.run, savings.without_pruning) == (10, 10)


def test_no_completed_trial_with_steps_means_no_estimate():
    study = tunelab.create_study()
    finished(study, range(1, 3), TrialState.PRUNED)
    assert step_savings(study.trials) is None
