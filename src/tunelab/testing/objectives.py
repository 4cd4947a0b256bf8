"""Objectives and checks for testing a sampler.

:func:`every_kind` asks for every kind of parameter a sampler must handle, one of them only on
one branch; :func:`bowl_2d` is continuous, so two runs can be compared trial by trial without
ties between equal values deciding the search.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tunelab
from tunelab import CategoricalDistribution, FloatDistribution, IntDistribution, Study, Trial
from tunelab.samplers import BaseSampler

CHOICES = ("relu", 1, 2.5, None, True)
"""The categorical choices of :func:`every_kind`: every JSON scalar type, ``True`` beside ``1``."""

_DECLARED_TYPES = {FloatDistribution: float, IntDistribution: int}


def bowl_2d(trial: Trial) -> float:
    """A smooth, tilted bowl over two floats, lowest (0) at (1.3, -0.7)."""
    x = trial.suggest_float("x", -5.0, 5.0) - 1.3
    y = trial.suggest_float("y", -5.0, 5.0) + 0.7
    return x * x + 2 * y * y + 0.5 * x * y


def every_kind(trial: Trial) -> float:
    """Floats (plain, log, stepped), ints (plain, log, stepped), a categorical of mixed types,
    and a float that exists only where ``branch`` is ``"deep"``."""
    shift = trial.suggest_float("shift", -2.0, 2.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5, step=0.125)
    offset = trial.suggest_int("offset", -3, 3)
    units = trial.suggest_int("units", 1, 512, log=True)
    batch = trial.suggest_int("batch", 16, 128, step=16)
    activation = trial.suggest_categorical("activation", list(CHOICES))
    loss = shift**2 + abs(lr - 1e-3) + dropout + abs(offset) + abs(units - 64) / 64
    loss += abs(batch - 64) / 64 + (activation != "relu")
    if trial.suggest_categorical("branch", ["shallow", "deep"]) == "deep":
        loss += trial.suggest_float("momentum", 0.0, 0.99)
    return loss


def every_kind_pair(trial: Trial) -> tuple[float, float]:
    """Two conflicting objectives over the space of :func:`every_kind`."""
    value = every_kind(trial)
    return value, trial.params["lr"] - value


def run_study(
    objective: Callable[[Trial], Any], sampler: BaseSampler, n_trials: int = 30, **options: Any
) -> Study:
    """A new in-memory study with ``sampler`` after ``n_trials`` of ``objective``; any error in
    the objective or the sampler is raised rather than caught as a failed trial."""
    study = tunelab.create_study(sampler=sampler, **options)
    study.optimize(objective, n_trials=n_trials, catch=())
    return study


def params_of(study: Study) -> list[dict[str, Any]]:
    """The parameters of every trial, in number order."""
    return [dict(record.params) for record in study.trials]


def assert_valid_trials(study: Study) -> None:
    """Every trial completed, each value inside its distribution and of its declared type (an
    int for an int, a float for a float, the very choice for a categorical)."""
    for record in study.trials:
        assert record.state is tunelab.TrialState.COMPLETE, (record.number, record.state)
        for name, value in record.params.items():
            distribution = record.distributions[name]
            assert distribution.contains(value), (record.number, name, value, distribution)
            declared = _DECLARED_TYPES.get(type(distribution))
            if isinstance(distribution, CategoricalDistribution):
                index = distribution.index(value)
                assert index is not None, (record.number, name, value, distribution)
                declared = type(distribution.choices[index])
            assert type(value) is declared, (record.number, name, value, declared)


def assert_valid_every_kind_trials(study: Study) -> None:
    """:func:`assert_valid_trials` for a run of :func:`every_kind`, with the conditional
    parameter present exactly where its branch was taken."""
    assert_valid_trials(study)
    for record in study.trials:
        deep = record.params["branch"] == "deep"
        assert ("momentum" in record.params) == deep, (record.number, dict(record.params))
