"""What every seeded search algorithm promises, checked for each: the same seed gives the same
trials and another seed other ones, conditional spaces work and ``ask(8)`` gives 8 distinct
configurations (every registered sampler), maximizing f follows exactly the search that
minimizing -f does, batches avoid tried and running points, a batch of a population method is
the generation the serial search would run, and a walk rebuilt from the storage is the walk the
running sampler holds."""

from __future__ import annotations

import pytest

import tunelab
from tests.samplers.objectives import (
    assert_valid_mixed_trials,
    bowl_2d,
    mixed,
    nc,
    params_of,
    run,
    small,
    small_point,
)
from tunelab.samplers import (
    SAMPLERS as REGISTERED,
)
from tunelab.samplers import (
    BOHBSampler,
    CmaEsSampler,
    GeneticSampler,
    GPSampler,
    ParticleSwarmSampler,
    ReinforceSampler,
    SimulatedAnnealingSampler,
    TabuSearchSampler,
    make_sampler,
)

SAMPLERS = {
    "annealing": SimulatedAnnealingSampler,
    "tabu": TabuSearchSampler,
    "genetic": lambda seed: GeneticSampler(seed=seed, population_size=8),
    "pso": lambda seed: ParticleSwarmSampler(seed=seed, n_particles=8),
    "cmaes": CmaEsSampler,
    "reinforce": lambda seed: ReinforceSampler(seed=seed, learning_rate=0.5),
    "gp": lambda seed: GPSampler(seed=seed, n_startup_trials=5),
    "bohb": BOHBSampler,
}


def make(name: str, seed: int):
    factory = SAMPLERS[name]
    return factory(seed) if not isinstance(factory, type) else factory(seed=seed)


def mixed_pair(trial):
    """Two objectives over the mixed space, for the multi-objective samplers."""
    value = mixed(trial)
    return value, trial.params["lr"] - value


@pytest.mark.parametrize("name", sorted(REGISTERED))
def test_every_registered_sampler_is_seeded_handles_conditions_and_asks_distinct_batches(name):
    directions = ["minimize", "minimize"] if name == "nsga2" else ["minimize"]
    objective = mixed_pair if name == "nsga2" else mixed

    def seeded(seed):
        sampler = {"name": name, "seed": seed}
        study = tunelab.create_study(sampler=sampler, directions=directions)
        study.optimize(objective, n_trials=20, catch=())
        return study

    study = seeded(3)
    assert params_of(study) == params_of(seeded(3))
    assert_valid_mixed_trials(study)
    batch = study.ask(8)
    for trial in batch:
        study.tell(trial, objective(trial))
    assert len({tuple(sorted(t.params.items())) for t in study.trials[-8:]}) == 8


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_gives_the_same_trials_and_other_seeds_differ(name):
    first = params_of(run(mixed, make(name, 3), 20))
    assert first == params_of(run(mixed, make(name, 3), 20))
    assert first != params_of(run(mixed, make(name, 4), 20))


@pytest.mark.parametrize("name", SAMPLERS)
def test_maximizing_follows_the_same_search_as_minimizing_the_negation(name):
    minimized = run(bowl_2d, make(name, 7), 30)
    maximized = run(lambda t: -bowl_2d(t), make(name, 7), 30, direction="maximize")
    assert params_of(maximized) == params_of(minimized)
    assert maximized.best_value == -minimized.best_value


# (sampler, start-up trials, batch): the start-up and the batch fill less than the 15 points.
UNTRIED_BATCHES = {
    "annealing": (lambda: SimulatedAnnealingSampler(seed=2), 5, 8),
    "tabu": (lambda: TabuSearchSampler(seed=2), 5, 8),
    "genetic": (lambda: GeneticSampler(seed=2, population_size=4), 4, 4),
    "pso": (lambda: ParticleSwarmSampler(seed=2, n_particles=4), 4, 4),
}


@pytest.mark.parametrize("name", UNTRIED_BATCHES)
def test_a_batch_in_a_small_discrete_space_avoids_tried_and_running_points(name):
    factory, startup, size = UNTRIED_BATCHES[name]
    study = run(small, factory(), n_trials=startup)
    tried = {nc(r) for r in study.trials}
    points = {small_point(trial) for trial in study.ask(size)}
    assert len(points) == size and not points & tried
    # A second batch while the first is running avoids its points too.
    assert not {small_point(trial) for trial in study.ask(2)} & points


# (sampler, trials before the batch): the batch is the next whole generation.
GENERATIONS = {
    "genetic": (lambda: GeneticSampler(seed=1, population_size=8), 8),
    "pso": (lambda: ParticleSwarmSampler(seed=1, n_particles=8), 16),
    "cmaes": (lambda: CmaEsSampler(seed=1, population_size=8), 8),
}


@pytest.mark.parametrize("name", GENERATIONS)
def test_ask_returns_the_generation_the_serial_search_runs(name):
    factory, before = GENERATIONS[name]
    serial = run(bowl_2d, factory(), n_trials=before + 8)
    study = run(bowl_2d, factory(), n_trials=before)
    batch = study.ask(8)
    points = [(t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", -5.0, 5.0)) for t in batch]
    assert len(set(points)) == 8
    assert points == [(r.params["x"], r.params["y"]) for r in serial.trials[before:]]


WALK_SUMMARIES = {
    "annealing": lambda s: (s.current, s.current_loss, s.best, s.tried, s.decisions),
    "tabu": lambda s: (s.current_loss, s.best, s.tried, s.position, list(s.tabu)),
}


@pytest.mark.parametrize("name", WALK_SUMMARIES)
def test_trials_finishing_out_of_order_give_the_walk_a_fresh_sampler_replays(name):
    """Workers finish trials out of number order; the walk is always the one that the finished
    trials taken in number order give, which a fresh sampler rebuilds from the storage."""
    summary = WALK_SUMMARIES[name]
    sampler = make(name, 3)
    study = run(bowl_2d, sampler, n_trials=8)
    first, second, third = study.ask(3)
    for trial in (third, first):
        study.tell(trial, bowl_2d(trial))
    # Trial 9 is still running: 8 and 10 are replayed on a copy of the cached state.
    assert summary(sampler.search_state(study)) == summary(make(name, 3).search_state(study))
    study.tell(second, bowl_2d(second))
    study.optimize(bowl_2d, n_trials=10)
    assert summary(sampler.search_state(study)) == summary(make(name, 3).search_state(study))


@pytest.mark.parametrize("name", ["tpe", "bohb"])
def test_a_model_of_one_objective_samples_a_multi_objective_study_at_random_with_one_warning(
    name,
):
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, 1.0 - x

    both = ["minimize", "minimize"]
    with pytest.warns(UserWarning, match="single objective") as caught:
        study = run(objective, make_sampler(name, seed=4), n_trials=15, directions=both)
    assert len(caught) == 1
    random = run(objective, make_sampler("random", seed=4), n_trials=15, directions=both)
    assert params_of(study) == params_of(random)
