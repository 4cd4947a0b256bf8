"""Simulated annealing (Kirkpatrick, Gelatt & Vecchi, "Optimization by Simulated Annealing",
Science 220(4598), 1983), with the acceptance rule of Metropolis et al. (J. Chem. Phys. 21, 1953).

The walk starts, after ``n_startup_trials`` random trials, from the best of them. Each new trial
is a neighbour of the current point: in the unit mapping of the space, ordered parameters
(floats, ints, stepped floats; log ranges in log space) get a Gaussian step, reflected at the
borders, and each categorical switches to another choice at random with a probability. When the
trial finishes, the walk moves there if it is better; if it is worse by ``delta`` (in the
direction of the study), it moves there with probability ``exp(-delta / T)``, where ``T`` is the
temperature at that trial. ``T`` falls with the trial number from ``initial_temperature``, by
default the standard deviation of the start-up values (the spread of values of random points,
so that the walk starts "melted" and accepts many worse moves); the step shrinks with ``T``.
A proposal avoids points already tried and points running trials hold: the step is redrawn,
wider, and in a discrete space that keeps landing on known points the nearest free point of
the space's lattice is taken.

The walk is not kept in the sampler object. It is replayed from the study's finished trials in
number order, each accept-or-reject decision drawn from a generator seeded with the sampler's
seed and the trial's number, so that several processes and a resumed study follow the same
walk. A failed or pruned trial is a rejected move. A trial's temperature depends on its number
alone (``k = number - first move``), which also makes a batch from ``ask(n)`` a set of distinct
neighbours of one current point, cooled one step each.

Parameters outside the joint space (conditional ones) are drawn at random.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tunelab._options import check_int, check_number
from tunelab.exceptions import ConfigError
from tunelab.registry import did_you_mean
from tunelab.samplers._neighbourhood import (
    Key,
    Lattice,
    LocalSearchSampler,
    WalkState,
    nearest_free,
    point_key,
    reflect,
)
from tunelab.samplers.base import trial_rng
from tunelab.space import CategoricalDistribution, Distribution

if TYPE_CHECKING:
    from tunelab.trial import Trial

SCHEDULES = ("geometric", "linear", "logarithmic")
DEFAULT_COOLING = 0.9
_WHERE = "simulated annealing"
_MOVE = "<annealing:move>"
_ACCEPT = "<annealing:accept>"
_ATTEMPTS = 8  # Gaussian draws (the step doubling every two) before a discrete fallback
_FALLBACK_RESOLUTION = 32


@dataclass(frozen=True)
class Decision:
    """How the walk judged one finished trial: ``delta`` is its loss minus the current one
    (None for a failed or pruned trial) and ``probability`` the chance it had to be accepted."""

    number: int
    temperature: float
    delta: float | None
    probability: float
    accepted: bool


class SimulatedAnnealingSampler(LocalSearchSampler["AnnealingState"]):
    """A Metropolis walk with a falling temperature.

    Args:
        seed: makes the walk reproducible; None draws one.
        n_startup_trials: completed random trials before the walk starts from the best one.
        initial_temperature: ``T`` at the first move, in units of the objective; None takes the
            standard deviation of the start-up values (a tenth of their magnitude if they are
            all equal, 1.0 if they are all zero).
        cooling: a factor in (0, 1) for geometric cooling, ``T_k = T_0 * cooling**k``; or a
            schedule name: ``"geometric"`` (factor 0.9), ``"linear"``
            (``T_k = T_0 * (1 - k / cooling_trials)``, then 0) or ``"logarithmic"``
            (``T_k = T_0 * log 2 / log(k + 2)``, Geman & Geman's slow schedule).
        cooling_trials: the trials over which the linear schedule falls to zero (used by it
            alone).
        step_size: standard deviation of the Gaussian step in the unit mapping at ``T_0``; the
            step shrinks as ``step_size * (T_k / T_0) ** (1/4)``. (Near an optimum a step ``s``
            costs about ``s**2``; with ``s**2`` falling more slowly than ``T``, worse moves are
            accepted less and less often as the walk cools, and the walk keeps the reach to
            converge within a few dozen trials.)
        min_step_size: the step never falls below this.
        switch_probability: chance that a categorical parameter changes at a move; None uses
            ``1 / d`` for a joint space of ``d`` parameters.
    """

    display_name = _WHERE

    def __init__(
        self,
        seed: int | None = None,
        n_startup_trials: int = 5,
        initial_temperature: float | None = None,
        cooling: float | str = DEFAULT_COOLING,
        cooling_trials: int = 100,
        step_size: float = 0.1,
        min_step_size: float = 0.005,
        switch_probability: float | None = None,
    ) -> None:
        super().__init__(seed, n_startup_trials)
        if initial_temperature is not None:
            initial_temperature = check_number(
                _WHERE, "initial_temperature", initial_temperature, 0.0, math.inf,
                "give a temperature in units of the objective, or None to derive it.",
            )
        self.initial_temperature = initial_temperature
        self.schedule, self.cooling = _check_cooling(cooling)
        self.cooling_trials = check_int(
            _WHERE, "cooling_trials", cooling_trials, 1, "it is the length of the linear schedule."
        )
        self.step_size = check_number(
            _WHERE, "step_size", step_size, 0.0, 1.0, "it is a fraction of each parameter's range."
        )
        self.min_step_size = check_number(
            _WHERE, "min_step_size", min_step_size, 0.0, self.step_size,
            "it must be positive and at most step_size.",
        )
        if switch_probability is not None:
            switch_probability = check_number(
                _WHERE, "switch_probability", switch_probability, 0.0, 1.0,
                "give a probability, or None for 1 / number of parameters.",
            )
        self.switch_probability = switch_probability
        self._lattice: tuple[tuple[Any, ...], Lattice] | None = None

    # The walk ----------------------------------------------------------------------------

    def _new_state(self, space: dict[str, Distribution], sign: float) -> AnnealingState:
        return AnnealingState(space, sign, self.n_startup_trials, self)

    def temperature(self, t0: float, k: int) -> float:
        """The schedule: the temperature ``k`` trials after the first move."""
        if self.schedule == "linear":
            return t0 * max(0.0, 1.0 - k / self.cooling_trials)
        if self.schedule == "logarithmic":
            return t0 * math.log(2.0) / math.log(k + 2.0)
        return t0 * self.cooling**k

    def _propose(
        self, state: AnnealingState, trials: Sequence[Trial], taken: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        blocked = set(state.tried)
        blocked.update(point_key(params, state.space) for params in taken)
        batch = []
        for trial in trials:
            params = self._neighbour(state, trial.number, blocked)
            blocked.add(point_key(params, state.space))
            batch.append(params)
        return batch

    def _neighbour(self, state: AnnealingState, number: int, blocked: set[Key]) -> dict[str, Any]:
        """A neighbour of the current point that no trial has tried or holds, if one is found."""
        space = state.space
        assert state.current is not None
        rng = trial_rng(self.seed, number, _MOVE)
        cooled = state.temperature(number) / state.t0 if state.t0 > 0 else 0.0
        sigma = max(self.step_size * cooled**0.25, self.min_step_size)
        switch = self.switch_probability or 1.0 / len(space)
        params = state.current
        for attempt in range(_ATTEMPTS):
            step = sigma * 2 ** (attempt // 2)
            params = _gaussian_neighbour(state.current, space, step, switch, rng)
            if point_key(params, space) not in blocked:
                return params
        # A discrete space where the steps keep landing on known points: the nearest free one.
        lattice = self._fallback_lattice(space)
        point = nearest_free(
            lattice,
            lattice.snap(state.current),
            lambda p: point_key(lattice.params(p), space) not in blocked,
            rng,
        )
        return params if point is None else lattice.params(point)

    def _fallback_lattice(self, space: dict[str, Distribution]) -> Lattice:
        key = tuple(space.items())
        if self._lattice is None or self._lattice[0] != key:
            self._lattice = (key, Lattice(space, _FALLBACK_RESOLUTION))
        return self._lattice[1]


class AnnealingState(WalkState):
    """The walk after the finished trials: current point, temperature and every decision."""

    def __init__(
        self,
        space: dict[str, Distribution],
        sign: float,
        n_startup: int,
        sampler: SimulatedAnnealingSampler,
    ) -> None:
        super().__init__(space, sign, n_startup)
        self.sampler = sampler
        self.t0 = math.nan
        self.decisions: list[Decision] = []

    def copy(self) -> AnnealingState:
        clone = super().copy()
        clone.decisions = list(self.decisions)
        return clone

    def temperature(self, number: int) -> float:
        """The temperature at which trial ``number`` is proposed and judged."""
        assert self.first_move is not None, "the walk has not started"
        return self.sampler.temperature(self.t0, max(0, number - self.first_move))

    def _start(self) -> None:
        given = self.sampler.initial_temperature
        if given is not None:
            self.t0 = given
            return
        losses = self.startup_losses
        mean = sum(losses) / len(losses)
        spread = math.sqrt(sum((x - mean) ** 2 for x in losses) / len(losses))
        self.t0 = spread if spread > 0 else 0.1 * abs(mean) if mean else 1.0

    def _step(self, number: int, params: dict[str, Any], loss: float | None) -> None:
        temperature = self.temperature(number)
        if loss is None:
            self.decisions.append(Decision(number, temperature, None, 0.0, False))
            return
        delta = loss - self.current_loss
        if delta <= 0:
            probability = 1.0
        elif temperature > 0:
            probability = math.exp(-delta / temperature)
        else:
            probability = 0.0
        draw = trial_rng(self.sampler.seed, number, _ACCEPT).random()
        accepted = delta <= 0 or draw < probability
        self.decisions.append(Decision(number, temperature, delta, probability, accepted))
        if accepted:
            self.current, self.current_loss = params, loss


def _gaussian_neighbour(
    current: dict[str, Any],
    space: dict[str, Distribution],
    sigma: float,
    switch: float,
    rng: random.Random,
) -> dict[str, Any]:
    params = {}
    for name, distribution in space.items():
        value = current[name]
        if isinstance(distribution, CategoricalDistribution):
            if rng.random() < switch:
                here = distribution.index(value)
                others = [c for i, c in enumerate(distribution.choices) if i != here]
                value = others[rng.randrange(len(others))]
        else:
            u = reflect(distribution.to_unit(value) + rng.gauss(0.0, sigma))
            value = distribution.from_unit(u)
        params[name] = value
    return params


def _check_cooling(cooling: Any) -> tuple[str, float]:
    """``(schedule, geometric factor)`` from a factor or a schedule name."""
    if isinstance(cooling, str):
        name = cooling.lower()
        if name not in SCHEDULES:
            raise ConfigError(
                f"{_WHERE}: cooling={cooling!r} is unknown{did_you_mean(name, SCHEDULES)}; give a "
                f"factor in (0, 1) or one of: {', '.join(SCHEDULES)}.",
                field="cooling",
            )
        return name, DEFAULT_COOLING
    factor = check_number(
        _WHERE, "cooling", cooling, 0.0, 1.0,
        f"give a geometric factor such as 0.9, or one of: {', '.join(SCHEDULES)}.",
        high_open=True,
    )
    return "geometric", factor
