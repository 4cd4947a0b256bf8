"""What the population samplers share: the genetic algorithm (``genetic.py``, after Holland
1975 and Goldberg 1989) and particle swarm optimization (``pso.py``, after Kennedy & Eberhart
1995 with the inertia weight of Shi & Eberhart 1998).

Both work on a population of ``size`` members that moves in steps. Neither keeps the
population in the sampler object: trial number ``n`` is member ``n % size`` of step
``n // size`` (a generation, or a move of the swarm), and a step is rebuilt from the study's
finished trials with lower numbers. A step depends only on the steps before it, so the trials
of one step are proposed the same way one at a time (``optimize``) or all together
(``ask(size)``), and a resumed study or another process sees the same population. Trials of
the previous step that are still running are simply missing from it.

This module holds:

* :class:`Member` and :class:`History`: the finished trials as points of ``[0, 1]^d`` (the unit
  mapping of the joint space) with a loss signed so that lower is better; failed and pruned
  trials, and completed ones that lack a parameter of the space, rank last (loss ``inf``);
* :class:`UnitSpace`: which dimensions are categorical, clipping, random points, redrawing a
  categorical, decoding a unit point into parameter values;
* :class:`PopulationSampler`: the sampler side (options, the joint space of the COMPLETE
  trials from :class:`~tunelab.samplers._neighbourhood.JointSpace`, a random first step, the
  batch path with distinct proposals, conditional parameters at random, single objective).
"""

from __future__ import annotations

import math
import random
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_int
from tunelab.samplers._neighbourhood import (
    JointSampler,
    Key,
    point_key,
    point_of,
    running_points,
    study_key,
)
from tunelab.samplers.base import trial_rng
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    from_unit_vector,
    to_unit_vector,
)
from tunelab.trial import TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_DISTINCT_TRIES = 12  # perturbations (widening) before random points are tried
_RANDOM_TRIES = 64


@dataclass(frozen=True)
class Member:
    """A finished trial: its point in the unit cube (None if it lacks a parameter of the
    space) and its loss, lower is better (``inf`` unless it completed)."""

    number: int
    unit: np.ndarray | None
    loss: float

    @property
    def rank_key(self) -> tuple[float, int]:
        """Sort key: lower loss first, ties to the older trial."""
        return (self.loss, self.number)


class History:
    """The study's finished trials in number order, as members of the joint space."""

    def __init__(self, members: list[Member]) -> None:
        self.members = sorted(members, key=lambda m: m.number)
        self._by_number = {m.number: m for m in self.members}

    def get(self, number: int) -> Member | None:
        return self._by_number.get(number)

    def before(self, number: int) -> list[Member]:
        """Members placed in the space whose trial number is below ``number``."""
        return [m for m in self.members if m.number < number and m.unit is not None]

    def step(self, index: int, size: int) -> list[Member]:
        """Members placed in the space of step ``index``: trials ``index*size`` to
        ``(index+1)*size - 1``."""
        low, high = index * size, (index + 1) * size
        return [m for m in self.members if low <= m.number < high and m.unit is not None]

    @staticmethod
    def best(members: Sequence[Member], k: int = 1) -> list[Member]:
        """The ``k`` best of ``members`` that completed."""
        done = [m for m in members if math.isfinite(m.loss)]
        return sorted(done, key=lambda m: m.rank_key)[:k]


