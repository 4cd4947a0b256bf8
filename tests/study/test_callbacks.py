"""MaxTrialsCallback: a study stops once it holds enough trials in the given states."""

from __future__ import annotations

import tunelab as optuna
from tunelab.trial import TrialState


def _pruned_every_other(trial):
    x = trial.suggest_float("x", -1.0, 1.0)
    if trial.number % 2:
        raise optuna.TrialPruned()
    return x * x


def test_the_study_stops_at_n_completed_trials_by_default(make_study):
    study = make_study()
    study.optimize(_pruned_every_other, n_trials=50,
                   callbacks=[optuna.study.MaxTrialsCallback(3)])
    assert [r.state for r in study.trials].count(TrialState.COMPLETE) == 3
    assert len(study.trials) == 5


def test_states_none_counts_every_trial(make_study):
    study = make_study()
    study.optimize(_pruned_every_other, n_trials=50,
                   callbacks=[optuna.study.MaxTrialsCallback(4, states=None)])
    assert len(study.trials) == 4


def test_trials_of_earlier_runs_count(make_study):
    study = make_study()
    study.optimize(_pruned_every_other, n_trials=4)
    callback = optuna.study.MaxTrialsCallback(3, states=(TrialState.PRUNED,))
    study.optimize(_pruned_every_other, n_trials=50, callbacks=[callback])
    assert [r.state for r in study.trials].count(TrialState.PRUNED) == 3
    assert len(study.trials) == 6
