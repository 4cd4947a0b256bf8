"""What every seeded search algorithm promises, checked for each: the same seed gives the same
trials and another seed other ones, and maximizing f follows exactly the search that
minimizing -f does."""

from __future__ import annotations

import pytest

from tunelab.samplers import (
    CmaEsSampler,
    GeneticSampler,
    GPSampler,
    ParticleSwarmSampler,
    ReinforceSampler,
    SimulatedAnnealingSampler,
    TabuSearchSampler,
)
from tests.samplers.objectives import bowl_2d, mixed, params_of, run

SAMPLERS = {
    "annealing": SimulatedAnnealingSampler,
    "tabu": TabuSearchSampler,
    "genetic": lambda seed: GeneticSampler(seed=seed, population_size=8),
    "pso": lambda seed: ParticleSwarmSampler(seed=seed, n_particles=8),
    "cmaes": CmaEsSampler,
    "reinforce": lambda seed: ReinforceSampler(seed=seed, learning_rate=0.5),
    "gp": lambda seed: GPSampler(seed=seed, n_startup_trials=5),
}


def make(name: str, seed: int):
    factory = SAMPLERS[name]
    return factory(seed) if not isinstance(factory, type) else factory(seed=seed)


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