class UnitSpace:
    """The joint space seen as ``[0, 1]^d``, in the order of the space's names."""

    def __init__(self, space: dict[str, Distribution]) -> None:
        self.space = space
        self.names = list(space)
        self.n_choices = [
            len(d.choices) if isinstance(d, CategoricalDistribution) else 0 for d in space.values()
        ]
        self.categorical = np.array([n > 0 for n in self.n_choices], dtype=bool)

    @property
    def dim(self) -> int:
        return len(self.names)

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        return to_unit_vector(params, self.space)

    def decode(self, u: np.ndarray) -> dict[str, Any]:
        return from_unit_vector(np.clip(u, 0.0, 1.0), self.space)

    def key(self, u: np.ndarray) -> Key:
        return point_key(self.decode(u), self.space)

    def random_point(self, seed: int, number: int) -> np.ndarray:
        """The point ``sample_independent`` would draw for trial ``number``, parameter by
        parameter, so that a random step is the same whether the space is known or not."""
        return np.array([trial_rng(seed, number, name).random() for name in self.names])

    def redraw(self, dim: int, u: float, rng: random.Random) -> float:
        """Another choice of categorical dimension ``dim`` (the unit centre of its bin)."""
        m = self.n_choices[dim]
        here = min(int(u * m), m - 1)
        other = rng.randrange(m - 1)
        return (other + (other >= here) + 0.5) / m

    def perturb(self, u: np.ndarray, sigma: float, rng: random.Random) -> np.ndarray:
        """A Gaussian step of ``sigma`` on ordered dimensions (clipped) and, with probability
        ``min(1, 2 sigma)``, another choice of each categorical one."""
        out: np.ndarray = u.copy()
        for dim in range(self.dim):
            if self.categorical[dim]:
                if self.n_choices[dim] > 1 and rng.random() < min(1.0, 2 * sigma):
                    out[dim] = self.redraw(dim, out[dim], rng)
            else:
                out[dim] = min(1.0, max(0.0, out[dim] + rng.gauss(0.0, sigma)))
        return out

    def distinct(self, u: np.ndarray, blocked: set[Key], rng: random.Random) -> np.ndarray:
        """``u``, or when it decodes to a blocked point a nearby (then a random) free one; ``u``
        itself if none is found."""
        if self.key(u) not in blocked:
            return u
        for attempt in range(_DISTINCT_TRIES):
            candidate = self.perturb(u, 0.01 * 2 ** (attempt // 2), rng)
            if self.key(candidate) not in blocked:
                return candidate
        for _ in range(_RANDOM_TRIES):
            candidate = np.array([rng.random() for _ in range(self.dim)])
            if self.key(candidate) not in blocked:
                return candidate
        return u


class PopulationSampler(JointSampler):
    """A sampler whose trials are members of a population that moves in steps of ``size``.

    A subclass proposes the unit point of one member of a later step (:meth:`_propose`);
    this class infers the joint space, reads the history, draws the first step at random,
    keeps proposals distinct from each other, from tried points and from points that running
    trials hold, and draws conditional parameters at random.
    """

    display_name = "population"  # how messages name the algorithm
    _stream = "<population>"  # the name of the trial_rng stream of proposals

    def __init__(self, seed: int | None, size: int, size_field: str) -> None:
        super().__init__(seed)
        self.size = check_int(
            self.display_name, size_field, size, 2, "it is the number of trials in one step."
        )

    @abstractmethod
    def _propose(
        self, unit: UnitSpace, history: History, number: int, rng: random.Random
    ) -> np.ndarray | None:
        """The unit point of trial ``number`` (a member of step ``number // size`` >= 1), from
        the history of the steps before; None for a random point."""

    def step_of(self, number: int) -> tuple[int, int]:
        """``(step, member)`` of trial ``number``."""
        return divmod(number, self.size)

    def history(self, study: Study, space: dict[str, Distribution]) -> History:
        """The finished trials as members of ``space``."""
        sign = -1.0 if study.directions[0] == "maximize" else 1.0
        unit = UnitSpace(space)
        members = []
        for record in study.storage.get_trials(study.study_id):
            if not record.state.is_finished():
                continue
            params = point_of(record, space)
            point = None if params is None else unit.encode(params)
            loss = math.inf
            if record.state is TrialState.COMPLETE and record.values and point is not None:
                loss = sign * record.values[0]
            members.append(Member(record.number, point, loss))
        return History(members)

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        unit = UnitSpace(search_space)
        history = self.history(study, search_space)
        key = study_key(study)
        running = study.storage.get_trials(study.study_id, (TrialState.RUNNING,))
        mine = {number: params for (k, number), params in self._proposed.items() if k == key}
        blocked = {unit.key(m.unit) for m in history.members if m.unit is not None}
        held = running_points(running, search_space, mine)
        blocked.update(point_key(params, search_space) for params in held)
        batch = []
        for trial in trials:
            rng = trial_rng(self.seed, trial.number, self._stream)
            u = None
            if self.step_of(trial.number)[0] > 0:
                u = self._propose(unit, history, trial.number, rng)
            if u is None:
                u = unit.random_point(self.seed, trial.number)
            u = unit.distinct(np.clip(u, 0.0, 1.0), blocked, rng)
            params = unit.decode(u)
            blocked.add(point_key(params, search_space))
            self._proposed[(key, trial.number)] = params
            batch.append(params)
        return batch

