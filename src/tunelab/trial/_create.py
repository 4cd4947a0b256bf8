"""Trials made outside a study (:func:`create_trial`), and the checks a trial passes before
``study.add_trial`` stores it.

Samplers take stored trials as evidence, so a trial that no study could have produced (a
COMPLETE one without a value, a parameter outside its distribution, a value that is not a
number) is refused when it is made or added, not discovered later by a sampler.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from tunelab._attrs import NAMED_CONSTRAINT_PREFIX
from tunelab.constraints import check_named_constraint
from tunelab.exceptions import ConfigError
from tunelab.space import Distribution, JsonScalar, as_declared_type
from tunelab.trial._record import TrialRecord
from tunelab.trial._state import TrialState
from tunelab.trial._values import as_json


def create_trial(
    *,
    state: TrialState = TrialState.COMPLETE,
    value: float | None = None,
    values: Iterable[float] | None = None,
    params: Mapping[str, JsonScalar] | None = None,
    distributions: Mapping[str, Distribution] | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    system_attrs: Mapping[str, Any] | None = None,
    intermediate_values: Mapping[int, float] | None = None,
    constraints: Mapping[str, float] | None = None,
) -> TrialRecord:
    """A trial to give to ``study.add_trial``: results known from elsewhere (an earlier run,
    a paper, a hand-tuned default), which the study's sampler then learns from.

    A COMPLETE trial needs ``value`` (or ``values``, one per objective) and each parameter a
    distribution that contains it. It starts and completes now (a WAITING one has no times).
    ``constraints`` are kept by name, as ``trial.set_constraint(name, value)`` keeps them.
    """
    if not isinstance(state, TrialState):
        raise ConfigError(
            f"create_trial(state={state!r}): give a TrialState, e.g. TrialState.COMPLETE.",
            field="state",
        )
    start = None if state is TrialState.WAITING else datetime.now(timezone.utc)
    attrs = dict(system_attrs or {})
    if constraints is not None:
        attrs.update(_checked_constraints(constraints))
    record = TrialRecord(
        trial_id=-1,
        number=-1,
        state=state,
        value=value,
        values=None if values is None else tuple(values),
        params=params,
        distributions=distributions,
        intermediate_values=intermediate_values,
        user_attrs=user_attrs,
        system_attrs=attrs,
        datetime_start=start,
        datetime_complete=start if state.is_finished() else None,
    )
    return checked_trial(record)


def addable_trial(trial: Any, n_objectives: int) -> TrialRecord:
    """``trial`` checked (:func:`checked_trial`) for a study of ``n_objectives`` objectives."""
    if not isinstance(trial, TrialRecord):
        raise ConfigError(
            f"add_trial takes a FrozenTrial (made by create_trial, or one of study.trials), "
            f"not a {type(trial).__name__}.",
            field="trial",
        )
    if trial.state is TrialState.RUNNING:
        raise ConfigError(
            f"trial {trial.number} is RUNNING, and nothing would ever finish it once added; "
            "add finished trials, and queue parameters to run with enqueue_trial.",
            field="state",
        )
    checked = checked_trial(trial)
    if checked.values is not None and len(checked.values) != n_objectives:
        raise ConfigError(
            f"the trial has {len(checked.values)} value(s) but the study has {n_objectives} "
            "objective(s); give one value per objective.",
            field="values",
        )
    return checked


def checked_trial(trial: TrialRecord) -> TrialRecord:
    """``trial`` as a study would have stored it (floats for values and intermediate values,
    each parameter of its distribution's type, attributes copied through JSON); a
    ConfigError naming the field that no study could have produced."""
    _check_times(trial)
    return dataclasses.replace(
        trial,
        values=_checked_values(trial),
        params=_checked_params(trial),
        intermediate_values={
            _step(step): _number(value, "intermediate_values")
            for step, value in trial.intermediate_values.items()
        },
        user_attrs={key: as_json(key, value) for key, value in trial.user_attrs.items()},
        system_attrs={key: as_json(key, value) for key, value in trial.system_attrs.items()},
    )


def _check_times(trial: TrialRecord) -> None:
    state = trial.state.name
    if trial.state is not TrialState.WAITING and trial.datetime_start is None:
        raise ConfigError(
            f"a {state} trial has started: give its datetime_start.", field="datetime_start"
        )
    if trial.state.is_finished() != (trial.datetime_complete is not None):
        needs = "needs" if trial.state.is_finished() else "has no"
        raise ConfigError(
            f"a {state} trial {needs} a datetime_complete; give it for finished trials only.",
            field="datetime_complete",
        )


def _checked_values(trial: TrialRecord) -> tuple[float, ...] | None:
    if trial.values is None:
        if trial.state is TrialState.COMPLETE:
            raise ConfigError(
                "a COMPLETE trial needs its objective value: give value= (or values=, one "
                "per objective).",
                field="value",
            )
        return None
    if trial.state is TrialState.FAIL:
        raise ConfigError(
            f"a FAIL trial has no values, but values={list(trial.values)!r} were given; leave "
            "them out, or make the trial COMPLETE.",
            field="values",
        )
    values = tuple(_number(value, "values") for value in trial.values)
    if not all(math.isfinite(value) for value in values):
        raise ConfigError(
            f"values={list(values)!r}: a trial's values must be finite numbers.", field="values"
        )
    return values


def _checked_constraints(constraints: Mapping[str, float]) -> dict[str, float]:
    """The system attributes that hold ``constraints``, each value checked."""
    if not isinstance(constraints, Mapping):
        raise ConfigError(
            f"constraints={constraints!r}: give a dict from each constraint's name to its "
            "value, e.g. {'memory': used - limit}.",
            field="constraints",
        )
    return {
        NAMED_CONSTRAINT_PREFIX + name: check_named_constraint(name, value, "create_trial")
        for name, value in constraints.items()
    }


def _checked_params(trial: TrialRecord) -> dict[str, Any]:
    if set(trial.params) != set(trial.distributions):
        raise ConfigError(
            f"params {sorted(trial.params)} and distributions {sorted(trial.distributions)} "
            "must name the same parameters: give each parameter its distribution.",
            field="distributions",
        )
    checked = {}
    for name, value in trial.params.items():
        distribution = trial.distributions[name]
        if not isinstance(distribution, Distribution):
            raise ConfigError(
                f"distributions[{name!r}] is a {type(distribution).__qualname__} from "
                f"{type(distribution).__module__}; use tunelab's FloatDistribution, "
                "IntDistribution or CategoricalDistribution.",
                field="distributions",
            )
        if not distribution.contains(value):
            raise ConfigError(
                f"params[{name!r}]={value!r} is outside its distribution {distribution}; give "
                "a value inside it, or a distribution that contains it.",
                field="params",
            )
        checked[name] = as_declared_type(distribution, value)
    return checked


def _step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 0:
        raise ConfigError(
            f"intermediate_values: step {step!r} must be a non-negative integer.",
            field="intermediate_values",
        )
    return int(step)


def _number(item: Any, field: str) -> float:
    if isinstance(item, bool) or not isinstance(item, numbers.Real):
        raise ConfigError(
            f"{field}: {item!r} ({type(item).__name__}) is not a number; give floats.",
            field=field,
        )
    return float(item)
