"""NSGA-III, the reference-point based many-objective algorithm of Deb & Jain ("An Evolutionary
Many-Objective Optimization Algorithm Using Reference-Point-Based Nondominated Sorting Approach,
Part I", IEEE Transactions on Evolutionary Computation 18(4), 2014).

NSGA-III is NSGA-II (:mod:`tunelab.samplers.nsga2`) with two changes, and everything else —
generations, elitism, variation operators, constraints, duplicate avoidance, caching and
reproducibility — is NSGA-II's, inherited from :class:`~tunelab.samplers.nsga2.NSGA2Sampler`.

Survival. The parents of a generation are still whole non-dominated fronts while they fit; the
front that fits only in part is cut by *niching* instead of crowding distance, which spreads the
population evenly when there are many objectives, where crowding distance no longer does:

1. Normalisation, over the members kept so far and that front together: the ideal point (each
   objective's best value) is moved to the origin; the extreme point of each objective is the
   member that minimises the achievement scalarising function with that axis as its direction;
   the hyperplane through the extreme points cuts each axis at an intercept, by which that
   objective is divided. When the hyperplane is degenerate (the extreme points are linearly
   dependent, or an intercept is not positive), each objective is divided by its largest
   value instead. Infinite values are first replaced by finite ones just beyond the others.
2. Association: each member belongs to the reference point whose line from the origin passes
   nearest to it (perpendicular distance).
3. Niching: a reference point's *niche count* is how many members already kept belong to it.
   Until the population is full, a reference point with the smallest niche count among those
   that still have members of the front is chosen (ties at random); if its count is 0 its
   nearest member joins, otherwise a random one. A reference point with no member of the front
   left is dropped.

The reference points are ``reference_points`` when given (one row per point, one column per
objective; only their directions matter), else Das & Dennis's lattice on the unit simplex with
``dividing_parameter`` divisions per objective: every point whose coordinates are multiples of
``1 / dividing_parameter`` summing to 1, ``C(m + p - 1, p)`` points for ``m`` objectives and
``p`` divisions (10 for three objectives and the default ``p = 3``). The population should
be at least as large as the number of reference points for every point to get a member.

Mating. Diversity is the reference points' job, so parents are drawn as the paper does, at
random, with only a lower front winning a tournament (which also prefers feasible members,
since constrained domination places them in better fronts).

Random draws of the niching come from a generator seeded with the sampler's seed and the
generation's number, so a seeded study remains reproducible and its parents remain cacheable.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tunelab._options import check_int
from tunelab.exceptions import ConfigError
from tunelab.samplers._constraints import ConstraintsFunc
from tunelab.samplers._pareto import split_fronts
from tunelab.samplers.base import trial_rng
from tunelab.samplers.nsga2 import Member, NSGA2Sampler, Ranked
from tunelab.samplers.nsgaii import PolynomialMutation, SBXCrossover, UniformCrossover

_WHERE = "NSGA-III"
_NICHING = "<nsga3:niching>"
_EPS = 1e-12
_ASF_WEIGHT = 1e-6  # the weight of the other axes in an extreme point's scalarising function


class NSGA3Sampler(NSGA2Sampler):
    """The NSGA-III genetic algorithm, for many objectives, with constraints.

    Takes NSGA-II's arguments (:class:`~tunelab.samplers.nsga2.NSGA2Sampler`), with the same
    defaults, and:

    Args:
        reference_points: the reference points, a sequence of rows with one value per
            objective (each row a direction from the origin, not all zero); None builds Das &
            Dennis's lattice on the unit simplex.
        dividing_parameter: divisions per objective of that lattice (3), used when
            ``reference_points`` is None.

    Parents are kept by niching around the reference points; the crowding distance of the
    parents that :meth:`parents` returns is 0, since NSGA-III does not compute it.
    Optuna's ``elite_population_selection_strategy``, ``child_generation_strategy`` and
    ``after_trial_strategy`` are refused unless None, as for NSGA-II.
    """

    display_name = "NSGA-III"
    _ranking = "constrained non-dominated sorting and niching around reference points"

    def __init__(
        self,
        seed: int | None = None,
        population_size: int = 12,
        mutation_prob: float | None = None,
        crossover: str | UniformCrossover | SBXCrossover = "uniform",
        crossover_prob: float = 0.9,
        eta_crossover: float = 15.0,
        eta_mutation: float = 2.0,
        constraints_func: ConstraintsFunc | None = None,
        swapping_prob: float = 0.5,
        mutation: PolynomialMutation | None = None,
        reference_points: Sequence[Sequence[float]] | np.ndarray | None = None,
        dividing_parameter: int = 3,
        elite_population_selection_strategy: Callable[..., Any] | None = None,
        child_generation_strategy: Callable[..., Any] | None = None,
        after_trial_strategy: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(
            seed=seed,
            population_size=population_size,
            mutation_prob=mutation_prob,
            crossover=crossover,
            crossover_prob=crossover_prob,
            eta_crossover=eta_crossover,
            eta_mutation=eta_mutation,
            constraints_func=constraints_func,
            swapping_prob=swapping_prob,
            mutation=mutation,
            elite_population_selection_strategy=elite_population_selection_strategy,
            child_generation_strategy=child_generation_strategy,
            after_trial_strategy=after_trial_strategy,
        )
        self.dividing_parameter = check_int(
            _WHERE, "dividing_parameter", dividing_parameter, 1,
            "give the number of divisions of each objective, such as 3.",
        )
        self.reference_points = (
            None if reference_points is None else _check_reference_points(reference_points)
        )

    def reference_points_for(self, n_objectives: int) -> np.ndarray:
        """The reference points of a study with ``n_objectives`` objectives, one per row."""
        if self.reference_points is None:
            return simplex_lattice(n_objectives, self.dividing_parameter)
        if self.reference_points.shape[1] != n_objectives:
            raise ConfigError(
                f"{_WHERE}: the reference points have {self.reference_points.shape[1]} "
                f"coordinates but the study has {n_objectives} objectives; give one coordinate "
                "per objective.",
                field="reference_points",
            )
        return self.reference_points

    def _select(self, pool: list[Member], size: int, generation: int) -> list[Ranked]:
        if not pool:
            return []
        rng = trial_rng(self.seed, generation, _NICHING)
        return select_by_niches(pool, size, self.reference_points_for(len(pool[0].loss)), rng)

    def _beats(self, a: Ranked, b: Ranked) -> bool:
        # The first drawn wins a tie, so that within a front parents are picked at random.
        return a.rank <= b.rank


NSGAIIISampler = NSGA3Sampler
"""Optuna's name of the sampler."""


