"""BOHB: Bayesian optimization with Hyperband.

Follows Falkner, Klein & Hutter, "BOHB: Robust and Efficient Hyperparameter Optimization at
Scale" (ICML 2018). A Hyperband pruner (``pruner="hyperband"``) decides how long each trial
runs; this sampler decides where new trials start, from a model of the results at the largest
budget that has enough of them. It works with any pruner, or none.

* Budgets are the steps trials report at (``trial.report(value, step)``; 0 while none has).
  A trial's observation at budget ``b`` is the value it reported at its first step at or past
  ``b`` (:func:`tunelab.pruners.base.value_at`, the rule successive halving judges rungs by).
  RUNNING, PRUNED and COMPLETE trials all count; a trial that completed without reporting
  counts its final value at every budget, so that without reports BOHB is a multivariate TPE
  on final values.
* The model is fitted at the largest budget with at least ``N_min + 2`` observations, where
  ``N_min`` is ``min_points_in_model`` (by default the number of modelled parameters + 1, as in
  the paper). Until a budget has that many, trials are sampled at random, exactly as
  :class:`~tunelab.samplers.random.RandomSampler` samples them; so is each later trial with
  probability ``random_fraction``, which keeps the search global when the model misleads.
* The best ``top_n_percent`` of the budget's observations (at least ``N_min``) are good, the
  rest (at least ``N_min``) bad; while observations are few the two groups overlap, as in the
  paper. Each group becomes a product-kernel Parzen density, ``l`` (good) or ``g`` (bad), made
  of TPE's kernels (:mod:`tunelab.samplers.tpe`: truncated Gaussians in unit space as wide as
  the gaps between observations, a wide prior kernel, categorical kernels for choices) rather
  than the paper's normal-reference KDE; one change: both groups take the minimum width that
  TPE's "magic clip" gives the budget's number of observations. ``n_samples`` candidates are
  drawn from ``l`` with its numeric kernels ``bandwidth_factor`` times as wide, and the one
  with the largest ``l(x) / g(x)`` is proposed.
* The model is joint over the parameters that every observation at that budget has with the
  same distribution (``infer_relative_search_space``); the others (conditional ones, new ones)
  are drawn at random.
* Reproducible: randomness comes from ``(seed, trial number)``, so the same seed and history
  give the same proposals. Each trial of ``study.ask(n)`` draws its own candidates, which makes
  a batch's proposals differ without a constant liar, as in the paper's parallel BOHB.
* Only single-objective studies are modelled: a multi-objective study gets random values and
  one warning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_int, check_number, check_probability
from tunelab.pruners.base import value_at
from tunelab.samplers._options import check_seed
from tunelab.samplers.base import BaseSampler, models_single_objective, trial_rng
from tunelab.samplers.tpe import _best_candidate, _Dim, _observe, _Parzen
from tunelab.space import Distribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "BOHB"
_OBSERVED_STATES = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
_RANDOM_STREAM = "\x00bohb-random"  # the coin that sends a trial to random search
_MODEL_STREAM = "\x00bohb-model"  # the candidates of a model-based proposal
_PRIOR_WEIGHT = 1.0  # TPE's default: the prior kernel weighs as much as one observation


@dataclass(frozen=True)
class _Model:
    """What the next proposal is fitted on: the budget, the joint space there, the trials
    observed there from best to worst, and ``N_min``."""

    budget: int
    space: dict[str, Distribution]
    ranked: list[TrialRecord]
    n_min: int


class BOHBSampler(BaseSampler):
    """BOHB's model-based sampling: TPE-like proposals fitted at the largest budget with data.

    Args:
        seed: makes the proposals reproducible; None for a random seed.
        min_points_in_model: ``N_min``, the fewest observations per group; a budget is modelled
            once it has ``N_min + 2``. None for the number of modelled parameters + 1.
        top_n_percent: the percentage of a budget's observations that form the good group.
        n_samples: candidates drawn from the widened good density per proposal.
        random_fraction: the probability that a trial is sampled at random even when a model
            exists.
        bandwidth_factor: how much wider the numeric kernels are when candidates are drawn
            than when they are scored; > 1 explores around the good observations.
    """

    def __init__(
        self,
        seed: int | None = None,
        min_points_in_model: int | None = None,
        top_n_percent: float = 15.0,
        n_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3.0,
    ) -> None:
        self.seed = check_seed(seed)
        self.min_points_in_model = None if min_points_in_model is None else check_int(
            _WHERE, "min_points_in_model", min_points_in_model, 1,
            "e.g. the number of parameters + 1, or None for that default.",
        )
        self.top_n_percent = check_number(
            _WHERE, "top_n_percent", top_n_percent, 0.0, 100.0, "the paper uses 15.",
            high_open=True,
        )
        self.n_samples = check_int(_WHERE, "n_samples", n_samples, 1, "e.g. n_samples=64.")
        self.random_fraction = check_probability(
            _WHERE, "random_fraction", random_fraction, "the paper uses 1/3; 0 never samples "
            "at random once a model exists.",
        )
        self.bandwidth_factor = check_number(
            _WHERE, "bandwidth_factor", bandwidth_factor, 0.0, math.inf,
            "the paper uses 3; 1 draws candidates from the good density itself.",
        )
        self._warned_multi_objective = False

    def model_budget(self, study: Study) -> int | None:
        """The budget (a step) the model of the study's next proposal is fitted at, or None
        while no budget has enough observations and proposals are random."""
        model = self._model(study)
        return None if model is None else model.budget

    # The sampler contract ---------------------------------------------------------------

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        model = self._model(study)
        return {} if model is None else dict(model.space)

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        model = self._model(study) if search_space else None
        # Another process may have finished a trial since the space was inferred and moved the
        # model to a space the trials were not asked for: they are then sampled at random.
        if model is None or model.space != search_space:
            return [{} for _ in trials]
        names = list(search_space)
        dims = [_Dim(search_space[name]) for name in names]
        rows = [_observe(r.params, r.distributions, names, dims) for r in model.ranked]
        points = np.array(rows, dtype=float)
        n = len(points)
        n_good = max(model.n_min, int(self.top_n_percent * n // 100))
        n_bad = max(model.n_min, n - n_good)
        good, bad = points[:n_good], points[n - n_bad :]
        # Both groups get the width floor of the budget's n observations, not of their own
        # size: with its own, the small good group would get wider kernels than the bad one,
        # and l / g would peak away from the good points, where what was tried was stopped
        # before this budget and so is missing from both groups.
        below = _Parzen(dims, good, _PRIOR_WEIGHT, clip_count=n)
        above = _Parzen(dims, bad, _PRIOR_WEIGHT, clip_count=n)
        widened = _Parzen(
            dims, good, _PRIOR_WEIGHT, clip_count=n, bandwidth_factor=self.bandwidth_factor
        )
        proposals: list[dict[str, Any]] = []
        for trial in trials:
            if trial_rng(self.seed, trial.number, _RANDOM_STREAM).random() < self.random_fraction:
                proposals.append({})
                continue
            rng = np.random.default_rng(
                trial_rng(self.seed, trial.number, _MODEL_STREAM).getrandbits(64)
            )
            _, values = _best_candidate(rng, dims, below, above, self.n_samples, widened)
            proposals.append(dict(zip(names, values)))
        return proposals

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        return distribution.from_unit(trial_rng(self.seed, trial.number, name).random())

    # The model ------------------------------------------------------------------------

    def _model(self, study: Study) -> _Model | None:
        """The model of the largest budget with enough observations; None if no budget has."""
        if not self._single_objective(study):
            return None
        # Those that got furthest first: going down the budgets, each adds the next few, so
        # one pass finds the largest budget with enough observations.
        reached = sorted(
            (
                (reach, record)
                for record in study.get_trials(_OBSERVED_STATES)
                if (reach := _reach(record)) is not None
            ),
            key=lambda pair: pair[0],
            reverse=True,
        )
        budgets = set().union(*(r.intermediate_values for _, r in reached)) or {0}
        space: dict[str, Distribution] | None = None
        count = 0
        for budget in sorted(budgets, reverse=True):
            while count < len(reached) and reached[count][0] >= budget:
                space = _narrow(space, reached[count][1])
                count += 1
            n_min = self.min_points_in_model or len(space or {}) + 1
            if space and count >= n_min + 2:
                sign = -1.0 if study.direction == "maximize" else 1.0
                ranked = sorted(
                    (record for _, record in reached[:count]),
                    key=lambda r: (_score(r, budget, sign), r.number),
                )
                return _Model(budget, dict(sorted(space.items())), ranked, n_min)
        return None

    def _single_objective(self, study: Study) -> bool:
        return models_single_objective(self, study, "BOHBSampler", "BOHB", stacklevel=5)


def _reach(record: TrialRecord) -> float | None:
    """The largest budget the trial has an observation at: its last step, infinity for a trial
    that completed without reporting (its final value counts at every budget), else None."""
    if record.last_step is not None:
        return record.last_step
    return math.inf if record.state is TrialState.COMPLETE else None


def _score(record: TrialRecord, budget: int, sign: float) -> float:
    """The trial's observation at ``budget`` (a budget it reached), lower is better: its first
    report at or past the budget, or its final value if it never reported."""
    value = record.value if record.last_step is None else value_at(record, budget)
    assert value is not None
    # A diverged trial (NaN) ranks last rather than being left out.
    return math.inf if math.isnan(value) else sign * value


def _narrow(space: dict[str, Distribution] | None, record: TrialRecord) -> dict[str, Distribution]:
    """``space`` less the parameters ``record`` lacks or has with another distribution (the
    record's own space, single values left out, when ``space`` is None)."""
    mine = {n: d for n, d in record.distributions.items() if not d.is_single}
    return mine if space is None else {n: d for n, d in space.items() if mine.get(n) == d}
