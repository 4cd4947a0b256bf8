"""add_trial / add_trials: trials made elsewhere, stored whole, then part of the history."""

from __future__ import annotations

import dataclasses

import pytest

import tunelab as optuna
from tunelab.exceptions import ConfigError

TrialState = optuna.trial.TrialState
X = optuna.FloatDistribution(0.0, 10.0)


def objective(trial: optuna.trial.BaseTrial) -> float:
    x = trial.suggest_float("x", 0.0, 10.0)
    return (x - 2.0) ** 2


def known(x: float) -> optuna.trial.FrozenTrial:
    return optuna.trial.create_trial(
        params={"x": x}, distributions={"x": X}, value=(x - 2.0) ** 2,
        user_attrs={"source": "notes"}, intermediate_values={0: 9.0},
    )


def test_an_added_trial_is_stored_whole_with_the_next_number(make_study):
    study = make_study()
    study.optimize(objective, n_trials=2)
    given = known(2.5)
    assert study.add_trial(given) is None
    stored = study.trials[-1]
    assert stored.number == 2 and stored.trial_id >= 0
    assert dataclasses.replace(stored, trial_id=-1, number=-1) == given
    assert study.best_value <= 0.25


def test_user_attrs_set_before_adding_are_stored(make_study):
    study = make_study()
    trial = known(1.0)
    trial.set_user_attr("checked_by", "hand")
    study.add_trial(trial)
    assert study.trials[0].user_attrs == {"source": "notes", "checked_by": "hand"}


def test_add_trials_copies_another_study(make_study):
    source = make_study()
    source.optimize(objective, n_trials=4)
    source.add_trial(optuna.trial.create_trial(state=TrialState.FAIL))
    target = make_study()
    target.add_trials(source.trials)
    assert [t.state for t in target.trials] == [t.state for t in source.trials]
    assert [t.params for t in target.trials] == [t.params for t in source.trials]
    target.optimize(objective, n_trials=2)
    assert len(target.trials) == 7


def test_add_trials_is_one_write_and_stores_none_if_one_is_invalid(make_study, monkeypatch):
    study = make_study()
    writes = []
    original = study.storage.add_trials
    monkeypatch.setattr(
        study.storage, "add_trials", lambda sid, rs: writes.append(len(rs)) or original(sid, rs)
    )
    study.add_trials([known(1.0), known(3.0)])
    assert writes == [2]
    bad = dataclasses.replace(known(4.0), values=None)
    with pytest.raises(ConfigError, match="needs its objective value"):
        study.add_trials([known(5.0), bad])
    assert len(study.trials) == 2


def test_the_sampler_learns_from_added_trials(make_study):
    """Ten known results take TPE past its random start: it keeps away from the bad end."""
    fresh = make_study(sampler="tpe")
    fresh.optimize(objective, n_trials=10)
    assert max(t.params["x"] for t in fresh.trials) > 6.0
    warm = make_study(sampler="tpe")
    warm.add_trials([known(x) for x in (1.9, 2.0, 2.1, 8.0, 9.0, 9.5, 0.5, 6.0, 7.0, 4.0)])
    warm.optimize(objective, n_trials=10)
    assert max(t.params["x"] for t in warm.trials[10:]) < 6.0


def test_values_must_match_the_number_of_objectives(make_study):
    study = make_study(directions=["minimize", "maximize"])
    with pytest.raises(ConfigError, match="has 1 value.* 2 objective") as info:
        study.add_trial(known(1.0))
    assert info.value.field == "values" and isinstance(info.value, ValueError)
    study.add_trial(optuna.trial.create_trial(values=[1.0, 2.0]))
    assert study.trials[0].values == (1.0, 2.0)


def test_a_running_trial_is_refused(make_study):
    with pytest.raises(ConfigError, match="RUNNING, and nothing would ever finish it"):
        make_study().add_trial(optuna.trial.create_trial(state=TrialState.RUNNING))


def test_only_frozen_trials_can_be_added(make_study):
    with pytest.raises(ConfigError, match="not a FixedTrial"):
        make_study().add_trial(optuna.trial.FixedTrial({"x": 1.0}))  # type: ignore[arg-type]


def test_a_constructed_trial_is_checked_like_a_created_one(make_study):
    started_only = optuna.trial.FrozenTrial(
        number=0, state=TrialState.COMPLETE, value=1.0, datetime_start=None,
        datetime_complete=None, params={}, distributions={}, user_attrs={}, system_attrs={},
        intermediate_values={}, trial_id=0,
    )
    with pytest.raises(ConfigError, match="give its datetime_start"):
        make_study().add_trial(started_only)


def test_an_added_waiting_trial_runs_with_its_fixed_params(make_study):
    study = make_study()
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, system_attrs={"fixed_params": {"x": 7.0}}
    ))
    study.optimize(objective, n_trials=1)
    assert study.trials[0].params == {"x": 7.0}