def _check_reference_points(points: Any) -> np.ndarray:
    try:
        array = np.array(points, dtype=float)
    except (TypeError, ValueError):
        array = np.empty(0)
    if (
        array.ndim != 2
        or array.size == 0
        or not np.all(np.isfinite(array))
        or np.any(np.linalg.norm(array, axis=1) <= _EPS)
    ):
        raise ConfigError(
            f"{_WHERE}: reference_points={points!r} are not reference points; give a "
            "sequence of rows of finite numbers, one per objective and not all zero in a row, "
            "or None for Das & Dennis's lattice.",
            field="reference_points",
        )
    return array


# Reference points, normalisation, association, niching ------------------------------------


def simplex_lattice(n_objectives: int, divisions: int) -> np.ndarray:
    """Das & Dennis's structured points on the unit simplex: every point whose
    ``n_objectives`` coordinates are multiples of ``1 / divisions`` and sum to 1, one per row
    (``C(n_objectives + divisions - 1, divisions)`` rows)."""

    def compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
        if parts == 1:
            yield (total,)
            return
        for first in range(total, -1, -1):
            for rest in compositions(total - first, parts - 1):
                yield (first, *rest)

    return np.array(list(compositions(divisions, n_objectives)), dtype=float) / divisions


def normalise(losses: np.ndarray) -> np.ndarray:
    """``losses`` (rows of values, lower is better) moved so that the ideal point is the
    origin and divided by the intercepts of the hyperplane through the extreme points (by each
    objective's largest value when that hyperplane is degenerate)."""
    shifted = _finite(losses)
    shifted = shifted - shifted.min(axis=0)
    m = shifted.shape[1]
    weights = np.full((m, m), _ASF_WEIGHT)
    np.fill_diagonal(weights, 1.0)
    # scalarised[k, i]: member i's achievement scalarising function along axis k.
    scalarised = (shifted[None, :, :] / weights[:, None, :]).max(axis=2)
    extremes = shifted[np.argmin(scalarised, axis=1)]
    scale = _intercepts(extremes)
    if scale is None:
        scale = shifted.max(axis=0)
    scale = np.where(scale > _EPS, scale, 1.0)
    normalised: np.ndarray = shifted / scale
    return normalised


