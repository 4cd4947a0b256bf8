"""Simulated annealing: reproducible, better than random search on smooth functions, a walk
replayed from the history that cools and accepts fewer worse moves as it cools."""

from __future__ import annotations

import math
import statistics

import pytest

import tunelab
from tests.samplers.objectives import (
    assert_valid_mixed_run,
    bowl_2d,
    bowl_4d,
    mixed,
    nc,
    params_of,
    run,
    small,
)
from tunelab.exceptions import ConfigError
from tunelab.samplers import RandomSampler
from tunelab.samplers.annealing import SimulatedAnnealingSampler as Annealing
from tunelab.trial import TrialState


def test_a_resumed_study_follows_the_same_walk(sqlite_url):
    """The walk lives in the storage, not in the sampler: a fresh sampler goes on the same way."""
    whole = run(bowl_2d, Annealing(seed=5), n_trials=30)
    first = tunelab.create_study("walk", storage=sqlite_url, sampler=Annealing(seed=5))
    first.optimize(bowl_2d, n_trials=12)
    resumed = tunelab.load_study("walk", sqlite_url, sampler=Annealing(seed=5))
    resumed.optimize(bowl_2d, n_trials=18)
    assert params_of(resumed) == params_of(whole)


@pytest.mark.parametrize("objective", [bowl_2d, bowl_4d], ids=["2d", "4d"])
def test_beats_random_search_on_a_smooth_function(objective):
    # At 70 trials, over seeds 0-19 taken five at a time, random search's median best value is
    # 12 to 79 times annealing's in 2-D and 8 to 46 times in 4-D.
    seeds = range(5)
    annealed = [run(objective, Annealing(seed=s), 70).best_value for s in seeds]
    randoms = [run(objective, RandomSampler(seed=s), 70).best_value for s in seeds]
    assert 5 * statistics.median(annealed) < statistics.median(randoms), (annealed, randoms)


def test_every_kind_of_parameter_lies_in_its_distribution_and_conditional_ones_are_random():
    sampler = Annealing(seed=0)
    study = run(mixed, sampler, n_trials=60)
    assert_valid_mixed_run(study, sampler)
    walked = study.trials[5:]
    assert len({r.params["act"] for r in walked}) >= 2  # categorical moves happen
    assert len({r.params["batch"] for r in walked}) >= 3
    assert study.best_value < min(r.value for r in study.trials[:5])


def test_no_point_is_tried_twice_while_untried_ones_remain_in_a_small_discrete_space():
    study = run(small, Annealing(seed=0), n_trials=15)
    points = [nc(r) for r in study.trials]
    walked = points[5:]
    assert len(set(walked)) == len(walked) and not set(walked) & set(points[:5])


def test_temperature_falls_and_worse_moves_are_accepted_early_not_late():
    early, late = [], []
    for seed in range(5):
        sampler = Annealing(seed=seed)
        study = run(bowl_4d, sampler, n_trials=80)
        state = sampler.search_state(study)
        temperatures = [d.temperature for d in state.decisions]
        assert temperatures[0] == pytest.approx(state.t0)
        assert all(a > b for a, b in zip(temperatures, temperatures[1:]))
        worse = [d for d in state.decisions if d.delta > 0]
        for d in worse:
            assert d.probability == pytest.approx(math.exp(-d.delta / d.temperature))
        third = len(worse) // 3
        early += worse[:third]
        late += worse[-third:]

    def accepted(decisions):
        return sum(d.accepted for d in decisions) / len(decisions)

    # Observed over these seeds: 0.33 of the first third of worse moves, 0.06 of the last.
    assert accepted(early) > 0.25 and accepted(late) < 0.15, (accepted(early), accepted(late))


def test_the_replayed_walk_stands_on_the_last_accepted_trial():
    sampler = Annealing(seed=4)
    study = run(bowl_2d, sampler, n_trials=40)
    state = sampler.search_state(study)
    assert state.first_move == 5
    assert state.t0 == pytest.approx(statistics.pstdev(r.value for r in study.trials[:5]))
    last = max(d.number for d in state.decisions if d.accepted)
    assert state.current == study.trials[last].params
    assert state.current_loss == study.trials[last].value
    assert state.best == study.best_params


@pytest.mark.parametrize("cooling", ["geometric", "linear", "logarithmic", 0.5])
def test_every_schedule_starts_at_t0_and_never_rises(cooling):
    sampler = Annealing(seed=0, cooling=cooling, cooling_trials=20, initial_temperature=2.0)
    study = run(bowl_2d, sampler, n_trials=40)
    temperatures = [d.temperature for d in sampler.search_state(study).decisions]
    assert temperatures[0] == 2.0
    assert all(a >= b for a, b in zip(temperatures, temperatures[1:]))
    assert temperatures[-1] < 2.0


def test_failed_and_pruned_trials_are_rejected_moves():
    def flaky(trial):
        value = bowl_2d(trial)
        if trial.number % 4 == 3:
            raise tunelab.TrialPruned() if trial.number % 8 == 3 else RuntimeError("boom")
        return value

    sampler = Annealing(seed=0)
    study = tunelab.create_study(sampler=sampler)
    study.optimize(flaky, n_trials=40)
    states = {r.state for r in study.trials}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    failed = [d for d in sampler.search_state(study).decisions if d.delta is None]
    assert failed and not any(d.accepted for d in failed)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", 1.5),
        ("n_startup_trials", 0),
        ("n_startup_trials", True),
        ("initial_temperature", 0.0),
        ("initial_temperature", math.inf),
        ("cooling", 1.0),
        ("cooling", 0),
        ("cooling", "exponential"),
        ("cooling_trials", 0),
        ("step_size", 0.0),
        ("step_size", 2.0),
        ("min_step_size", 0.5),
        ("switch_probability", 1.5),
    ],
)
def test_bad_options_raise_config_error_naming_the_option(option, value):
    with pytest.raises(ConfigError, match=option) as error:
        Annealing(**{option: value})
    assert error.value.field == option


def test_an_unknown_schedule_suggests_the_closest_name():
    with pytest.raises(ConfigError, match="did you mean 'linear'"):
        Annealing(cooling="linaer")
