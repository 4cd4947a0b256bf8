"""The sampler contract has Optuna's hooks, so that a sampler written for Optuna runs unchanged."""

from __future__ import annotations

import tunelab
from tunelab.samplers import BaseSampler
from tunelab.space import FloatDistribution
from tunelab.trial import TrialState


class OptunaStyleSampler(BaseSampler):
    """Written as Optuna's documentation shows a sampler: every hook with Optuna's arguments."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def infer_relative_search_space(self, study, trial):
        self.calls.append(("infer", trial.number))
        return {"x": FloatDistribution(0.0, 1.0)}

    def sample_relative(self, study, trial, search_space):
        self.calls.append(("relative", trial.number, sorted(search_space)))
        return {"x": 0.25}

    def sample_independent(self, study, trial, param_name, param_distribution):
        self.calls.append(("independent", trial.number, param_name))
        return param_distribution.low

    def before_trial(self, study, trial):
        self.calls.append(("before", trial.number))

    def after_trial(self, study, trial, state, values):
        self.calls.append(("after", trial.number, state, values))

    def reseed_rng(self):
        self.calls.append(("reseed",))


def objective(trial):
    return trial.suggest_float("x", 0.0, 1.0) + trial.suggest_int("n", 3, 9)


def test_an_optuna_style_sampler_gets_every_hook_with_optunas_arguments():
    sampler = OptunaStyleSampler()
    study = tunelab.create_study(sampler=sampler)
    study.optimize(objective, n_trials=1)
    assert sampler.calls == [
        ("before", 0),
        ("infer", 0),
        ("relative", 0, ["x"]),
        ("independent", 0, "n"),
        ("after", 0, TrialState.COMPLETE, (3.25,)),
    ]
    assert study.trials[0].params == {"x": 0.25, "n": 3}


def test_after_trial_sees_a_failure_and_a_trial_told_by_number():
    sampler = OptunaStyleSampler()
    study = tunelab.create_study(name="s", sampler=sampler)
    asked = study.ask()
    elsewhere = tunelab.load_study("s", study.storage, sampler=sampler)  # as another process
    elsewhere.tell(asked.number, state="FAIL", fail_reason="out of memory")
    ((_, number, state, values),) = [c for c in sampler.calls if c[0] == "after"]
    assert (number, state, values) == (0, TrialState.FAIL, None)


def test_the_built_in_samplers_keep_their_seeded_draws_when_reseeded():
    sampler = tunelab.samplers.make_sampler("random", seed=3)
    first = tunelab.create_study(sampler=sampler)
    first.optimize(objective, n_trials=3)
    sampler.reseed_rng()
    second = tunelab.create_study(sampler=sampler)
    second.optimize(objective, n_trials=3)
    assert [t.params for t in first.trials] == [t.params for t in second.trials]


class TpeThenRandomSampler(BaseSampler):
    """A user's sampler in Optuna's style: a built-in TPE for the joint space, random search
    for everything else, each reached through the hooks Optuna's samplers have."""

    def __init__(self, seed):
        self._tpe = tunelab.samplers.TPESampler(seed=seed, n_startup_trials=5)
        self._random = tunelab.samplers.RandomSampler(seed=seed)

    def infer_relative_search_space(self, study, trial):
        return self._tpe.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._tpe.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._random.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self._tpe.after_trial(study, trial, state, values)


def bowl(trial):
    return (trial.suggest_float("x", -5.0, 5.0) - 1.0) ** 2 + trial.suggest_float("y", 0.0, 1.0)


def test_a_built_in_sampler_answers_sample_relative_for_a_sampler_that_wraps_it():
    wrapped = tunelab.create_study(sampler=TpeThenRandomSampler(seed=4))
    wrapped.optimize(bowl, n_trials=15)
    alone = tunelab.create_study(sampler=tunelab.samplers.TPESampler(seed=4, n_startup_trials=5))
    alone.optimize(bowl, n_trials=15)
    assert [t.params for t in wrapped.trials] == [t.params for t in alone.trials]
