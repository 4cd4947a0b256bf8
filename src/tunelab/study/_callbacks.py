"""Callbacks for :meth:`Study.optimize` that Optuna scripts pass by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study._study import Study


class MaxTrialsCallback:
    """Stop the study once it holds ``n_trials`` trials in ``states`` (all states if None).

    Unlike ``optimize(n_trials=...)``, which counts the trials of one call, this counts the
    study's, whichever process ran them: a number of completed trials over restarts and
    workers, say.
    """

    def __init__(
        self,
        n_trials: int,
        states: Iterable[TrialState] | None = (TrialState.COMPLETE,),
    ) -> None:
        self.n_trials = n_trials
        self.states = None if states is None else tuple(states)

    def __call__(self, study: Study, trial: TrialRecord) -> None:
        if study.storage.count_trials(study.study_id, self.states) >= self.n_trials:
            study.stop()
