"""The ``constraints_func`` option of the constrained samplers (NSGA-II, TPE, GP).

The function is called once per completed trial, as ``study.tell`` is about to finish it, and
what it returns is stored with the trial (:mod:`tunelab.constraints`), so that the study's best
trials, every sampler and every other process read the same values from the storage rather than
calling the function again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from tunelab._attrs import CONSTRAINTS_ATTR
from tunelab.constraints import check_constraints
from tunelab.trial import TrialRecord, TrialState, freeze

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

ConstraintsFunc = Callable[[TrialRecord], Sequence[float]]


def store_constraints(
    constraints_func: ConstraintsFunc | None,
    where: str,
    study: Study,
    trial: Trial | TrialRecord,
    state: TrialState,
    values: Sequence[float] | None,
) -> None:
    """Call ``constraints_func`` on the completing trial (its record with the values and
    parameters it is about to be stored with) and store the result with it."""
    if constraints_func is None or state is not TrialState.COMPLETE:
        return
    record = (
        trial if isinstance(trial, TrialRecord) else study.storage.get_trial(trial.trial_id)
    )
    record = dataclasses.replace(
        record,
        state=state,
        values=None if values is None else tuple(values),
        # A live trial's parameters are written with its final state, not yet stored.
        params=freeze(trial.params),
        distributions=freeze(trial.distributions),
    )
    constraints = check_constraints(
        constraints_func(record), f"{where}: constraints_func", record.number,
        field="constraints_func",
    )
    study.storage.set_trial_system_attr(trial.trial_id, CONSTRAINTS_ATTR, constraints)
