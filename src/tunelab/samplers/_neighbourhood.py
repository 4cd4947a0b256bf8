"""What the local-search samplers share: simulated annealing (``annealing.py``, after
Kirkpatrick, Gelatt & Vecchi 1983) and tabu search (``tabu.py``, after Glover 1989/1990).

Both walk through the search space: from a *current* point they propose a neighbour, and when
the neighbour's trial finishes they decide whether the walk moves there. Neither keeps that
walk in the sampler object. It is rebuilt from the study's finished trials, taken in number
order, so that every process sharing a study and every resumed study sees the same walk. This
module holds the parts the two have in common:

* :class:`JointSpace`: the joint search space, the parameters that every completed trial used
  with the same distribution (conditional parameters drop out and are sampled at random);
* :func:`point_of` / :func:`point_key`: a trial's point in that space, and a hashable key;
* :class:`Lattice`: the space discretized (every value of an int, stepped float or categorical,
  ``resolution`` values of a continuous float), with one-step moves, rings of neighbours around
  a point and :func:`nearest_free`, the closest point a predicate accepts;
* :class:`WalkState` and :class:`HistoryReplay`: the start-up phase, the current and best
  points, and the replay of finished trials into a state, cached over the *settled* prefix of
  the history (the trials before the first unfinished one), so that an ask only replays the
  trials finished since the previous one;
* :func:`running_points`: points that running trials hold, which proposals must avoid;
* :class:`LocalSearchSampler`: the sampler side of a walk (random start-up, the batch path,
  conditional parameters at random, single objective only); a subclass builds the state and
  chooses the neighbours.
"""

from __future__ import annotations

import itertools
import math
import random
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import numpy as np

from tunelab._options import check_int
from tunelab.exceptions import ConfigError
from tunelab.samplers._options import check_sampler_option, check_seed
from tunelab.samplers.base import BaseSampler, trial_rng
from tunelab.space import CategoricalDistribution, Distribution, value_key
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

Key = tuple[Any, ...]
LatticePoint = tuple[int, ...]
Move = tuple[int, int]  # (dimension, index of the value the dimension takes)

_RANDOM_TRIES = 256
_ENUMERATE_LIMIT = 20_000
_RING_LIMIT = 5_000


def check_single_objective(study: Study, where: str) -> None:
    if len(study.directions) != 1:
        raise ConfigError(
            f"{where} optimizes one objective, but study {study.study_name!r} has "
            f"directions={list(study.directions)}; give a single direction, or use the random "
            "or qmc sampler for a multi-objective study.",
            field="directions",
        )


def study_key(study: Study) -> tuple[int, int]:
    return (id(study.storage), study.study_id)


# Points ----------------------------------------------------------------------------------


class JointSpace:
    """The parameters every completed trial used, each with one distribution, in name order.

    Single-valued distributions are left out (there is nothing to choose). The intersection is
    kept between calls and only the trials completed since the last call are read.
    """

    def __init__(self) -> None:
        self._study: tuple[int, int] | None = None
        self._seen: set[int] = set()
        self._space: dict[str, Distribution] | None = None

    def infer(self, study: Study) -> dict[str, Distribution]:
        if study_key(study) != self._study:
            self._study, self._seen, self._space = study_key(study), set(), None
        for record in study.storage.get_trials(study.study_id, (TrialState.COMPLETE,)):
            if record.number in self._seen:
                continue
            self._seen.add(record.number)
            used = {n: d for n, d in record.distributions.items() if not d.is_single}
            if self._space is None:
                self._space = dict(sorted(used.items()))
            else:
                self._space = {n: d for n, d in self._space.items() if used.get(n) == d}
        return dict(self._space or {})


def point_of(record: TrialRecord, space: Mapping[str, Distribution]) -> dict[str, Any] | None:
    """The trial's values of the space's parameters, or None if it lacks one (or used another
    distribution for it)."""
    point = {}
    for name, distribution in space.items():
        if name not in record.params or record.distributions.get(name) != distribution:
            return None
        point[name] = record.params[name]
    return point


def point_key(params: Mapping[str, Any], space: Mapping[str, Distribution]) -> Key:
    """A hashable key of a point that tells ``1`` from ``1.0`` and ``True``."""
    return tuple(value_key(params[name]) for name in space)


