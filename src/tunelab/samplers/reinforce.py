"""A policy-gradient controller: REINFORCE (Williams, "Simple Statistical Gradient-Following
Algorithms for Connectionist Reinforcement Learning", Machine Learning 8, 1992), used the way
Zoph & Le use a controller to propose architectures ("Neural Architecture Search with
Reinforcement Learning", ICLR 2017): the controller samples a configuration, the trial's value
is its reward, and the controller's log-probability of that configuration is pushed up or down
by how much the reward beats a moving-average baseline.

The controller here is deliberately small and needs only numpy: one independent softmax policy
(a vector of logits) per parameter of the joint space, over that parameter's discrete *choices*:

* a categorical parameter: its choices;
* an int or stepped float with at most ``resolution`` values: each of its values;
* a continuous float, or an int / stepped float with more than ``resolution`` values: the
  ``resolution`` equal bins of its unit mapping (so a log range is binned in log space). The
  value is drawn uniformly inside the chosen bin (then mapped back, so an int takes one of the
  values its bin covers), and a finished trial's value counts as the bin it falls in.

Rewards. A trial's loss is its value, negated when the study maximizes. Its reward is its rank
among the losses of the trials before it (in number order), scaled to ``[-1, 1]``: ``+1`` beats
every earlier trial, ``-1`` is worse than all of them, ties count half, and the first trial gets
0. Ranks make the step size independent of the objective's scale and of outliers. A failed or
pruned trial gets the worst reward, ``-1``, and counts as a loss of ``+inf`` for later ranks. A
trial that lacks a parameter of the joint space (it failed before suggesting it, say) teaches
the controller nothing and is skipped.

Update. The baseline ``b`` starts at 0 and is an exponential moving average of the rewards,
``b <- decay * b + (1 - decay) * reward``, taken *after* the trial's advantage ``reward - b``
is computed. For each parameter with policy ``pi = softmax(logits)`` and chosen index ``a``::

    logits += learning_rate * ((reward - b) * (onehot(a) - pi) + entropy_weight * dH/dlogits)

where ``onehot(a) - pi`` is the gradient of ``log pi(a)`` and ``H`` the policy's entropy (a
bonus that keeps it from collapsing too early; 0 by default). With ``batch_size > 1`` the
gradients of ``batch_size`` consecutive trials are averaged and applied together, as a
controller trained on a batch of child models. The first ``n_startup_trials`` trials are drawn
uniformly at random; they fill the rank history and the baseline but are not used as
gradient steps (the controller did not choose them).

State. The controller is not kept in the sampler object between studies. It is rebuilt from the
study's finished trials in number order, so a resumed study or another process sharing it sees
the same policy. The state after the *settled* prefix (the trials before the first unfinished
one) is cached by the number of trials processed, so a serial run applies one update per trial;
trials finished after a running one are applied to a copy at each ask.

Sampling. Each trial draws one choice per parameter from the current policy with a generator
seeded by the sampler's seed and the trial's number (:func:`~tunelab.samplers.base.trial_rng`),
so a seeded study is reproducible. ``study.ask(n)`` draws every trial of the batch from the
same policy and redraws a configuration (a tuple of choices) that another trial of the batch or
a running trial holds, first from the policy, then uniformly, keeping a repeat only when the
space has too few configurations. Finished configurations may be proposed again: a converged
controller is meant to repeat its best one. Parameters outside the joint space of the completed
trials (conditional ones) are drawn at random. Single objective only.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_int, check_number
from tunelab.samplers._neighbourhood import (
    HistoryReplay,
    JointSampler,
    point_of,
    running_points,
    study_key,
)
from tunelab.samplers.base import trial_rng
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, value_key
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "reinforce"
_STREAM = "<reinforce>"
_POLICY_TRIES = 32  # redraws from the policy before uniform ones, for a distinct configuration
_RANDOM_TRIES = 64
_ENUMERATE_LIMIT = 20_000  # configurations listed to find a free one in a small space

Choice = tuple[int, ...]


class ChoiceAxis:
    """The discrete choices of one parameter: its values, or bins of its unit mapping."""

    def __init__(self, distribution: Distribution, resolution: int) -> None:
        self.distribution = distribution
        self.values: list[Any] | None = None
        if isinstance(distribution, CategoricalDistribution):
            self.values = list(distribution.choices)
        elif not (isinstance(distribution, FloatDistribution) and distribution.step is None):
            values = list(distribution.grid(resolution))
            if len(values) <= resolution:
                self.values = values
        self.size = len(self.values) if self.values is not None else resolution
        self._index = (
            {value_key(v): i for i, v in enumerate(self.values)} if self.values is not None else {}
        )

    def index(self, value: Any) -> int:
        """The choice a value of the parameter counts as."""
        if self.values is not None:
            exact = self._index.get(value_key(value))
            if exact is not None:
                return exact
        u = self.distribution.to_unit(value)
        return min(max(int(u * self.size), 0), self.size - 1)

    def value(self, choice: int, rng: random.Random) -> Any:
        """A value of the choice: the value itself, or a uniform draw inside the bin."""
        if self.values is not None:
            return self.values[choice]
        u = (choice + rng.random()) / self.size
        return self.distribution.from_unit(min(u, 1.0))

    def label(self, choice: int) -> Any:
        """The value of a choice, or ``(low, high)``: the values at the edges of its bin (for an
        int or stepped bin, ``high`` is the first value of the next bin)."""
        if self.values is not None:
            return self.values[choice]
        low = self.distribution.from_unit(choice / self.size)
        high = self.distribution.from_unit(min((choice + 1) / self.size, 1.0))
        return (low, high)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.exp(logits - logits.max())
    probabilities: np.ndarray = z / z.sum()
    return probabilities


class ControllerState:
    """The controller rebuilt from finished trials: logits, baseline and rank history."""

    def __init__(
        self,
        space: dict[str, Distribution],
        sign: float,
        sampler: ReinforceSampler,
    ) -> None:
        self.space = space
        self.sign = sign
        self.names = list(space)
        self.axes = [ChoiceAxis(d, sampler.resolution) for d in space.values()]
        self.learning_rate = sampler.learning_rate
        self.baseline_decay = sampler.baseline_decay
        self.entropy_weight = sampler.entropy_weight
        self.n_startup_trials = sampler.n_startup_trials
        self.batch_size = sampler.batch_size
        self.logits = [np.zeros(axis.size) for axis in self.axes]
        self.baseline = 0.0
        self.losses: list[float] = []  # sorted losses of the trials applied so far
        self.pending = [np.zeros(axis.size) for axis in self.axes]  # gradient being averaged
        self.n_pending = 0
        self.n_updates = 0  # gradient steps applied (batches)
        self.n_applied = 0  # trials used as gradient samples

    def copy(self) -> ControllerState:
        clone = object.__new__(ControllerState)
        clone.__dict__.update(self.__dict__)
        clone.logits = [a.copy() for a in self.logits]
        clone.pending = [a.copy() for a in self.pending]
        clone.losses = list(self.losses)
        return clone

    def probabilities(self) -> list[np.ndarray]:
        return [softmax(logits) for logits in self.logits]

    def choice_of(self, params: Mapping[str, Any]) -> Choice:
        return tuple(axis.index(params[name]) for name, axis in zip(self.names, self.axes))

    def reward(self, loss: float) -> float:
        """The rank of ``loss`` among earlier losses, in ``[-1, 1]`` (higher is better)."""
        n = len(self.losses)
        if n == 0:
            return 0.0
        if math.isinf(loss):
            return -1.0
        better = bisect.bisect_left(self.losses, loss)  # earlier losses strictly lower
        ties = bisect.bisect_right(self.losses, loss) - better
        worse = n - better - ties
        return (worse - better) / n

    def apply(self, record: TrialRecord) -> None:
        """Fold one finished trial into the controller."""
        params = point_of(record, self.space)
        if params is None:
            return
        loss = math.inf
        if record.state is TrialState.COMPLETE and record.values:
            loss = self.sign * record.values[0]
        reward = self.reward(loss)
        bisect.insort(self.losses, loss)
        advantage = reward - self.baseline
        self.baseline = self.baseline_decay * self.baseline + (1 - self.baseline_decay) * reward
        if record.number < self.n_startup_trials:
            return
        choice = self.choice_of(params)
        for dim, (logits, index) in enumerate(zip(self.logits, choice)):
            pi = softmax(logits)
            grad = -advantage * pi
            grad[index] += advantage
            if self.entropy_weight > 0.0:
                log_pi = np.log(np.maximum(pi, 1e-300))
                entropy = -float(np.dot(pi, log_pi))
                grad += self.entropy_weight * (-pi * (log_pi + entropy))
            self.pending[dim] += grad
        self.n_pending += 1
        self.n_applied += 1
        if self.n_pending >= self.batch_size:
            for logits, grad in zip(self.logits, self.pending):
                logits += self.learning_rate * grad / self.n_pending
                grad[:] = 0.0
            self.n_pending = 0
            self.n_updates += 1

    def draw(self, rng: random.Random, uniform: bool = False) -> Choice:
        out = []
        for logits in self.logits:
            if uniform:
                out.append(rng.randrange(len(logits)))
                continue
            cumulative = np.cumsum(softmax(logits))
            index = int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))
            out.append(min(index, len(logits) - 1))
        return tuple(out)

    @property
    def sizes(self) -> list[int]:
        return [axis.size for axis in self.axes]

    def n_configurations(self) -> int:
        return math.prod(self.sizes)


class ReinforceSampler(JointSampler):
    """A REINFORCE controller with one softmax policy per parameter.

    Args:
        seed: makes the search reproducible; None draws one.
        learning_rate: step size of the policy-gradient update of the logits.
        baseline_decay: decay of the moving-average baseline, in ``[0, 1)``; 0 makes the
            baseline the previous reward.
        resolution: number of bins of a continuous float, and the most values an int or stepped
            float may have before it is binned the same way.
        entropy_weight: weight of the entropy bonus in the update (0: none).
        n_startup_trials: trials drawn uniformly at random before the controller chooses.
        batch_size: finished trials whose gradients are averaged into one update.
    """

    display_name = _WHERE

    def __init__(
        self,
        seed: int | None = None,
        learning_rate: float = 0.5,
        baseline_decay: float = 0.9,
        resolution: int = 10,
        entropy_weight: float = 0.0,
        n_startup_trials: int = 0,
        batch_size: int = 1,
    ) -> None:
        super().__init__(seed)
        self.learning_rate = check_number(
            _WHERE, "learning_rate", learning_rate, 0.0, math.inf,
            "it is the step size of the policy update.",
        )
        self.baseline_decay = check_number(
            _WHERE, "baseline_decay", baseline_decay, 0.0, 1.0,
            "it is the weight of the old baseline in its moving average.",
            low_open=False, high_open=True,
        )
        self.resolution = check_int(
            _WHERE, "resolution", resolution, 2, "it is the number of bins of a float."
        )
        self.entropy_weight = check_number(
            _WHERE, "entropy_weight", entropy_weight, 0.0, math.inf,
            "0 turns the entropy bonus off.", low_open=False,
        )
        self.n_startup_trials = check_int(
            _WHERE, "n_startup_trials", n_startup_trials, 0,
            "they are drawn at random before the controller chooses.",
        )
        self.batch_size = check_int(
            _WHERE, "batch_size", batch_size, 1,
            "it is how many trials are averaged into one update.",
        )
        self._history: HistoryReplay[ControllerState] = HistoryReplay(
            lambda space, sign: ControllerState(space, sign, self)
        )

    # The controller ----------------------------------------------------------------------

    def _replay(
        self, study: Study, space: dict[str, Distribution]
    ) -> tuple[ControllerState, list[TrialRecord]]:
        """The controller after the study's finished trials, and the trials running now."""
        return self._history.replay(study, space)

    def controller(self, study: Study) -> ControllerState:
        """A copy of the controller as the study's finished trials give it now."""
        space = self.infer_relative_search_space(study)
        return self._replay(study, space)[0].copy()

    def policy(self, study: Study) -> dict[str, list[tuple[Any, float]]]:
        """Each parameter's choices (a value, or ``(low, high)`` for a bin) and probabilities."""
        state = self.controller(study)
        return {
            name: [(axis.label(i), float(p)) for i, p in enumerate(probs)]
            for name, axis, probs in zip(state.names, state.axes, state.probabilities())
        }

    # Sampling ----------------------------------------------------------------------------

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        key = study_key(study)
        state, running = self._replay(study, search_space)
        mine = {number: params for (k, number), params in self._proposed.items() if k == key}
        held = running_points(running, search_space, mine)
        blocked = {state.choice_of(params) for params in held}
        limit = state.n_configurations()
        batch: list[dict[str, Any]] = []
        for trial in trials:
            if trial.number < self.n_startup_trials:
                batch.append({})  # start-up: every parameter from sample_independent
                continue
            rng = trial_rng(self.seed, trial.number, _STREAM)
            choice = state.draw(rng)
            if len(blocked) < limit:
                tries = 0
                while choice in blocked and tries < _POLICY_TRIES + _RANDOM_TRIES:
                    choice = state.draw(rng, uniform=tries >= _POLICY_TRIES)
                    tries += 1
                if choice in blocked and limit <= _ENUMERATE_LIMIT:
                    free = [
                        c for c in itertools.product(*map(range, state.sizes)) if c not in blocked
                    ]
                    choice = free[rng.randrange(len(free))]
            blocked.add(choice)
            params = {
                name: axis.value(index, rng)
                for name, axis, index in zip(state.names, state.axes, choice)
            }
            self._proposed[(key, trial.number)] = params
            batch.append(params)
        return batch
