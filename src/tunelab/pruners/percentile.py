"""Percentile pruning, the rule of Google Vizier's "median stopping" (Golovin et al., KDD 2017)
generalised to any percentile: stop a trial whose best value so far is worse than the given
percentile of the running averages that finished trials had at the same step.

The reference is every finished trial that reached the step, pruned ones included, compared by
running average: completed trials alone are the survivors of earlier pruning, and judging new
trials against the survivors' best would ratchet the bar up until nearly everything is pruned.

A reported NaN stops the trial at once: it cannot recover and comparing it is meaningless.
"""

from __future__ import annotations

import itertools
import math
import weakref
from typing import TYPE_CHECKING

from tunelab._options import check_int, check_number
from tunelab.pruners.base import BasePruner, is_checked_step, last_report
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.storage import BaseStorage
    from tunelab.study import Study


class PercentilePruner(BasePruner):
    """Prune when the trial is outside the best ``percentile`` % of finished trials.

    Args:
        percentile: keep trials within the best this-many percent (0-100).
        n_startup_trials: no pruning until this many trials completed.
        n_warmup_steps: no pruning of a trial before this step.
        interval_steps: check only every this-many steps after warm-up.
        n_min_trials: at least this many finished trials must have reached the step.
    """

    display_name = "percentile pruner"  # how option errors name the rule

    def __init__(
        self,
        percentile: float,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        n_min_trials: int = 1,
    ) -> None:
        self.percentile = check_number(
            self.display_name, "percentile", percentile, 0.0, 100.0, "50 is the median rule.",
            low_open=False,
        )
        self.n_startup_trials = check_int(
            self.display_name, "n_startup_trials", n_startup_trials, 0,
            "completed trials before pruning.",
        )
        self.n_warmup_steps = check_int(
            self.display_name, "n_warmup_steps", n_warmup_steps, 0,
            "steps of a trial before pruning.",
        )
        self.interval_steps = check_int(
            self.display_name, "interval_steps", interval_steps, 1, "1 checks at every step."
        )
        self.n_min_trials = check_int(
            self.display_name, "n_min_trials", n_min_trials, 1,
            "finished trials that reached the step.",
        )
        self._averages: dict[tuple[int, int], dict[int, float | None]] = {}
        self._cache_storage: weakref.ref[BaseStorage] | None = None

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        step, value = last_report(trial)
        if math.isnan(value):
            return True
        if not is_checked_step(step, self.n_warmup_steps, self.interval_steps):
            return False
        finished = study.storage.get_trials(
            study.study_id, (TrialState.COMPLETE, TrialState.PRUNED)
        )
        if not _completed_at_least(finished, self.n_startup_trials):
            return False
        maximize = study.direction == "maximize"
        others = self._running_averages(study, finished, step)
        if len(others) < max(self.n_min_trials, 1):
            return False
        current = _best_up_to(trial, step, maximize)
        assert current is not None
        if maximize:
            return current < percentile(others, 100.0 - self.percentile)
        return current > percentile(others, self.percentile)

    def _running_averages(
        self, study: Study, finished: list[TrialRecord], step: int
    ) -> list[float]:
        """The running average at ``step`` of each finished trial that reached it.

        A finished trial never changes, so its average at a step is computed once and kept
        (for the storage the study is in): each check then costs a lookup per trial, not a
        pass over its whole curve.
        """
        if self._cache_storage is None or self._cache_storage() is not study.storage:
            self._cache_storage = weakref.ref(study.storage)
            self._averages = {}
        known = self._averages.setdefault((study.study_id, step), {})
        averages = []
        for record in finished:
            if record.trial_id not in known:
                reached = (record.last_step or 0) >= step
                known[record.trial_id] = _mean_up_to(record, step) if reached else None
            if (average := known[record.trial_id]) is not None:
                averages.append(average)
        return averages


def percentile(values: list[float], q: float) -> float:
    """``numpy.percentile(values, q)`` with its default (linear) interpolation, to the bit.

    A pruner asked after every fold of a millisecond fit compares with a few dozen values;
    numpy's call costs some 50 µs for them, sorting a list a few.
    """
    assert values, "the percentile of no values"
    ordered = sorted(values)
    last = len(ordered) - 1
    index = last * (q / 100.0)  # where numpy places the percentile between the sorted values
    below = min(math.floor(index), last)
    weight = index - below
    low, high = ordered[below], ordered[min(below + 1, last)]
    if weight >= 0.5:  # numpy interpolates from the nearer end
        return high - (high - low) * (1.0 - weight)
    return low + (high - low) * weight


def _completed_at_least(records: list[TrialRecord], count: int) -> bool:
    """Whether ``records`` hold ``count`` COMPLETE trials; stops counting there, since this
    runs at every check and the study may hold thousands."""
    completed = (record for record in records if record.state is TrialState.COMPLETE)
    return count <= 0 or next(itertools.islice(completed, count - 1, None), None) is not None


def _values_up_to(record: TrialRecord, step: int) -> list[float]:
    return [v for s, v in record.intermediate_values.items() if s <= step and not math.isnan(v)]


def _best_up_to(record: TrialRecord, step: int, maximize: bool) -> float | None:
    values = _values_up_to(record, step)
    if not values:
        return None
    return max(values) if maximize else min(values)


def _mean_up_to(record: TrialRecord, step: int) -> float | None:
    values = _values_up_to(record, step)
    return sum(values) / len(values) if values else None