def running_points(
    running: list[TrialRecord],
    space: Mapping[str, Distribution],
    proposed: Mapping[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Points held by running trials: those they stored, and those this process proposed."""
    numbers = {record.number for record in running}
    points = [p for p in (point_of(record, space) for record in running) if p is not None]
    points += [params for number, params in proposed.items() if number in numbers]
    return points


def merge_loss(known: float | None, loss: float | None) -> float | None:
    """The best loss of a point evaluated again (None stands for a failed or pruned trial)."""
    if known is None or loss is None:
        return loss if known is None else known
    return min(known, loss)


def reflect(u: float) -> float:
    """``u`` folded back into ``[0, 1]`` at the borders, like a ball bouncing off the walls."""
    u = math.fmod(abs(u), 2.0)
    return 2.0 - u if u > 1.0 else u


# The lattice -----------------------------------------------------------------------------


class _Axis:
    """The values one dimension of the lattice takes, in order."""

    def __init__(self, distribution: Distribution, resolution: int) -> None:
        self.distribution = distribution
        self.ordered = not isinstance(distribution, CategoricalDistribution)
        values: list[Any] = list(distribution.grid(resolution))
        if self.ordered and len(values) > resolution:
            # A long int or stepped range is thinned like a float: evenly in its unit mapping.
            thinned = [distribution.from_unit(i / (resolution - 1)) for i in range(resolution)]
            values = list(dict.fromkeys(thinned))
        self.values = values
        self._index = {value_key(v): i for i, v in enumerate(values)}
        self._units = np.array([distribution.to_unit(v) for v in values]) if self.ordered else None

    def index(self, value: Any) -> int:
        """The index of ``value``, or for a value between lattice values the nearest one."""
        exact = self._index.get(value_key(value))
        if exact is not None:
            return exact
        assert self._units is not None, f"{value!r} is not a choice of {self.distribution}"
        return int(np.argmin(np.abs(self._units - self.distribution.to_unit(value))))

    def moves(self, index: int) -> list[int]:
        """Indices one step away: the next value either side, or any other choice."""
        if self.ordered:
            return [i for i in (index - 1, index + 1) if 0 <= i < len(self.values)]
        return [i for i in range(len(self.values)) if i != index]


class Lattice:
    """The search space discretized; a point is a tuple of value indices, one per dimension."""

    def __init__(self, space: Mapping[str, Distribution], resolution: int) -> None:
        self.names = list(space)
        self.axes = [_Axis(distribution, resolution) for distribution in space.values()]
        self.size = math.prod(len(axis.values) for axis in self.axes)

    def snap(self, params: Mapping[str, Any]) -> LatticePoint:
        return tuple(axis.index(params[name]) for name, axis in zip(self.names, self.axes))

    def params(self, point: LatticePoint) -> dict[str, Any]:
        return {name: axis.values[i] for name, axis, i in zip(self.names, self.axes, point)}

    def neighbours(self, point: LatticePoint) -> list[LatticePoint]:
        """Points one move away: one dimension changed by one step (or to another choice)."""
        out = []
        for dim, axis in enumerate(self.axes):
            for index in axis.moves(point[dim]):
                out.append(point[:dim] + (index,) + point[dim + 1 :])
        return out

    def rings(self, point: LatticePoint, max_radius: int) -> Iterator[list[LatticePoint]]:
        """Points exactly 1, 2, ... ``max_radius`` moves away, one list per distance."""
        seen = {point}
        ring = [point]
        for _ in range(max_radius):
            following = []
            for origin in ring:
                for neighbour in self.neighbours(origin):
                    if neighbour not in seen:
                        seen.add(neighbour)
                        following.append(neighbour)
            if not following:
                return
            yield following
            if len(following) > _RING_LIMIT:
                return
            ring = following

    def random_point(self, rng: random.Random) -> LatticePoint:
        return tuple(rng.randrange(len(axis.values)) for axis in self.axes)

    def all_points(self) -> Iterator[LatticePoint]:
        return itertools.product(*(range(len(axis.values)) for axis in self.axes))


def nearest_free(
    lattice: Lattice,
    start: LatticePoint,
    is_free: Callable[[LatticePoint], bool],
    rng: random.Random,
    max_radius: int = 3,
) -> LatticePoint | None:
    """A free point as few moves from ``start`` as possible (ties drawn with ``rng``); beyond
    ``max_radius`` moves a random free point; None if no point is free."""
    for ring in lattice.rings(start, max_radius):
        free = [p for p in ring if is_free(p)]
        if free:
            return free[rng.randrange(len(free))]
    for _ in range(_RANDOM_TRIES):
        point = lattice.random_point(rng)
        if is_free(point):
            return point
    if lattice.size <= _ENUMERATE_LIMIT:
        free = [p for p in lattice.all_points() if is_free(p)]
        if free:
            return free[rng.randrange(len(free))]
    return None


# The walk and its replay -----------------------------------------------------------------

S = TypeVar("S", bound="WalkState")
R = TypeVar("R", bound="ReplayState")


class ReplayState(Protocol):
    """What :class:`HistoryReplay` rebuilds: a state that folds in finished trials one at a
    time and can be copied (a walk, or another sampler's model of the history)."""

    def apply(self, record: TrialRecord) -> None: ...

    def copy(self: R) -> R: ...


class WalkState:
    """A walk rebuilt from finished trials: start-up points, then the current and best points.

    Losses are values signed so that lower is better (a maximized value is negated). The first
    ``n_startup`` completed trials (in number order) are the start-up; the walk starts from the
    best of them, and every later finished trial is a step that subclasses judge in
    :meth:`_step`. ``first_move`` is the number after the last start-up trial.
    """

    def __init__(self, space: dict[str, Distribution], sign: float, n_startup: int) -> None:
        self.space = space
        self.sign = sign
        self.n_startup = n_startup
        self.startup_losses: list[float] = []
        self.first_move: int | None = None
        self.current: dict[str, Any] | None = None
        self.current_loss = math.inf
        self.best: dict[str, Any] | None = None
        self.best_loss = math.inf
        self.tried: dict[Key, float | None] = {}  # point key -> best loss (None: never completed)

    @property
    def started(self) -> bool:
        return self.first_move is not None

    def copy(self: S) -> S:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.startup_losses = list(self.startup_losses)
        clone.tried = dict(self.tried)
        return clone

    def apply(self, record: TrialRecord) -> None:
        """Fold one finished trial into the walk."""
        params = point_of(record, self.space)
        if params is None:
            return
        loss = None
        if record.state is TrialState.COMPLETE and record.values:
            loss = self.sign * record.values[0]
        self._remember(params, loss)
        if not self.started:
            if loss is not None:
                self._add_startup(record.number, params, loss)
            return
        self._step(record.number, params, loss)
        if loss is not None and loss < self.best_loss:
            self.best, self.best_loss = params, loss

    def _add_startup(self, number: int, params: dict[str, Any], loss: float) -> None:
        self.startup_losses.append(loss)
        if loss < self.best_loss:
            self.best, self.best_loss = params, loss
        if len(self.startup_losses) >= self.n_startup:
            self.first_move = number + 1
            self.current, self.current_loss = self.best, self.best_loss
            self._start()

    def _remember(self, params: dict[str, Any], loss: float | None) -> None:
        key = point_key(params, self.space)
        self.tried[key] = merge_loss(self.tried.get(key), loss)

    def _start(self) -> None:
        """Called once the start-up is complete and the walk stands on its best point."""

    def _step(self, number: int, params: dict[str, Any], loss: float | None) -> None:
        """Judge a finished trial of the walk (``loss`` None: it failed or was pruned).

        ``best_loss`` is still the best before this trial.
        """
        raise NotImplementedError


class HistoryReplay(Generic[R]):
    """Rebuild a walk from a study's finished trials, in number order, with a cache.

    The state after the settled prefix (every trial before the first unfinished one) never
    changes, so it is kept and extended; trials finished after an unfinished one are replayed
    on a copy at each call, since the unfinished trial will later come before them.
    """

    def __init__(self, new_state: Callable[[dict[str, Distribution], float], R]) -> None:
        self._new_state = new_state
        self._key: tuple[Any, ...] | None = None
        self._state: R | None = None
        self._settled = 0

    def replay(self, study: Study, space: dict[str, Distribution]) -> tuple[R, list[TrialRecord]]:
        """The walk's state, and the trials running now."""
        sign = -1.0 if study.directions[0] == "maximize" else 1.0
        key = (study_key(study), sign, tuple(space.items()))
        if key != self._key or self._state is None:
            self._key, self._state, self._settled = key, self._new_state(space, sign), 0
        records = study.storage.get_trials(study.study_id)
        state = self._state
        index = self._settled
        while index < len(records) and records[index].state.is_finished():
            state.apply(records[index])
            index += 1
        self._settled = index
        rest = records[index:]
        finished = [record for record in rest if record.state.is_finished()]
        if finished:
            state = state.copy()
            for record in finished:
                state.apply(record)
        running = [record for record in rest if record.state is TrialState.RUNNING]
        return state, running


# The sampler -----------------------------------------------------------------------------


class JointSampler(BaseSampler):
    """What every sampler that proposes a joint point per trial from the replayed history shares.

    It infers the joint space from COMPLETE trials (single objective only), remembers the
    points it proposed to this process's running trials until they finish, and draws the
    parameters outside the joint space (conditional ones, and all of them during a start-up)
    at random, or from ``independent_sampler`` when one is given (Optuna's option of the same
    name), whose hooks then see every trial too.
    """

    display_name = "joint"  # how messages name the algorithm
    single_objective = True  # False for samplers that rank several objectives (NSGA-II)

    def __init__(self, seed: int | None, independent_sampler: BaseSampler | None = None) -> None:
        self.seed = check_seed(seed)
        self.independent_sampler = check_sampler_option(
            self.display_name, "independent_sampler", independent_sampler
        )
        self._space = JointSpace()
        # Points proposed to this process's running trials, whose parameters the storage may
        # not hold yet: (study key, trial number) -> params.
        self._proposed: dict[tuple[tuple[int, int], int], dict[str, Any]] = {}

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        if self.single_objective:
            check_single_objective(study, self.display_name)
        return self._space.infer(study)

    def before_trial(self, study: Study, trial: Trial) -> None:
        if self.independent_sampler is not None:
            self.independent_sampler.before_trial(study, trial)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        if self.independent_sampler is not None:
            return self.independent_sampler.sample_independent(study, trial, name, distribution)
        return distribution.from_unit(trial_rng(self.seed, trial.number, name).random())

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._proposed.pop((study_key(study), trial.number), None)
        if self.independent_sampler is not None:
            self.independent_sampler.after_trial(study, trial, state, values)

    def is_exhausted(self, study: Study) -> bool:
        if self.single_objective:  # refuse before optimize() starts a trial
            check_single_objective(study, self.display_name)
        return False


class LocalSearchSampler(JointSampler, Generic[S]):
    """A sampler that walks: random start-up trials, then neighbours of the replayed walk.

    Subclasses build the walk's state (:meth:`_new_state`) and choose a batch of neighbours
    (:meth:`_propose`); :class:`JointSampler` does the rest.
    """

    display_name = "local search"

    def __init__(self, seed: int | None, n_startup_trials: int) -> None:
        super().__init__(seed)
        self.n_startup_trials = check_int(
            self.display_name, "n_startup_trials", n_startup_trials, 1,
            "the walk starts from the best of them.",
        )
        self._replay: HistoryReplay[S] = HistoryReplay(self._new_state)

    @abstractmethod
    def _new_state(self, space: dict[str, Distribution], sign: float) -> S:
        """An empty walk over ``space`` (``sign`` is -1 when the study maximizes)."""

    @abstractmethod
    def _propose(
        self, state: S, trials: Sequence[Trial], taken: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """One point per trial: distinct, and none of the ``taken`` ones where possible."""

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        state, running = self._replay.replay(study, search_space)
        if not state.started:
            return [{} for _ in trials]  # start-up: every parameter from sample_independent
        key = study_key(study)
        mine = {number: params for (k, number), params in self._proposed.items() if k == key}
        batch = self._propose(state, trials, running_points(running, search_space, mine))
        for trial, params in zip(trials, batch):
            self._proposed[(key, trial.number)] = params
        return batch

    def search_state(self, study: Study) -> S:
        """A copy of the walk as the study's finished trials give it now (for inspection)."""
        space = self.infer_relative_search_space(study)
        return self._replay.replay(study, space)[0].copy()
