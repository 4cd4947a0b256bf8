"""Brute-force search: every combination of a finite define-by-run space, each once, in a
random order; the search Optuna's ``BruteForceSampler`` makes, written for tunelab.

The space is the tree the objective's suggestions walk. A node is the parameter asked next, its
branches are that parameter's values (every choice of a categorical, every value of an int or a
stepped float, and ``float_points`` evenly spaced values of a continuous float, as tunelab's
grid takes them), and a trial is a path from the root that ends where the trial ended. A
conditional parameter, and a range that depends on an earlier value (``b`` in ``[a, 3]``), is
simply a node of its own below the values that lead to it, so no grid needs declaring.

Each value is chosen among the branches that still have an untried path: the trials (finished,
and running ones, whose paths so far count as taken) that agree with the trial on every
parameter it already has form the subtree below it, and each branch is drawn with probability
proportional to how many untried paths it holds, so that the paths come in a uniformly random
order. The draw comes from (seed, trial number, parameter name), so a seeded search is
reproducible. Once nothing is left the search has covered the space, and ``optimize`` stops
(:meth:`BruteForceSampler.is_exhausted`).

With ``avoid_premature_stop=True`` (Optuna's option) running trials do not count as covering
their paths: the search stops only when every path ended in a finished trial, at the risk of
running a path twice in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab._options import check_flag, check_int
from tunelab.samplers._options import check_seed
from tunelab.samplers.base import BaseSampler, trial_rng
from tunelab.space import Distribution, value_key
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "brute force"
_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)

Path = Mapping[str, tuple[Any, Distribution]]  # name -> (value, distribution), in asked order


class _Node:
    """A point of the tree: ``name`` is the parameter asked there (None while no trial went on
    from it), ``branches`` the keys of its values; ``ended`` marks where a finished trial
    stopped and ``held`` where a running one has got to."""

    __slots__ = ("name", "branches", "children", "ended", "held")

    def __init__(self) -> None:
        self.name: str | None = None
        self.branches: list[Any] = []
        self.children: dict[Any, _Node] = {}
        self.ended = False
        self.held = False

    def expand(self, name: str, distribution: Distribution, float_points: int) -> None:
        if self.name is None:
            self.name = name
            self.branches = [value_key(v) for v in distribution.grid(float_points)]

    def add(self, path: Path, running: bool, float_points: int) -> None:
        """Mark the path of one trial; a path that asks parameters in another order than the
        tree stops being followed where it departs from it."""
        node, rest = self, dict(path)
        while rest:
            if node.name is None:
                first = next(iter(rest))
                node.expand(first, rest[first][1], float_points)
            if node.name not in rest:
                return
            value, _ = rest.pop(node.name)
            node = node.children.setdefault(value_key(value), _Node())
        if running:
            node.held = True
        else:
            node.ended = True

    def untried(self, running_taken: bool) -> int:
        """How many paths below this node no trial has taken."""
        if self.name is None:
            return 0 if self.ended or (running_taken and self.held) else 1
        return sum(self.untried_by_branch(running_taken))

    def untried_by_branch(self, running_taken: bool) -> list[int]:
        return [
            child.untried(running_taken) if (child := self.children.get(branch)) else 1
            for branch in self.branches
        ]


class BruteForceSampler(BaseSampler):
    """Try every combination of a finite define-by-run space once, in a random order, and stop.

    Args:
        seed: the order of the search; None draws one.
        avoid_premature_stop: do not count running trials as covering their paths, so that
            the search ends only once every path has finished (a path may then run twice in
            parallel).
        float_points: how many evenly spaced values a float without step takes (log-spaced on
            a log scale); Optuna's sampler refuses such a float.
    """

    def __init__(
        self,
        seed: int | None = None,
        avoid_premature_stop: bool = False,
        *,
        float_points: int = 5,
    ) -> None:
        self.seed = check_seed(seed)
        self.avoid_premature_stop = check_flag(_WHERE, "avoid_premature_stop", avoid_premature_stop)
        self.float_points = check_int(
            _WHERE, "float_points", float_points, 1, "5 takes five values of each float range."
        )
        self._lock = threading.Lock()
        # Values given to this process's running trials, which the storage may not hold yet.
        self._given: dict[tuple[int, int, int], dict[str, tuple[Any, Distribution]]] = {}

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        with self._lock:
            prefix = {asked: value_key(value) for asked, value in trial.params.items()}
            below = _Node()
            below.expand(name, distribution, self.float_points)
            for path, running in self._paths(study, exclude=trial.number):
                if all(asked in path and value_key(path[asked][0]) == key
                       for asked, key in prefix.items()):
                    rest = {asked: item for asked, item in path.items() if asked not in prefix}
                    below.add(rest, running, self.float_points)
            value = self._choose(below, distribution, trial.number, name)
            given = self._given.setdefault((*_study_key(study), trial.number), {})
            given[name] = (value, distribution)
            return value

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        with self._lock:
            self._given.pop((*_study_key(study), trial.number), None)

    def is_exhausted(self, study: Study) -> bool:
        with self._lock:
            root, finished = _Node(), False
            for path, running in self._paths(study, exclude=None):
                root.add(path, running, self.float_points)
                finished = finished or not running
            return finished and root.untried(not self.avoid_premature_stop) == 0

    def _paths(self, study: Study, exclude: int | None) -> list[tuple[Path, bool]]:
        """Each trial's path (a running one's as far as this process gave it values), and
        whether it is still running."""
        paths = []
        for record in study.get_trials(_STATES):
            if record.number == exclude:
                continue
            running = record.state is TrialState.RUNNING
            given = self._given.get((*_study_key(study), record.number)) if running else None
            path: Path = given if given is not None else {
                name: (record.params[name], distribution)
                for name, distribution in record.distributions.items()
            }
            paths.append((path, running))
        return paths

    def _choose(self, below: _Node, distribution: Distribution, number: int, name: str) -> Any:
        """A value whose branch holds untried paths, each path as likely; any value once every
        path is taken."""
        values = distribution.grid(self.float_points)
        counts = below.untried_by_branch(running_taken=True)
        if not any(counts) and self.avoid_premature_stop:
            counts = below.untried_by_branch(running_taken=False)
        if not any(counts):
            counts = [1] * len(values)
        target = trial_rng(self.seed, number, name).random() * sum(counts)
        for value, count in zip(values, counts):
            target -= count
            if target < 0 and count:
                return value
        return values[max(i for i, count in enumerate(counts) if count)]


def _study_key(study: Study) -> tuple[int, int]:
    return (id(study.storage), study.study_id)
