"""NSGA-III: the reference points, normalisation, association and niching on hand-made fronts,
reproducibility, constraints, spread on 3-objective DTLZ2, and the options Optuna gives it."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

import tunelab
from tests.samplers.objectives import params_of
from tunelab.exceptions import ConfigError
from tunelab.samplers import SAMPLERS, NSGAIIISampler, make_sampler
from tunelab.samplers._pareto import hypervolume
from tunelab.samplers.nsga2 import Member
from tunelab.samplers.nsga3 import (
    NSGA3Sampler,
    associate,
    niche_fill,
    normalise,
    select_by_niches,
    simplex_lattice,
)
from tunelab.samplers.random import RandomSampler

THREE = ["minimize", "minimize", "minimize"]


def dtlz2(trial, dims=5):
    """DTLZ2 (Deb, Thiele, Laumanns & Zitzler 2002) with 3 objectives: the front is the positive
    octant of the unit sphere, reached where x2.. = 0.5."""
    x = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)]
    g = sum((v - 0.5) ** 2 for v in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return (
        (1 + g) * math.cos(a) * math.cos(b),
        (1 + g) * math.cos(a) * math.sin(b),
        (1 + g) * math.sin(a),
    )


def run(sampler, n_trials, objective=dtlz2):
    study = tunelab.create_study(directions=THREE, sampler=sampler)
    study.optimize(objective, n_trials=n_trials)
    return study


# Reference points ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objectives", "divisions", "count"),
    [(3, 3, 10), (2, 4, 5), (3, 12, 91), (5, 2, 15), (1, 3, 1)],
)
def test_the_lattice_has_c_m_plus_p_minus_1_p_distinct_points_on_the_simplex(
    objectives, divisions, count
):
    points = simplex_lattice(objectives, divisions)
    assert points.shape == (count, objectives) == (math.comb(objectives + divisions - 1, divisions),
                                                   objectives)
    assert np.allclose(points.sum(axis=1), 1.0) and np.all(points >= 0)
    assert np.allclose(points * divisions, np.round(points * divisions))  # multiples of 1/p
    assert len({tuple(p) for p in points}) == count
    # Every axis's corner is a reference point.
    assert {tuple(row) for row in np.eye(objectives)} <= {tuple(p) for p in points}


def test_the_sampler_uses_the_lattice_or_the_points_given():
    assert NSGA3Sampler(dividing_parameter=4).reference_points_for(3).shape == (15, 3)
    given = NSGA3Sampler(reference_points=[[1, 0], [0, 1], [1, 1]])
    assert given.reference_points_for(2).tolist() == [[1, 0], [0, 1], [1, 1]]
    with pytest.raises(ConfigError, match="3 objectives") as error:
        given.reference_points_for(3)
    assert error.value.field == "reference_points"


# Normalisation, association, niching -----------------------------------------------------


def test_normalisation_divides_by_the_intercepts_of_the_extreme_points_hyperplane():
    # Ideal point (1, 1, 1); the extremes lie on the axes at 1, 2 and 4 once it is subtracted.
    losses = np.array([[2.0, 1, 1], [1, 3, 1], [1, 1, 5], [1.5, 2, 3]])
    assert np.allclose(
        normalise(losses), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5]]
    )


def test_a_tilted_hyperplane_gives_its_own_intercepts_not_the_largest_values():
    # Extremes (0, 2) and (4, 0): the line x / 4 + y / 2 = 1; (4, 2) lies beyond it.
    losses = np.array([[0.0, 2.0], [4.0, 0.0], [2.0, 1.0], [4.0, 2.0]])
    assert np.allclose(normalise(losses), [[0, 1], [1, 0], [0.5, 0.5], [1, 1]])


def test_a_degenerate_hyperplane_falls_back_to_the_largest_values():
    # All on one line through the ideal point: both extremes are the same member.
    losses = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 4.0]])
    assert np.allclose(normalise(losses), [[0, 0], [0.5, 0.25], [1, 1]])
    # An infinite value is replaced by a finite one beyond the others.
    assert np.all(np.isfinite(normalise(np.array([[0.0, 1.0], [1.0, math.inf], [2.0, 0.0]]))))


def test_each_member_joins_the_reference_line_nearest_to_it():
    references = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    points = np.array([[1.0, 0.1], [0.4, 0.5], [0.0, 2.0]])
    nearest, distance = associate(points, references)
    assert nearest.tolist() == [0, 2, 1]
    assert np.allclose(distance, [0.1, math.sqrt(0.005), 0.0])
    # Only directions matter: scaling a reference point changes nothing.
    assert associate(points, references * [[2.0], [3.0], [0.1]])[0].tolist() == [0, 2, 1]


def test_niching_fills_the_least_crowded_reference_point_with_its_nearest_member():
    # Kept: two members at point 0, one at point 1. Front: one at 0, two at 2 (the nearer one
    # is the second), one at 1.
    nearest = np.array([0, 0, 1, 0, 2, 2, 1])
    distance = np.array([0.0, 0.0, 0.0, 0.1, 0.3, 0.2, 0.1])
    for seed in range(5):
        rng = random.Random(seed)
        assert niche_fill(nearest, distance, 3, 1, rng) == [2]  # point 2 has no member yet
        # Then point 1 and point 2 hold one member each: either may come next.
        assert niche_fill(nearest, distance, 3, 2, random.Random(seed))[1] in (1, 3)
    # All four, when there is room for all.
    assert sorted(niche_fill(nearest, distance, 3, 4, random.Random(0))) == [0, 1, 2, 3]


def test_ties_between_empty_reference_points_are_broken_by_the_generator():
    nearest = np.array([0, 1, 2, 3])
    picks = {tuple(niche_fill(nearest, np.zeros(4), 0, 2, random.Random(s))) for s in range(30)}
    assert len(picks) > 3  # not always the same two
    assert picks == {tuple(niche_fill(nearest, np.zeros(4), 0, 2, random.Random(s)))
                     for s in range(30)}


def test_selection_keeps_whole_fronts_then_spreads_the_cut_front():
    def member(number, loss):
        return Member(number, {}, loss, 0.0)

    # Front 0: the two extremes; front 1 (cut, two of five kept): a cluster near the line of
    # (1, 0), one member on the middle line and one near the line of (0, 1).
    pool = [
        member(0, (0.0, 1.0)), member(1, (1.0, 0.0)),
        member(2, (1.1, 0.2)), member(3, (1.15, 0.15)), member(4, (1.2, 0.1)),
        member(5, (1.05, 1.05)), member(6, (0.1, 1.1)),
    ]
    references = simplex_lattice(2, 2)  # (1, 0), (1/2, 1/2), (0, 1)
    for seed in range(5):
        kept = select_by_niches(pool, 4, references, random.Random(seed))
        assert [r.member.number for r in kept[:2]] == [0, 1]
        assert [r.rank for r in kept] == [0, 0, 1, 1]
        # The middle reference point is the one with no member kept, so trial 5 joins; the
        # other seat goes to one of the remaining members.
        assert 5 in {r.member.number for r in kept[2:]}


# The sampler -----------------------------------------------------------------------------


def test_same_seed_and_history_give_the_same_trials_and_other_seeds_differ():
    def go(seed):
        return params_of(run(NSGA3Sampler(seed=seed, population_size=8), 48))

    assert go(3) == go(3)
    assert go(3) != go(4)
    # A fresh sampler on the same history proposes what the first would.
    first = run(NSGA3Sampler(seed=3, population_size=8), 44)
    again = tunelab.create_study(directions=THREE, sampler=NSGA3Sampler(seed=3, population_size=8))
    for record in first.trials:
        again.add_trial(record)
    assert [t.params for t in first.ask(4)] == [t.params for t in again.ask(4)]


def test_constraints_keep_the_final_population_and_front_feasible():
    def constrained(trial):
        values = dtlz2(trial)
        trial.set_constraints([0.5 - trial.params["x0"]])  # x0 >= 0.5
        return values

    sampler = NSGA3Sampler(seed=0, population_size=12)
    study = run(sampler, 240, constrained)
    assert all(p.member.violation == 0 for p in sampler.parents(study, 20))
    front = study.best_trials
    assert len(front) >= 10 and all(t.params["x0"] >= 0.5 for t in front)
    assert sum(t.params["x0"] >= 0.5 for t in study.trials[-48:]) >= 36


def test_on_3_objective_dtlz2_the_population_covers_every_niche_and_beats_random_search():
    # Measured (seeds 0-2, 600 trials, defaults): NSGA-III's front has hypervolume 0.716,
    # 0.709, 0.717 against (1.1, 1.1, 1.1) (the true front's is 1.331 - pi / 6 = 0.807),
    # random search's 0.602, 0.578, 0.604; the final 12 parents, normalised, lie nearest to
    # all 10 default reference points in every seed.
    reference = np.full(3, 1.1)
    for seed in range(3):
        sampler = NSGA3Sampler(seed=seed)
        study = run(sampler, 600)
        parents = sampler.parents(study, 600 // 12)
        losses = np.array([p.member.loss for p in parents])
        nearest, _ = associate(normalise(losses), sampler.reference_points_for(3))
        assert len(set(nearest.tolist())) >= 8
        ours = hypervolume(np.array([t.values for t in study.best_trials]), reference)
        theirs = run(RandomSampler(seed=seed), 600).best_trials
        assert ours >= hypervolume(np.array([t.values for t in theirs]), reference) + 0.05


# Options ---------------------------------------------------------------------------------


def test_registered_under_its_name_and_optunas():
    assert SAMPLERS["nsga3"] == "tunelab.samplers.nsga3:NSGA3Sampler"
    assert isinstance(make_sampler("nsga3"), NSGA3Sampler)
    assert NSGAIIISampler is NSGA3Sampler
    assert tunelab.samplers.NSGAIIISampler is NSGA3Sampler


def test_optunas_arguments_are_taken():
    sampler = NSGAIIISampler(
        population_size=20, mutation=None, mutation_prob=0.2,
        crossover=tunelab.samplers.nsgaii.SBXCrossover(eta=10), crossover_prob=0.8,
        swapping_prob=0.4, seed=1, constraints_func=None, reference_points=None,
        dividing_parameter=4, elite_population_selection_strategy=None,
        child_generation_strategy=None, after_trial_strategy=None,
    )
    assert (sampler.population_size, sampler.crossover, sampler.eta_crossover) == (20, "sbx", 10)
    assert (sampler.mutation_prob, sampler.crossover_prob, sampler.swapping_prob) == (0.2, 0.8, 0.4)
    assert sampler.dividing_parameter == 4


@pytest.mark.parametrize(
    "field",
    ["elite_population_selection_strategy", "child_generation_strategy", "after_trial_strategy"],
)
def test_optunas_strategy_hooks_are_refused_by_name(field):
    with pytest.raises(ConfigError, match=f"NSGA-III: {field}=.*niching") as error:
        NSGA3Sampler(**{field: lambda *args: None})
    assert error.value.field == field


@pytest.mark.parametrize(("options", "field"), [
    ({"reference_points": [1.0, 0.0]}, "reference_points"),
    ({"reference_points": [[1.0, 0.0], [0.0, 0.0]]}, "reference_points"),
    ({"reference_points": [[1.0, math.nan]]}, "reference_points"),
    ({"dividing_parameter": 0}, "dividing_parameter"),
    ({"population_size": 1}, "population_size"),
    ({"crossover": "blend"}, "crossover"),
])
def test_bad_options_raise_config_error_naming_the_field(options, field):
    with pytest.raises(ConfigError, match="NSGA-III") as error:
        NSGA3Sampler(**options)
    assert error.value.field == field
