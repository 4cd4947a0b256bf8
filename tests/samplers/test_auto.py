"""The auto sampler: TPE for one objective, NSGA-II for several, the choice logged and stored."""

from __future__ import annotations

import logging

import tunelab
from tunelab.samplers import make_sampler
from tunelab.samplers.auto import AutoSampler
from tests.samplers.objectives import bowl_2d, mixed, params_of, run


def test_one_objective_gets_tpe_and_the_choice_is_stored_and_logged(caplog):
    sampler = AutoSampler(seed=0)
    with caplog.at_level(logging.INFO, logger="tunelab"):
        study = run(bowl_2d, sampler, n_trials=15)
    assert sampler.chosen(study) == "tpe"
    assert study.storage.get_study(study.study_name).system_attrs["sampler"] == "auto: tpe"
    assert sum("sampler 'auto' chose tpe" in m for m in caplog.messages) == 1


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


def test_auto_is_a_sampler_name():
    assert isinstance(make_sampler("auto", seed=1), AutoSampler)
