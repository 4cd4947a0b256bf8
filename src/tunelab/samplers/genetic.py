"""A generational genetic algorithm (Holland, "Adaptation in Natural and Artificial Systems",
1975; Goldberg, "Genetic Algorithms in Search, Optimization and Machine Learning", 1989), with
the blend crossover BLX-alpha of Eshelman & Schaffer ("Real-Coded Genetic Algorithms and
Interval-Schemata", FOGA 2, 1993).

Generation ``g`` is the trials numbered ``[g * P, (g + 1) * P)`` for a population of ``P``.
Generation 0 is drawn at random. A trial of a later generation is a child of two parents, each
the winner of a tournament among ``tournament_size`` members drawn from the previous generation
together with the elite (the ``elite`` best trials of all generations so far, so the best
points found are never lost from the gene pool). Failed and pruned trials rank last. With
probability ``crossover_rate`` the parents are crossed: ``"uniform"`` takes each parameter from
either parent, ``"blend"`` draws each ordered parameter uniformly in the parents' interval
widened by ``alpha = 0.5`` of its length on each side (in the unit mapping of the space, so log
ranges cross in log space; a categorical comes from either parent); otherwise the child is a
copy of the first parent. Then each parameter mutates with probability ``mutation_rate``
(default ``1 / d`` for ``d`` parameters): an ordered one by a Gaussian step of
``mutation_scale`` in the unit mapping, clipped to the range, a categorical by a re-draw among
its other choices.

Every random choice of a child comes from a generator seeded with the sampler's seed and the
trial's number, and a generation depends only on the finished trials before it, so ``ask(P)``
returns a whole generation, equal to the one that ``optimize`` would make one trial at a time.
A child that repeats a tried or running point (or another child of the batch) is moved to a
nearby free point. Parameters outside the joint space of the completed trials (conditional
ones) are drawn at random.
"""

from __future__ import annotations

import random

import numpy as np

from tunelab._options import check_choice, check_int, check_number, check_probability
from tunelab.exceptions import ConfigError
from tunelab.samplers._population import (
    History,
    Member,
    PopulationSampler,
    UnitSpace,
)

CROSSOVERS = ("uniform", "blend")
BLEND_ALPHA = 0.5
_WHERE = "genetic algorithm"


class GeneticSampler(PopulationSampler):
    """A generational genetic algorithm with tournament selection and elitism.

    Args:
        seed: makes the search reproducible; None draws one.
        population_size: trials per generation (``P``); generation ``g`` is trials
            ``g*P .. g*P + P - 1``.
        mutation_rate: probability that each parameter of a child mutates; None uses
            ``1 / d`` for a joint space of ``d`` parameters.
        crossover: ``"uniform"`` or ``"blend"`` (BLX-0.5 in the unit mapping).
        crossover_rate: probability that two parents are crossed rather than one copied.
        elite: the best trials of all generations so far that join every selection pool.
        tournament_size: members drawn for each tournament; the best one is a parent.
        mutation_scale: standard deviation of a mutation of an ordered parameter, as a
            fraction of its (unit-mapped) range.
    """

    display_name = _WHERE
    _stream = "<genetic>"

    def __init__(
        self,
        seed: int | None = None,
        population_size: int = 10,
        mutation_rate: float | None = None,
        crossover: str = "uniform",
        crossover_rate: float = 0.9,
        elite: int = 2,
        tournament_size: int = 2,
        mutation_scale: float = 0.1,
    ) -> None:
        super().__init__(seed, population_size, "population_size")
        self.population_size = self.size
        if mutation_rate is not None:
            mutation_rate = check_probability(
                _WHERE, "mutation_rate", mutation_rate,
                "give a probability, or None for 1 / number of parameters.",
            )
        self.mutation_rate = mutation_rate
        self.crossover = check_choice(_WHERE, "crossover", crossover, CROSSOVERS)
        self.crossover_rate = check_probability(
            _WHERE, "crossover_rate", crossover_rate, "0 makes every child a mutated copy."
        )
        self.elite = check_int(
            _WHERE, "elite", elite, 0, "it is how many of the best trials join every pool."
        )
        if self.elite >= self.size:
            raise ConfigError(
                f"{_WHERE}: elite={elite!r} must be smaller than population_size={self.size}.",
                field="elite",
            )
        self.tournament_size = check_int(
            _WHERE, "tournament_size", tournament_size, 1, "1 selects parents at random."
        )
        if self.tournament_size > self.size:
            raise ConfigError(
                f"{_WHERE}: tournament_size={tournament_size!r} must be at most "
                f"population_size={self.size}.",
                field="tournament_size",
            )
        self.mutation_scale = check_number(
            _WHERE, "mutation_scale", mutation_scale, 0.0, 1.0,
            "it is a fraction of each parameter's range.",
        )

    def pool(self, history: History, generation: int) -> list[Member]:
        """The selection pool of ``generation``: the previous one and the elite."""
        members = history.step(generation - 1, self.size)
        numbers = {m.number for m in members}
        elite = History.best(history.before(generation * self.size), self.elite)
        return members + [m for m in elite if m.number not in numbers]

    def _propose(
        self, unit: UnitSpace, history: History, number: int, rng: random.Random
    ) -> np.ndarray | None:
        pool = self.pool(history, self.step_of(number)[0])
        if not pool:
            return None
        first, second = self._select(pool, rng), self._select(pool, rng)
        assert first.unit is not None and second.unit is not None
        if rng.random() < self.crossover_rate:
            child = self._cross(unit, first.unit, second.unit, rng)
        else:
            child = first.unit.copy()
        return self._mutate(unit, child, rng)

    def _select(self, pool: list[Member], rng: random.Random) -> Member:
        k = min(self.tournament_size, len(pool))
        return min(rng.sample(pool, k), key=lambda m: m.rank_key)

    def _cross(
        self, unit: UnitSpace, a: np.ndarray, b: np.ndarray, rng: random.Random
    ) -> np.ndarray:
        child: np.ndarray = a.copy()
        for dim in range(unit.dim):
            if self.crossover == "blend" and not unit.categorical[dim]:
                low, high = min(a[dim], b[dim]), max(a[dim], b[dim])
                spread = BLEND_ALPHA * (high - low)
                child[dim] = min(1.0, max(0.0, rng.uniform(low - spread, high + spread)))
            elif rng.random() < 0.5:
                child[dim] = b[dim]
        return child

    def _mutate(self, unit: UnitSpace, child: np.ndarray, rng: random.Random) -> np.ndarray:
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / unit.dim
        for dim in range(unit.dim):
            if rng.random() >= rate:
                continue
            if unit.categorical[dim]:
                if unit.n_choices[dim] > 1:
                    child[dim] = unit.redraw(dim, child[dim], rng)
            else:
                child[dim] = min(1.0, max(0.0, child[dim] + rng.gauss(0.0, self.mutation_scale)))
        return child

