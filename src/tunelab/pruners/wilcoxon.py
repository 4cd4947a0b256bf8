"""Wilcoxon pruning, the rule of Optuna's ``WilcoxonPruner``, for an objective that is the mean of
scores over a fixed set of instances (cross-validation folds, benchmark problems, the questions
put to a language model) rather than the last point of a training curve.

Each step is an instance id, reported in any order: ``trial.report(score, step=instance)``.
Instances differ in difficulty, so raw scores of two trials are only comparable instance by
instance; the paired Wilcoxon signed-rank test does exactly that. The running trial is tested
against the best completed trial on the instances both evaluated, and stopped once the test is
confident (p-value below ``p_threshold``) that it is worse.

As in Optuna, a trial whose mean over its instances is already at least as good as the best
trial's mean is never pruned, whatever the test says: the test weighs each instance's difference
by its rank, not its size, while the objective is the mean, and a trial slightly worse on most
instances but far better on a few is the better one. Since a stopped trial usually returns the
mean of the instances it ran (``if trial.should_prune(): return sum(scores) / len(scores)``),
that guard also keeps stopped trials from becoming the best, so the best trial has run every
instance.

A NaN or an infinity, in this trial or the best, cannot be ranked: the trial is then not
pruned, with a warning.

The test is repeated as instances come in, so its false-positive rate is higher than a single
test's at ``p_threshold``; pass a stricter (e.g. Pocock-corrected) threshold where that matters.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tunelab._options import check_int, check_probability
from tunelab.exceptions import TunelabError
from tunelab.pruners.base import BasePruner
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "wilcoxon pruner"


class WilcoxonPruner(BasePruner):
    """Prune a trial that a one-sided Wilcoxon signed-rank test finds worse than the best
    completed trial, instance by instance (steps are instance ids).

    Args:
        p_threshold: prune when the p-value of "this trial is no worse than the best" falls
            below it; larger values prune sooner and more often.
        n_startup_steps: instances both trials reported before the test is made (at least 2
            are always needed).
    """

    def __init__(self, *, p_threshold: float = 0.1, n_startup_steps: int = 2) -> None:
        self.p_threshold = check_probability(
            _WHERE, "p_threshold", p_threshold,
            "give a p-value such as 0.1 (the default); larger ones prune more.",
        )
        self.n_startup_steps = check_int(
            _WHERE, "n_startup_steps", n_startup_steps, 0,
            "the paired instances needed before testing, e.g. 2 (the default).",
        )

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        current = trial.intermediate_values
        best = _best_trial(study)
        if not current or best is None:
            return False
        problem = _why_incomparable(trial, best)
        if problem is not None:
            _warn(problem)
            return False
        reference = best.intermediate_values
        shared = sorted(current.keys() & reference.keys())
        if len(shared) < len(current):
            _warn(
                f"trial {trial.number} reported instances (steps) that the best trial "
                f"{best.number} did not; they are left out of the comparison."
            )
        if len(shared) < max(2, self.n_startup_steps):
            return False
        sign = -1.0 if study.direction == "maximize" else 1.0  # as losses: lower is better
        if sign * _mean(current) <= sign * _mean(reference):
            return False  # no worse on average: spared, however the test comes out
        losses = [sign * (current[step] - reference[step]) for step in shared]
        return _p_value_no_worse(losses) < self.p_threshold


def _best_trial(study: Study) -> TrialRecord | None:
    """The study's best trial; None while it has none (nothing to compare with yet)."""
    try:
        return study.best_trial
    except TunelabError:
        return None


def _why_incomparable(trial: TrialRecord, best: TrialRecord) -> str | None:
    """Why the test cannot be made (it ranks finite differences, instance by instance); None
    if it can."""
    if not _all_finite(trial.intermediate_values):
        return f"trial {trial.number} reported a NaN or infinite value; it is not pruned."
    if not best.intermediate_values:
        return (
            f"the best trial {best.number} has no reported values to compare with; report "
            "every instance in the objective, or give the trial passed to add_trial "
            "intermediate_values."
        )
    if not _all_finite(best.intermediate_values):
        return (
            f"the best trial {best.number} reported a NaN or infinite value; no trial is "
            "pruned while it is the best."
        )
    return None


def _all_finite(values: Mapping[int, float]) -> bool:
    return all(math.isfinite(value) for value in values.values())


def _mean(values: Mapping[int, float]) -> float:
    return sum(values.values()) / len(values)


def _p_value_no_worse(losses: list[float]) -> float:
    """The one-sided p-value of "the differences in loss are not above zero". Zero differences
    are split between the signs, so that identical trials give a p-value, not an error."""
    from scipy.stats import wilcoxon  # imported here: scipy.stats is slow to import

    return float(wilcoxon(losses, alternative="greater", zero_method="zsplit").pvalue)


def _warn(message: str) -> None:
    # stacklevel: _warn, prune, Trial.should_prune, then the objective that asked.
    warnings.warn(f"{_WHERE}: {message}", UserWarning, stacklevel=4)
