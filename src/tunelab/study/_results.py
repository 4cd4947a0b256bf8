"""What a study found: its trials, the best of them, and the trials as a table.

:class:`~tunelab.study.Study` gets these from :class:`StudyResults`, which reads them from
the study's storage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from tunelab import dataframe
from tunelab.constraints import is_feasible
from tunelab.exceptions import TunelabError
from tunelab.study._identity import StudyIdentity
from tunelab.study._ranking import best_of, pareto_front
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study


class StudyResults(StudyIdentity):
    """The result properties of a study, read from its storage."""

    @property
    def trials(self) -> list[TrialRecord]:
        """Every trial, in number order."""
        return self.storage.get_trials(self.study_id)

    def get_trials(
        self,
        deepcopy: bool | Iterable[TrialState] | None = True,
        states: Iterable[TrialState] | None = None,
    ) -> list[TrialRecord]:
        """The trials in ``states`` (all if None), in number order.

        Records are immutable, so ``deepcopy`` (Optuna's first argument) changes nothing;
        ``get_trials(states)``, with the states first, works too.
        """
        if not isinstance(deepcopy, bool) and deepcopy is not None:
            states = deepcopy
        return self.storage.get_trials(self.study_id, states)

    @property
    def best_trial(self) -> TrialRecord:
        """The feasible completed trial with the best value (single objective)."""
        best = best_of(self._feasible_completed(), self.direction)
        if best is None:
            raise TunelabError(
                f"study {self.study_name!r} has no completed trial that satisfies its "
                "constraints yet."
            )
        return best

    @property
    def best_value(self) -> float:
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_trials(self) -> list[TrialRecord]:
        """The Pareto front: feasible completed trials that no other feasible completed trial
        dominates. Trials without constraint values are feasible."""
        return pareto_front(self._feasible_completed(), self.directions)

    def _feasible_completed(self) -> list[TrialRecord]:
        completed = self.storage.get_trials(self.study_id, (TrialState.COMPLETE,))
        return [r for r in completed if is_feasible(r)]

    def trials_dataframe(
        self, attrs: Sequence[str] = dataframe.OPTUNA_ATTRS, multi_index: bool = False
    ) -> Any:
        """A pandas DataFrame, one row per trial, with Optuna's columns: by default number,
        value (``values_0``, ... or ``values_<metric>`` for several objectives),
        datetime_start, datetime_complete, duration, ``params_*``, ``user_attrs_*``,
        ``system_attrs_*`` and state. ``attrs`` names the record's fields to show
        (``fail_reason`` and ``intermediate_values`` too); ``multi_index=True`` gives
        two-level columns, such as ``("params", "lr")``."""
        return dataframe.trials_dataframe(cast("Study", self), attrs, multi_index)
