"""Quasi-random search: reproducible, better spread than random, random for conditional params."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import qmc

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.samplers import QMCSampler, RandomSampler
from tunelab.space import FloatDistribution

QMC_TYPES = ["sobol", "halton"]


def xy(trial):
    trial.suggest_float("x", 0.0, 1.0)
    trial.suggest_float("y", 0.0, 1.0)
    return 0.0


def run(objective, sampler, n_trials=16, **options):
    study = tunelab.create_study(sampler=sampler, **options)
    study.optimize(objective, n_trials=n_trials, catch=())
    return study


def params_of(study):
    return [dict(r.params) for r in study.trials]


@pytest.mark.parametrize("qmc_type", QMC_TYPES)
def test_same_seed_gives_the_same_sequence(qmc_type):
    first = run(xy, QMCSampler(qmc_type, seed=5))
    second = run(xy, {"name": "qmc", "qmc_type": qmc_type}, seed=5)
    assert params_of(first) == params_of(second)


@pytest.mark.parametrize("qmc_type", QMC_TYPES)
def test_different_seeds_give_different_sequences(qmc_type):
    first = params_of(run(xy, QMCSampler(qmc_type, seed=1)))
    assert first != params_of(run(xy, QMCSampler(qmc_type, seed=2)))


@pytest.mark.parametrize("name", ["sobol", "halton", "quasi-random"])
def test_named_variants_build_a_qmc_sampler(name):
    study = tunelab.create_study(sampler=name, seed=0)
    assert isinstance(study.sampler, QMCSampler)
    assert study.sampler.qmc_type == ("halton" if name == "halton" else "sobol")


def test_unknown_qmc_type_raises_config_error():
    with pytest.raises(
        ConfigError, match="qmc_type='lattice' is unknown; choose one of: sobol, halton"
    ):
        QMCSampler("lattice")


def _discrepancy(sampler, seed):
    study = run(xy, sampler, n_trials=64, seed=seed)
    return qmc.discrepancy(np.array([[r.params["x"], r.params["y"]] for r in study.trials]))


@pytest.mark.parametrize("qmc_type", QMC_TYPES)
def test_points_fill_the_space_better_than_random(qmc_type):
    seeds = range(5)
    quasi = [_discrepancy(qmc_type, seed) for seed in seeds]
    random = [_discrepancy("random", seed) for seed in seeds]
    assert 3 * max(quasi) < min(random), (quasi, random)


def test_trial_n_takes_point_n_of_the_scrambled_sequence():
    seed = 12
    study = run(xy, QMCSampler("sobol", seed=seed), n_trials=8)
    expected = qmc.Sobol(d=2, scramble=True, seed=seed).random(8)
    for record in study.trials[1:]:  # trial 0 is sampled at random: there is no space yet
        point = [record.params["x"], record.params["y"]]
        assert point == pytest.approx(list(expected[record.number]))


def test_first_trial_and_conditional_parameters_are_sampled_at_random():
    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        if trial.number % 2:
            trial.suggest_float("y", -5.0, 5.0)
        return 0.0

    seed = 21
    study = run(objective, QMCSampler(seed=seed), n_trials=10)
    random_reference = run(objective, RandomSampler(seed=seed), n_trials=10)
    assert study.trials[0].params == random_reference.trials[0].params
    for record, reference in zip(study.trials[1::2], random_reference.trials[1::2]):
        assert record.params["y"] == reference.params["y"]
        assert FloatDistribution(-5.0, 5.0).contains(record.params["y"])


def test_every_kind_of_parameter_stays_inside_its_distribution():
    def objective(trial):
        trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_float("momentum", 0.0, 0.9, step=0.1)
        trial.suggest_int("units", 1, 512, log=True)
        trial.suggest_int("batch", 16, 128, step=16)
        trial.suggest_categorical("act", ["relu", "tanh", None])
        trial.suggest_float("fixed", 2.0, 2.0)
        return 0.0

    study = run(objective, QMCSampler("halton", seed=0), n_trials=40)
    for record in study.trials:
        for name, value in record.params.items():
            assert record.distributions[name].contains(value), (name, value)
    assert {r.params["act"] for r in study.trials} == {"relu", "tanh", None}


def test_ask_n_gives_consecutive_points_of_the_sequence():
    serial = run(xy, QMCSampler(seed=8), n_trials=6)
    batched = tunelab.create_study(sampler=QMCSampler(seed=8))
    first = batched.ask()
    batched.tell(first, xy(first))
    trials = batched.ask(5)
    for trial in trials:
        batched.tell(trial, xy(trial))
    assert params_of(batched) == params_of(serial)


def test_optunas_independent_sampler_draws_what_lies_outside_the_sequence():
    import tunelab as optuna
    from tests.samplers.objectives import RecordingSampler

    def objective(trial):
        trial.suggest_float("x", 0.0, 1.0)
        if trial.number % 2:
            trial.suggest_float("y", -5.0, 5.0)
        return 0.0

    independent = RecordingSampler(seed=3)
    sampler = optuna.samplers.QMCSampler(
        qmc_type="halton", scramble=True, seed=0, independent_sampler=independent,
        warn_asynchronous_seeding=False, warn_independent_sampling=False,
    )
    run(objective, sampler, n_trials=6)
    assert independent.independent() == {(0, "x"), (1, "y"), (3, "y"), (5, "y")}
    assert [c for c in independent.calls if c[0] == "after"] == [("after", n) for n in range(6)]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"independent_sampler": "random"}, "independent_sampler"),
        ({"scramble": "yes"}, "scramble"),
        ({"warn_asynchronous_seeding": None}, "warn_asynchronous_seeding"),
    ],
)
def test_bad_options_name_their_field(options, field):
    with pytest.raises(ConfigError) as error:
        QMCSampler(**options)
    assert error.value.field == field
