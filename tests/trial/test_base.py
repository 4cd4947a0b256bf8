"""BaseTrial: the one type every trial an objective can receive is an instance of."""

from __future__ import annotations

import pytest

import tunelab as optuna


def test_live_fixed_and_stored_trials_are_all_base_trials(make_study):
    study = make_study()
    live = study.ask()
    study.tell(live, 1.0)
    for trial in (live, optuna.trial.FixedTrial({}), study.trials[0]):
        assert isinstance(trial, optuna.trial.BaseTrial)


def test_base_trial_cannot_be_instantiated():
    with pytest.raises(TypeError, match="abstract"):
        optuna.trial.BaseTrial()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("old", "args", "expected"),
    [
        ("suggest_uniform", (0.0, 1.0), {"low": 0.0, "high": 1.0, "log": False, "step": None}),
        ("suggest_loguniform", (1e-3, 1.0), {"low": 1e-3, "high": 1.0, "log": True, "step": None}),
        (
            "suggest_discrete_uniform",
            (0.0, 1.0, 0.25),
            {"low": 0.0, "high": 1.0, "log": False, "step": 0.25},
        ),
    ],
)
def test_deprecated_spellings_warn_and_suggest_a_float(old, args, expected):
    trial = optuna.trial.FixedTrial({"x": 0.5})
    with pytest.warns(FutureWarning, match=f"{old} is deprecated; use suggest_float"):
        assert getattr(trial, old)("x", *args) == 0.5
    assert vars(trial.distributions["x"]) == expected


def test_deprecated_spellings_sample_on_a_live_trial(make_study):
    trial = make_study().ask()
    with pytest.warns(FutureWarning):
        value = trial.suggest_loguniform("lr", 1e-4, 1e-1)
    assert 1e-4 <= value <= 1e-1
    assert trial.distributions["lr"] == optuna.FloatDistribution(1e-4, 1e-1, log=True)


@pytest.mark.parametrize(
    "distribution",
    [
        optuna.FloatDistribution(1e-3, 1.0, log=True),
        optuna.FloatDistribution(0.0, 1.0, step=0.25),
        optuna.IntDistribution(2, 64, log=True),
        optuna.IntDistribution(0, 10, step=5),
        optuna.CategoricalDistribution(("a", None, 3)),
    ],
)
def test_suggest_draws_from_a_distribution_on_any_trial(make_study, distribution):
    live = make_study().ask()
    value = optuna.trial.suggest(live, "p", distribution)
    assert distribution.contains(value) and live.distributions["p"] == distribution
    fixed = optuna.trial.FixedTrial({"p": value})
    assert optuna.trial.suggest(fixed, "p", distribution) == value
    assert fixed.distributions["p"] == distribution
