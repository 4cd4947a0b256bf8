"""Patience: stop a trial whose value has not improved for ``patience`` reported steps, the
early-stopping rule of a single training run turned into a pruner. With another pruner inside,
it only lets that one prune a trial that has stopped improving, so that a slow starter which is
still getting better is spared.

:class:`PatientPruner` is the rule as Optuna's pruner of that name states it, with its
arguments: the last ``patience + 1`` values are compared with the earlier ones, and the trial
counts as stalled only when their best is *worse* than the earlier best by more than
``min_delta`` (a plateau is not stalled); ``min_delta`` is thus a tolerance, where
:class:`PatiencePruner` reads it as the least improvement that counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunelab._options import check_int, check_number
from tunelab.pruners import make_pruner
from tunelab.pruners.base import BasePruner
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study

_WHERE = "patience pruner"


class PatiencePruner(BasePruner):
    """Prune a trial whose best value of the last ``patience`` steps is no better (by more than
    ``min_delta``) than its best before them.

    Args:
        patience: reported steps without improvement that are tolerated.
        min_delta: an improvement smaller than this does not count.
        wrapped: another pruner (a name, ``{"name": ..., options}`` or an object) that decides
            once the patience has run out; None prunes then.
    """

    def __init__(
        self,
        patience: int,
        min_delta: float = 0.0,
        wrapped: str | Mapping[str, Any] | BasePruner | None = None,
    ) -> None:
        self.patience = check_int(
            _WHERE, "patience", patience, 0, "the number of steps without improvement to allow."
        )
        self.min_delta = check_number(
            _WHERE, "min_delta", min_delta, 0.0, math.inf, "0 counts any improvement.",
            low_open=False,
        )
        self.wrapped = None if wrapped is None else make_pruner(wrapped)

    def prune(self, study: Study, trial: TrialRecord) -> bool:
        values = [trial.intermediate_values[step] for step in sorted(trial.intermediate_values)]
        sign = -1.0 if study.direction == "maximize" else 1.0
        losses = [sign * value for value in values]  # lower is better; NaN stays NaN
        if not self._stalled(losses):
            return False
        return self.wrapped.prune(study, trial) if self.wrapped is not None else True

    def _stalled(self, losses: list[float]) -> bool:
        """Whether the last ``patience`` losses improve on the earlier best by no more than
        ``min_delta``."""
        if len(losses) <= self.patience:
            return False
        split = len(losses) - self.patience
        return not _best(losses[split:]) < _best(losses[:split]) - self.min_delta


class PatientPruner(PatiencePruner):
    """Optuna's ``PatientPruner(wrapped_pruner, patience, min_delta)``: prune (or let
    ``wrapped_pruner`` decide) once the best of the last ``patience + 1`` values is worse than
    the best before them by more than ``min_delta``."""

    def __init__(
        self,
        wrapped_pruner: str | Mapping[str, Any] | BasePruner | None,
        patience: int,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__(patience, min_delta, wrapped_pruner)

    def _stalled(self, losses: list[float]) -> bool:
        if len(losses) <= self.patience + 1:
            return False
        split = len(losses) - self.patience - 1
        return _best(losses[split:]) > _best(losses[:split]) + self.min_delta


def _best(losses: list[float]) -> float:
    """The lowest loss that is a number (a NaN never counts as an improvement)."""
    return min((loss for loss in losses if not math.isnan(loss)), default=math.inf)
