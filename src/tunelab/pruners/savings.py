"""What early stopping saved: steps (epochs) trained against what running every trial to the
end would have cost."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tunelab.trial import Resume, TrialRecord, TrialState


@dataclass(frozen=True)
class StepSavings:
    """``run`` steps were trained where running every started trial to ``full_steps`` would
    have trained ``without_pruning``."""

    run: int
    without_pruning: int
    full_steps: int

    @property
    def saved_fraction(self) -> float:
        return 1.0 - self.run / self.without_pruning


def step_savings(records: Iterable[TrialRecord]) -> StepSavings | None:
    """The savings over ``records``; None when no completed trial shows the full length.

    A trial that continues another (a promotion, a population member's next interval) counts
    only the steps past its resume point, and is part of the run it continues rather than a
    run of its own.
    """
    records = list(records)
    full = max(
        (r.last_step for r in records if r.state is TrialState.COMPLETE and r.last_step),
        default=None,
    )
    if full is None:
        return None
    run = 0
    fresh = 0
    for record in records:
        resume = Resume.of(record)
        start = resume.step if resume is not None else 0
        run += sum(1 for step in record.intermediate_values if step > start)
        fresh += resume is None
    return StepSavings(run=run, without_pruning=fresh * full, full_steps=full)
