"""Optuna storages written by Optuna itself, for the import tests.

Optuna runs the studies in its in-memory storage and ``optuna.copy_study`` puts them into the
database, which is several times faster than optimizing on the database directly. The SQLite
file of the full-size studies is built once per test run and shared by the modules that read it.
:func:`assert_came_across` compares an imported trial with the trial as Optuna reads it.
"""

from __future__ import annotations

import math
import warnings
from datetime import timezone
from typing import Any

import pytest

from tunelab._attrs import CONSTRAINTS_ATTR, FIXED_PARAMS_ATTR, OPTUNA_SYSTEM_ATTRS_ATTR
from tunelab.space import CategoricalDistribution, FloatDistribution, IntDistribution
from tunelab.trial import TrialRecord, TrialState

optuna = pytest.importorskip("optuna")

MIXED = "mixed"  # single objective: every kind of parameter, pruned, failed, waiting, running
PARETO = "pareto"  # two objectives with metric names and constraints
N_MIXED = 1000
N_PARETO = 100
CHOICES = ("sgd", "adam", None, 3, True, 0.5)


def mixed_objective(trial: optuna.Trial) -> float:
    """Best near x = 1, lr = 1e-2, opt = 'adam'; every 7th trial (from 3) fails, every 5th
    (from 1) is pruned after reporting, every 50th (from 9) returns infinity."""
    x = trial.suggest_float("x", -5.0, 5.0)
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    trial.suggest_float("dropout", 0.0, 0.5, step=0.125)
    trial.suggest_int("layers", 1, 9, step=2)
    trial.suggest_int("width", 4, 256, log=True)
    opt = trial.suggest_categorical("opt", CHOICES)
    if opt == "sgd":
        trial.suggest_float("momentum", 0.0, 0.99)
    trial.set_user_attr("seen", {"number": trial.number, "tags": ["a", "b"]})
    if trial.number % 3 == 0:  # Optuna 5's named constraints
        trial.set_constraint("small_lr", lr - 0.05)
        trial.set_constraint("big_x", 2.0 - x)
    if trial.number % 7 == 3:
        raise ValueError("diverged")
    loss = (x - 1.0) ** 2 + (math.log10(lr) + 2.0) ** 2 + (0.0 if opt == "adam" else 0.5)
    for step in range(3):
        trial.report(math.nan if trial.number % 11 == 0 and step == 1 else loss + 3 - step, step)
    if trial.number % 5 == 1:
        raise optuna.TrialPruned()
    return math.inf if trial.number % 50 == 9 else loss


def pareto_objective(trial: optuna.Trial) -> tuple[float, float]:
    x = trial.suggest_float("x", 0.0, 1.0)
    y = trial.suggest_int("y", 0, 10)
    return x + y / 10, (1.0 - x) ** 2


def pareto_constraints(trial: optuna.trial.FrozenTrial) -> tuple[float]:
    return (trial.params["x"] - 0.8,)


def in_memory_studies(n_mixed: int, n_pareto: int) -> list[optuna.Study]:
    """Both studies in Optuna's memory, seeded; the mixed one ends with a RUNNING trial (asked,
    reported to, never told) and a WAITING one (enqueued)."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = optuna.storages.InMemoryStorage()
    mixed = optuna.create_study(
        study_name=MIXED, storage=storage, sampler=optuna.samplers.RandomSampler(seed=0)
    )
    mixed.set_user_attr("owner", "research")
    mixed.optimize(mixed_objective, n_trials=n_mixed, catch=(ValueError,))
    running = mixed.ask()
    running.suggest_float("x", -5.0, 5.0)
    running.report(7.0, 0)
    mixed.enqueue_trial({"x": 1.0, "opt": "adam"}, user_attrs={"why": "a hunch"})
    with warnings.catch_warnings():  # the list of constraints that Optuna 3 and 4 store
        warnings.simplefilter("ignore", FutureWarning)
        sampler = optuna.samplers.NSGAIISampler(seed=0, constraints_func=pareto_constraints)
    pareto = optuna.create_study(
        study_name=PARETO, storage=storage, directions=["minimize", "minimize"], sampler=sampler
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        pareto.set_metric_names(["cost", "error"])
    pareto.optimize(pareto_objective, n_trials=n_pareto)
    return [mixed, pareto]


def write_optuna_storage(url: str, n_mixed: int = N_MIXED, n_pareto: int = N_PARETO) -> None:
    """Both studies into the Optuna storage at ``url`` (created there by Optuna)."""
    for study in in_memory_studies(n_mixed, n_pareto):
        optuna.copy_study(
            from_study_name=study.study_name, from_storage=study._storage, to_storage=url
        )


def shared_optuna_sqlite(factory: pytest.TempPathFactory) -> str:
    """The URL of a SQLite file holding both full-size studies, written on first use."""
    path = factory.getbasetemp() / "optuna-studies.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        write_optuna_storage(f"sqlite:///{partial}")
        partial.rename(path)
    return f"sqlite:///{path}"


def same_number(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def same_values(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(same_number(x, y) for x, y in zip(a, b))


def typed(mapping: Any) -> dict[str, tuple[type, Any]]:
    """Values with their types, so that True is not 1 and 3 is not 3.0."""
    return {key: (type(value), value) for key, value in mapping.items()}


def tunelab_distribution(distribution: Any) -> Any:
    """What an Optuna distribution object is in tunelab."""
    if isinstance(distribution, optuna.distributions.FloatDistribution):
        return FloatDistribution(distribution.low, distribution.high, distribution.log,
                                 distribution.step)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return IntDistribution(distribution.low, distribution.high, distribution.log,
                               distribution.step)
    return CategoricalDistribution(tuple(distribution.choices))


def assert_came_across(ours: TrialRecord, theirs: Any) -> None:
    """One trial as tunelab imported it and as Optuna reads it from its own storage."""
    assert ours.number == theirs.number
    if theirs.state is optuna.trial.TrialState.RUNNING:
        assert ours.state is TrialState.FAIL and "RUNNING in the Optuna storage" in ours.fail_reason
    else:
        assert ours.state.name == theirs.state.name and ours.fail_reason is None
    assert same_values(ours.values, theirs.values)
    assert typed(ours.params) == typed(theirs.params)
    assert dict(ours.distributions) == {
        name: tunelab_distribution(d) for name, d in theirs.distributions.items()
    }
    assert ours.intermediate_values.keys() == theirs.intermediate_values.keys()
    for step, value in ours.intermediate_values.items():
        assert same_number(value, theirs.intermediate_values[step])
    assert ours.user_attrs == theirs.user_attrs
    assert ours.constraints == theirs.constraints  # Optuna's list, then its named ones
    expected_system = {
        k: v for k, v in theirs.system_attrs.items() if not k.startswith(CONSTRAINTS_ATTR)
    }
    assert ours.system_attrs.get(FIXED_PARAMS_ATTR) == expected_system.pop("fixed_params", None)
    assert ours.system_attrs.get(OPTUNA_SYSTEM_ATTRS_ATTR, {}) == expected_system
    for moment, optuna_moment in ((ours.datetime_start, theirs.datetime_start),
                                  (ours.datetime_complete, theirs.datetime_complete)):
        # Optuna shows naive local times; the same moments, in UTC.
        expected = None if optuna_moment is None else optuna_moment.astimezone(timezone.utc)
        assert moment == expected
