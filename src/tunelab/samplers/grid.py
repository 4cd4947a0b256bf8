"""Exhaustive grid search, as in scikit-learn's ``GridSearchCV`` but define-by-run.

The grid is either given (``search_space={"lr": [0.1, 0.01], ...}``) or derived from the
distributions the objective declares: every value of an int, stepped float or categorical,
and ``float_points`` evenly spaced values of a continuous float (log-spaced on a log scale).

A grid point is *covered* by a trial (finished or running) that agrees with it on every
parameter the trial used. A trial that never asked for a conditional parameter covers all of
its values, so conditional branches are not run once per value of parameters they ignore.
Each new trial takes the first uncovered point; the study stops when none is left.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.exceptions import ConfigError
from tunelab.samplers.base import BaseSampler
from tunelab.space import Distribution, as_declared_type, value_key
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_COVERING_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)


class GridSampler(BaseSampler):
    """Visit every point of a grid once, in order (or shuffled with a seed).

    Args:
        search_space: ``{name: [values]}``; None derives the grid from the distributions the
            objective declares.
        seed: the order of a shuffled grid. ``GridSampler(search_space, seed)`` is Optuna's
            call; its grid is always visited in a random order, tunelab's in order unless
            ``shuffle=True``: either way every point is visited once.
        float_points: how many values a continuous float of a derived grid takes.
        shuffle: visit the points in an order drawn from ``seed``.
    """

    def __init__(
        self,
        search_space: Mapping[str, Sequence[Any]] | None = None,
        seed: int | None = None,
        *,
        float_points: int = 5,
        shuffle: bool = False,
    ) -> None:
        if isinstance(float_points, bool) or not isinstance(float_points, int) or float_points < 1:
            raise ConfigError(f"grid float_points={float_points!r} must be a positive integer.")
        self._given = None if search_space is None else _check_space(search_space)
        self.float_points = float_points
        self.shuffle = shuffle
        self.seed = seed
        self._targets: dict[int, dict[str, Any]] = {}
        self._checked_point: dict[str, Any] | None = None

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        if self._given is not None and name not in self._given:
            raise ConfigError(
                f"parameter {name!r} is not in the grid's search_space "
                f"({', '.join(self._given)}); add it with the values to try."
            )
        if trial.number not in self._targets:
            point = self._checked_point or self._first_uncovered(study)
            self._targets[trial.number] = point or {}
            self._checked_point = None
        target = self._targets[trial.number]
        value = target[name] if name in target else self._values(name, distribution)[0]
        if not distribution.contains(value):
            raise ConfigError(
                f"grid value {name}={value!r} is outside the distribution {distribution} the "
                "objective declares; make the grid's values fit the range."
            )
        return value

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._targets.pop(trial.number, None)
        self._checked_point = None

    def is_exhausted(self, study: Study) -> bool:
        if self._given is None and not study.storage.count_trials(study.study_id):
            return False
        # Kept for the next trial's first suggestion, which would otherwise search again.
        self._checked_point = self._first_uncovered(study)
        return self._checked_point is None

    def grid_size(self, study: Study) -> int:
        """How many points the grid has now (a derived grid grows as parameters appear)."""
        size = 1
        for values in self._dimensions(study).values():
            size *= len(values)
        return size

    def _values(self, name: str, distribution: Distribution) -> list[Any]:
        if self._given is not None:
            return list(self._given[name])
        return list(distribution.grid(self.float_points))

    def _dimensions(self, study: Study) -> dict[str, list[Any]]:
        if self._given is not None:
            return {name: list(values) for name, values in self._given.items()}
        dims: dict[str, list[Any]] = {}
        for record in study.storage.get_trials(study.study_id):
            for name, distribution in record.distributions.items():
                dims.setdefault(name, self._values(name, distribution))
        return dict(sorted(dims.items()))

    def _first_uncovered(self, study: Study) -> dict[str, Any] | None:
        dims = self._dimensions(study)
        covered = _Coverage(dims)
        for record in study.storage.get_trials(study.study_id, _COVERING_STATES):
            covered.add(record.params, record.distributions)
        for target in self._targets.values():
            covered.add(target)
        for point in self._points(dims):
            if not covered.covers(point):
                return point
        return None

    def _points(self, dims: dict[str, list[Any]]) -> Iterator[dict[str, Any]]:
        names = list(dims)
        combos: Iterator[tuple[Any, ...]] | list[tuple[Any, ...]] = itertools.product(
            *dims.values()
        )
        if self.shuffle:
            combos = list(combos)
            random.Random(self.seed).shuffle(combos)
        for combo in combos:
            yield dict(zip(names, combo))


class _Coverage:
    """Which grid points the trials so far cover, grouped by the set of parameters they used.

    A grid value is compared as the trial stored it: the grid ``[-50, 0, 50]`` of a float
    parameter is covered by the trials that stored -50.0, 0.0 and 50.0.
    """

    def __init__(self, dims: Mapping[str, list[Any]]) -> None:
        self._dims = dims
        self._by_used: dict[tuple[str, ...], set[tuple[Any, ...]]] = {}
        self._declared: dict[str, Distribution] = {}

    def add(
        self, params: Mapping[str, Any], distributions: Mapping[str, Distribution] | None = None
    ) -> None:
        self._declared.update(distributions or {})
        used = tuple(name for name in self._dims if name in params)
        if used:
            self._by_used.setdefault(used, set()).add(self._key(params, used))

    def covers(self, point: Mapping[str, Any]) -> bool:
        return any(self._key(point, used) in keys for used, keys in self._by_used.items())

    def _key(self, values: Mapping[str, Any], used: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(
            value_key(
                as_declared_type(self._declared[name], values[name])
                if name in self._declared
                else values[name]
            )
            for name in used
        )


def _check_space(search_space: Mapping[str, Sequence[Any]]) -> dict[str, tuple[Any, ...]]:
    checked = {}
    for name, values in search_space.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(
                f"grid search_space[{name!r}]={values!r} must be a non-empty list of values."
            )
        checked[name] = tuple(values)
    return dict(sorted(checked.items()))
