"""The auto sampler: NSGA-II for several objectives; GP for a small space without conditional
parameters or large categoricals and a small budget, TPE otherwise; random until the space is
known; the choice logged, stored and shared; reproducible for a seed and history."""

from __future__ import annotations

import logging

import pytest

import tunelab
from tests.samplers.objectives import bowl_2d, mixed, params_of, run
from tunelab.samplers import make_sampler
from tunelab.samplers.auto import (
    GP_MAX_CHOICES,
    GP_MAX_PARAMS,
    GP_MAX_TRIALS,
    STARTUP_TRIALS,
    AutoSampler,
)
from tunelab.samplers.gp import GPSampler
from tunelab.samplers.random import RandomSampler
from tunelab.samplers.tpe import TPESampler


def stored_choice(study):
    return study.storage.get_study(study.study_name).system_attrs.get("sampler")


@pytest.mark.slow
def test_a_small_numeric_space_with_a_small_budget_gets_gp_and_the_choice_is_logged(caplog):
    sampler = AutoSampler(seed=0)
    with caplog.at_level(logging.INFO, logger="tunelab"):
        study = run(bowl_2d, sampler, n_trials=15)
    assert sampler.chosen(study) == "gp"
    assert stored_choice(study) == "auto: gp"
    assert sum("sampler 'auto' chose gp" in m for m in caplog.messages) == 1


def test_conditional_parameters_get_tpe():
    sampler = AutoSampler(seed=0)
    study = run(mixed, sampler, n_trials=STARTUP_TRIALS + 1)
    assert sampler.chosen(study) == "tpe"


def architecture(trial, n_choices=4, n_params=6):
    """Categoricals only, as in an architecture search: the sum of the chosen indices."""
    names = [f"c{k}" for k in range(n_choices)]
    return sum(names.index(trial.suggest_categorical(f"p{i}", names)) for i in range(n_params))


@pytest.mark.parametrize(
    ("objective", "expected"),
    [
        (architecture, "gp"),
        (lambda trial: architecture(trial, n_choices=GP_MAX_CHOICES), "gp"),
        (lambda trial: architecture(trial, n_choices=GP_MAX_CHOICES + 1), "tpe"),
        (lambda trial: architecture(trial, n_params=GP_MAX_PARAMS), "gp"),
        (lambda trial: architecture(trial, n_params=GP_MAX_PARAMS + 1), "tpe"),
        (lambda trial: architecture(trial) + trial.suggest_float("lr", 1e-4, 1.0, log=True), "gp"),
    ],
    ids=["categoricals", "largest-categoricals", "a-categorical-too-large", "most-parameters",
         "too-many-parameters", "categoricals-and-a-float"],
)
def test_a_small_space_without_conditional_parameters_gets_gp_with_a_small_budget(
    objective, expected
):
    sampler = AutoSampler(seed=0)
    study = run(objective, sampler, n_trials=STARTUP_TRIALS + 1)
    assert sampler.chosen(study) == expected


def test_a_resumed_study_proposes_what_an_uninterrupted_one_does():
    straight = run(architecture, AutoSampler(seed=2), n_trials=20)
    resumed = run(architecture, AutoSampler(seed=2), n_trials=14)
    reloaded = tunelab.load_study(
        resumed.study_name, storage=resumed.storage, sampler=AutoSampler(seed=2)
    )
    reloaded.optimize(architecture, n_trials=6)
    assert params_of(reloaded) == params_of(straight)


@pytest.mark.parametrize("objective", [bowl_2d, architecture], ids=["numeric", "categorical"])
def test_a_budget_too_large_for_a_gp_gets_tpe(objective):
    sampler = AutoSampler(seed=0)
    study = tunelab.create_study(sampler=sampler)

    def stop_once_decided(study, record):
        if record.number >= STARTUP_TRIALS:
            study.stop()

    study.optimize(objective, n_trials=GP_MAX_TRIALS + 1, callbacks=[stop_once_decided])
    assert sampler.chosen(study) == "tpe"


def test_ask_and_tell_without_a_budget_gets_tpe():
    sampler = AutoSampler(seed=0)
    study = tunelab.create_study(sampler=sampler)
    for _ in range(STARTUP_TRIALS + 1):
        trial = study.ask()
        study.tell(trial, bowl_2d(trial))
    assert sampler.chosen(study) == "tpe"


def test_the_startup_trials_are_random_and_the_choice_waits_for_them():
    sampler = AutoSampler(seed=3)
    study = run(bowl_2d, sampler, n_trials=STARTUP_TRIALS - 1)
    assert sampler.chosen(study) is None
    assert stored_choice(study) is None
    random_study = run(bowl_2d, RandomSampler(seed=3), n_trials=STARTUP_TRIALS - 1)
    assert params_of(study) == params_of(random_study)


def test_a_stored_choice_is_followed_by_another_process():
    first = AutoSampler(seed=0)
    study = run(bowl_2d, first, n_trials=STARTUP_TRIALS + 1)
    assert first.chosen(study) == "gp"
    # A second worker with an unknown budget would pick TPE on its own; it follows the study.
    second = AutoSampler(seed=1)
    again = tunelab.load_study(study.study_name, storage=study.storage, sampler=second)
    trial = again.ask()
    again.tell(trial, bowl_2d(trial))
    assert second.chosen(again) == "gp"
    assert isinstance(second._delegate(again)[1], GPSampler)


def test_several_objectives_get_nsga2():
    def two(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, 1.0 - x

    sampler = AutoSampler(seed=0)
    study = tunelab.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(two, n_trials=12)
    assert sampler.chosen(study) == "nsga2"
    assert len(study.best_trials) >= 2


def test_it_is_reproducible_handles_conditional_spaces_and_improves_on_its_startup():
    first = run(mixed, AutoSampler(seed=4), n_trials=40)
    assert params_of(first) == params_of(run(mixed, AutoSampler(seed=4), n_trials=40))
    assert first.best_value < min(r.value for r in first.trials[:10])


def test_auto_is_a_sampler_name_and_tpe_is_built_multivariate():
    sampler = make_sampler("auto", seed=1)
    assert isinstance(sampler, AutoSampler)
    study = run(mixed, sampler, n_trials=STARTUP_TRIALS)
    delegate = sampler._delegate(study, decide=True)[1]
    assert isinstance(delegate, TPESampler) and delegate.multivariate
