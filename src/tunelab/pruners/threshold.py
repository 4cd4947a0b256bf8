"""Threshold pruning: stop a trial as soon as a reported value leaves a fixed range, or is not a
finite number (a NaN or an infinity: a diverged run that no later epoch can repair).

The bounds are absolute, so the rule needs no other trial: it works from the first trial of a
study, and it is the guard to put under any other rule against exploding losses.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from tunelab._options import check_int, check_number
from tunelab.exceptions import ConfigError
from tunelab.pruners.base import BasePruner, is_checked_step, last_report
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "threshold pruner"


class ThresholdPruner(BasePruner):
    """Prune when the last reported value is below ``lower``, above ``upper`` or not finite.

    Args:
        lower: values below it prune (None: no lower bound).
        upper: values above it prune (None: no upper bound).
        n_warmup_steps: the bounds apply from this step on (a non-finite value prunes at once).
        interval_steps: check the bounds only every this-many steps after the warm-up.
    """

    def __init__(
        self,
        lower: float | None = None,
        upper: float | None = None,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
    ) -> None:
        hint = "give a finite number, or null for no bound."
        self.lower = None if lower is None else check_number(
            _WHERE, "lower", lower, -math.inf, math.inf, hint, low_open=True
        )
        self.upper = None if upper is None else check_number(
            _WHERE, "upper", upper, -math.inf, math.inf, hint, low_open=True
        )
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ConfigError(
                f"{_WHERE}: lower={lower!r} is above upper={upper!r}; swap them.", field="lower"
            )
        self.n_warmup_steps = check_int(
            _WHERE, "n_warmup_steps", n_warmup_steps, 0, "the bounds apply from that step on."
        )
        self.interval_steps = check_int(
            _WHERE, "interval_steps", interval_steps, 1, "1 checks at every step."
        )

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        step, value = last_report(trial)
        if not math.isfinite(value):
            return True
        if not is_checked_step(step, self.n_warmup_steps, self.interval_steps):
            return False
        below = self.lower is not None and value < self.lower
        above = self.upper is not None and value > self.upper
        return below or above
