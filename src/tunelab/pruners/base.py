"""The pruner contract: look at a running trial's intermediate values and decide to stop it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study


class BasePruner(ABC):
    """Base class of every early-stopping rule."""

    @abstractmethod
    def prune(self, study: Study, trial: TrialRecord) -> bool:
        """True if ``trial`` (running, with at least one reported value) should stop now."""


def is_checked_step(step: int, n_warmup_steps: int, interval_steps: int) -> bool:
    """Whether a rule with a warm-up and an interval looks at ``step`` at all."""
    return step >= n_warmup_steps and (step - n_warmup_steps) % interval_steps == 0
