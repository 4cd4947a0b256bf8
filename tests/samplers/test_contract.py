"""What families of tunelab's samplers promise beyond the contract every sampler keeps (checked by
tunelab.testing's sampler suite): batches of the walks and populations avoid tried and running
points, a batch of a population method is the generation the serial search would run, a walk
rebuilt from the storage is the walk the running sampler holds, and a model of one objective
(BOHB) samples a multi-objective study at random with one warning (TPE models several:
tests/samplers/test_tpe_multi_objective.py)."""

from __future__ import annotations

import pytest

from tests.samplers.objectives import bowl_2d, nc, params_of, run, small, small_point
from tunelab.samplers import (
    CmaEsSampler,
    GeneticSampler,
    ParticleSwarmSampler,
    SimulatedAnnealingSampler,
    TabuSearchSampler,
    make_sampler,
)

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


def rebuilt(name, study):
    """The walk a fresh sampler rebuilds from the storage."""
    return WALK_SUMMARIES[name](make_sampler(name, seed=3).search_state(study))


@pytest.mark.parametrize("name", WALK_SUMMARIES)
def test_trials_finishing_out_of_order_give_the_walk_a_fresh_sampler_replays(name):
    """Workers finish trials out of number order; the walk is always the one that the finished
    trials taken in number order give, which a fresh sampler rebuilds from the storage."""
    summary = WALK_SUMMARIES[name]
    sampler = make_sampler(name, seed=3)
    study = run(bowl_2d, sampler, n_trials=8)
    first, second, third = study.ask(3)
    for trial in (third, first):
        study.tell(trial, bowl_2d(trial))
    # Trial 9 is still running: 8 and 10 are replayed on a copy of the cached state.
    assert summary(sampler.search_state(study)) == rebuilt(name, study)
    study.tell(second, bowl_2d(second))
    study.optimize(bowl_2d, n_trials=10)
    assert summary(sampler.search_state(study)) == rebuilt(name, study)


@pytest.mark.parametrize("name", ["bohb"])
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
