"""The pruner that never prunes: every trial runs to its end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunelab.pruners.base import BasePruner
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study


class NopPruner(BasePruner):
    def prune(self, study: Study, trial: TrialRecord) -> bool:
        return False