def _finite(losses: np.ndarray) -> np.ndarray:
    """``losses`` with each infinite value replaced by one a span beyond its objective's finite
    values (0 for an objective with none)."""
    out = np.array(losses, dtype=float)
    for k in range(out.shape[1]):
        column = out[:, k]
        finite = column[np.isfinite(column)]
        if finite.size == 0:
            out[:, k] = 0.0
            continue
        low, high = float(finite.min()), float(finite.max())
        span = high - low if high > low else 1.0
        out[:, k] = np.nan_to_num(column, nan=high + span, posinf=high + span, neginf=low - span)
    return out


def _intercepts(extremes: np.ndarray) -> np.ndarray | None:
    """Where the hyperplane through the rows of ``extremes`` cuts each axis, or None when
    there is no such hyperplane with positive intercepts."""
    if np.linalg.matrix_rank(extremes) < len(extremes):
        return None
    try:
        plane = np.linalg.solve(extremes, np.ones(len(extremes)))  # plane . x = 1
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(plane)) or np.any(plane <= _EPS):
        return None
    intercepts: np.ndarray = 1.0 / plane
    return intercepts


def associate(
    normalised: np.ndarray, reference_points: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``normalised``, the index of the reference point whose line from the
    origin passes nearest (the lowest index in a tie), and that perpendicular distance."""
    directions = reference_points / np.linalg.norm(reference_points, axis=1)[:, None]
    along = normalised @ directions.T  # (members, reference points)
    squared = np.sum(normalised**2, axis=1)[:, None] - along**2
    distances = np.sqrt(np.maximum(squared, 0.0))
    nearest = np.argmin(distances, axis=1)
    return nearest, distances[np.arange(len(normalised)), nearest]


def niche_fill(
    nearest: np.ndarray,
    distance: np.ndarray,
    n_kept: int,
    room: int,
    rng: random.Random,
) -> list[int]:
    """``room`` members of the cut front by niching: ``nearest`` and ``distance`` give each
    member's reference point and distance to it, the ``n_kept`` members already kept first,
    then the front's. Returns positions within the front, in the order they join."""
    counts = Counter(int(r) for r in nearest[:n_kept])
    waiting: dict[int, list[int]] = {}  # reference point -> the front's members, nearest first
    for position in range(len(nearest) - n_kept):
        waiting.setdefault(int(nearest[n_kept + position]), []).append(position)
    for members in waiting.values():
        members.sort(key=lambda p: (distance[n_kept + p], p))
    chosen: list[int] = []
    while len(chosen) < room and waiting:
        least = min(counts[r] for r in waiting)
        emptiest = sorted(r for r in waiting if counts[r] == least)
        point = emptiest[rng.randrange(len(emptiest))]
        members = waiting[point]
        chosen.append(members.pop(0 if counts[point] == 0 else rng.randrange(len(members))))
        counts[point] += 1
        if not members:
            del waiting[point]
    return chosen


def select_by_niches(
    pool: list[Member], size: int, reference_points: np.ndarray, rng: random.Random
) -> list[Ranked]:
    """The best ``size`` members of ``pool``: whole fronts, then of the front that fits only
    in part those that niching around ``reference_points`` picks; best front first, then by
    trial number."""
    if not pool:
        return []
    pool = sorted(pool, key=lambda m: m.number)
    losses = np.array([m.loss for m in pool], dtype=float)
    violations = np.array([m.violation for m in pool], dtype=float)
    whole, cut = split_fronts(losses, violations, size)
    chosen = [(i, rank) for rank, front in enumerate(whole) for i in front]
    if cut:
        kept = [i for i, _ in chosen]
        normalised = normalise(losses[kept + cut])
        nearest, distance = associate(normalised, reference_points)
        picked = niche_fill(nearest, distance, len(kept), size - len(kept), rng)
        chosen += [(cut[p], len(whole)) for p in picked]
    chosen.sort(key=lambda c: (c[1], c[0]))
    return [Ranked(pool[i], rank, 0.0) for i, rank in chosen]

