"""Particle swarm optimization (Kennedy & Eberhart, "Particle Swarm Optimization", Proc. IEEE
ICNN 1995) with the inertia weight of Shi & Eberhart ("A Modified Particle Swarm Optimizer",
Proc. IEEE ICEC 1998), in the unit mapping of the search space.

A swarm of ``N`` particles moves in ``[0, 1]^d``. Particle ``i``'s ``k``-th position is trial
number ``k * N + i``: trials ``0 .. N-1`` are the random starting positions, trials
``N .. 2N-1`` the first move of each particle, and so on. At step ``k`` particle ``i`` moves by

    v = w * v_prev + c1 * r1 * (p_i - x) + c2 * r2 * (g - x),    x_next = clip(x + v, 0, 1)

where ``x`` is its position at step ``k - 1``, ``v_prev`` the move that brought it there
(``x`` minus its position at step ``k - 2``, zero at the start), ``p_i`` its personal best,
``g`` the best point of all trials before step ``k`` (the swarm moves synchronously, so a whole
step can be asked at once with ``ask(N)``), ``r1`` and ``r2`` uniform in ``[0, 1]`` per
dimension, and each component of ``v`` is clamped to ``[-max_velocity, max_velocity]``. The
inertia ``w`` is a constant, or falls linearly from a start to an end value over
``inertia_steps`` steps, as Shi & Eberhart recommend (0.9 to 0.4).

Nothing is kept in the sampler object: positions are the unit mappings of the trials' stored
parameters, so velocities and bests are rebuilt from the history alone, and the random numbers
of a move come from a generator seeded with the sampler's seed and the trial's number. An int,
stepped float or categorical parameter takes the value whose unit bin holds the coordinate
(rounding to the nearest value; for a categorical, the choices in their listed order), and the
stored position is the centre of that bin. A particle whose last trial is still running, failed
before it suggested the swarm's parameters, or never completed moves from its last known
position (failed and pruned trials are never bests). A move that lands on a tried or running
point is nudged to a nearby free one. Parameters outside the joint space of the completed
trials (conditional ones) are drawn at random.
"""

from __future__ import annotations

import math
import numbers
import random
from typing import Any

import numpy as np

from tunelab._options import check_int, check_number
from tunelab.exceptions import ConfigError
from tunelab.samplers._population import History, PopulationSampler, UnitSpace

_WHERE = "particle swarm"


class ParticleSwarmSampler(PopulationSampler):
    """Particle swarm optimization with an inertia weight.

    Args:
        seed: makes the search reproducible; None draws one.
        n_particles: particles in the swarm (``N``); trial ``k*N + i`` is particle ``i``'s
            ``k``-th position.
        inertia: the weight ``w`` of the previous move, a number in ``[0, 1]``; or a pair
            ``(start, end)`` for a weight falling linearly from ``start`` at the first move
            to ``end`` after ``inertia_steps`` moves (Shi & Eberhart use ``(0.9, 0.4)``).
        cognitive: ``c1``, the pull towards the particle's own best point.
        social: ``c2``, the pull towards the swarm's best point.
        max_velocity: the largest move along one dimension, as a fraction of its range.
        inertia_steps: the moves over which a falling inertia reaches its end value.
    """

    display_name = _WHERE
    _stream = "<pso>"

    def __init__(
        self,
        seed: int | None = None,
        n_particles: int = 10,
        inertia: float | tuple[float, float] = 0.7,
        cognitive: float = 1.5,
        social: float = 1.5,
        max_velocity: float = 0.2,
        inertia_steps: int = 10,
    ) -> None:
        super().__init__(seed, n_particles, "n_particles")
        self.n_particles = self.size
        self.inertia = _check_inertia(inertia)
        self.cognitive, self.social = (
            check_number(_WHERE, name, value, 0.0, math.inf, "1.5 to 2 is usual.", low_open=False)
            for name, value in (("cognitive", cognitive), ("social", social))
        )
        self.max_velocity = check_number(
            _WHERE, "max_velocity", max_velocity, 0.0, 1.0,
            "it is a fraction of each parameter's range.",
        )
        self.inertia_steps = check_int(
            _WHERE, "inertia_steps", inertia_steps, 1, "a falling inertia reaches its end then."
        )

    def inertia_at(self, step: int) -> float:
        """``w`` for the move to step ``step`` (>= 1)."""
        start, end = self.inertia
        fraction = min(1.0, (step - 1) / self.inertia_steps)
        return start + (end - start) * fraction

    def _propose(
        self, unit: UnitSpace, history: History, number: int, rng: random.Random
    ) -> np.ndarray | None:
        step, particle = self.step_of(number)
        path = [
            m.unit
            for m in (history.get(k * self.size + particle) for k in range(step))
            if m is not None and m.unit is not None
        ]
        if not path:
            return None  # the particle has no known position yet: a random one
        x = path[-1]
        v = path[-1] - path[-2] if len(path) > 1 else np.zeros(unit.dim)
        earlier = history.before(step * self.size)
        own = [m for m in earlier if m.number % self.size == particle]
        personal = History.best(own)
        swarm = History.best(earlier)
        p = personal[0].unit if personal else x
        g = swarm[0].unit if swarm else x
        r1 = np.array([rng.random() for _ in range(unit.dim)])
        r2 = np.array([rng.random() for _ in range(unit.dim)])
        v = (
            self.inertia_at(step) * v
            + self.cognitive * r1 * (p - x)
            + self.social * r2 * (g - x)
        )
        v = np.clip(v, -self.max_velocity, self.max_velocity)
        position: np.ndarray = np.clip(x + v, 0.0, 1.0)
        return position


def _check_inertia(inertia: Any) -> tuple[float, float]:
    """``(start, end)`` from a constant or a pair."""
    values = inertia if isinstance(inertia, (tuple, list)) else (inertia, inertia)
    # typeshed's numbers.Real declares < and <= only, not the > and >= that 0.0 <= w needs.
    good = len(values) == 2 and all(
        not isinstance(w, bool)
        and isinstance(w, numbers.Real)
        and 0.0 <= w <= 1.0  # type: ignore[operator]
        for w in values
    )
    if not good:
        raise ConfigError(
            f"{_WHERE}: inertia={inertia!r} must be a number in [0, 1] or a pair (start, end) "
            "of them, such as 0.7 or (0.9, 0.4).",
            field="inertia",
        )
    return float(values[0]), float(values[1])
