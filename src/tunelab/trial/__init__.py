"""Trials: the define-by-run handle an objective receives, and the immutable record kept after.

A :class:`Trial` is live while its objective runs. A :class:`TrialRecord` (Optuna's
``FrozenTrial``) is what the storage returns: frozen, so that samplers and pruners can cache
finished trials safely. A :class:`FixedTrial` runs an objective with given parameters, without
a study; all three are :class:`BaseTrial`.
"""

from tunelab.trial._base import BaseTrial, suggest
from tunelab.trial._create import addable_trial, create_trial
from tunelab.trial._fixed import FixedTrial
from tunelab.trial._record import Resume, TrialRecord, freeze, utc_from_timestamp
from tunelab.trial._state import TrialState
from tunelab.trial._trial import Trial, worker_name
from tunelab.trial._values import as_json, check_values, new_report

FrozenTrial = TrialRecord

__all__ = [
    "BaseTrial",
    "FixedTrial",
    "FrozenTrial",
    "Resume",
    "Trial",
    "TrialRecord",
    "TrialState",
    "addable_trial",
    "as_json",
    "check_values",
    "create_trial",
    "freeze",
    "new_report",
    "suggest",
    "utc_from_timestamp",
    "worker_name",
]
