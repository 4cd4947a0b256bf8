"""Test objectives and helpers shared by the sampler tests: smooth bowls, a mixed space with a
conditional parameter, and a small discrete space."""

from __future__ import annotations

import math

import tunelab

OPTIMUM = (0.7, -1.3, 2.1, -0.4)


def bowl_4d(trial):
    """A smooth, tilted bowl; random search gets within a few units of its minimum (0)."""
    d = [trial.suggest_float(f"x{i}", -5.0, 5.0) - c for i, c in enumerate(OPTIMUM)]
    return sum((i + 1) * v * v for i, v in enumerate(d)) + 0.5 * d[0] * d[1]


def bowl_2d(trial):
    x = trial.suggest_float("x", -5.0, 5.0) - 1.3
    y = trial.suggest_float("y", -5.0, 5.0) + 0.7
    return x * x + 2 * y * y + 0.5 * x * y


def mixed(trial):
    """Every kind of parameter, and a conditional one."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    batch = trial.suggest_int("batch", 16, 256, step=16)
    act = trial.suggest_categorical("act", ["relu", "tanh", None])
    loss = (math.log10(lr) + 3) ** 2 + ((batch - 64) / 64) ** 2 + (act != "tanh")
    if trial.suggest_categorical("model", ["linear", "tree"]) == "tree":
        loss += abs(trial.suggest_int("depth", 2, 8, step=2) - 4) / 4
    return loss


def small_point(trial, n_high=4, choices=("a", "b", "c")):
    """A point of a small discrete space: n in 0..n_high and a choice c."""
    return trial.suggest_int("n", 0, n_high), trial.suggest_categorical("c", list(choices))


def nc(record):
    return record.params["n"], record.params["c"]


def small(trial):
    n, c = small_point(trial)
    return n + (c != "b")


def run(objective, sampler, n_trials=30, **options):
    study = tunelab.create_study(sampler=sampler, **options)
    study.optimize(objective, n_trials=n_trials, catch=())
    return study


def params_of(study):
    return [dict(r.params) for r in study.trials]


def assert_valid_mixed_run(study, sampler):
    """Every trial of a run of :func:`mixed` valid, and the joint space without the conditional
    parameter."""
    assert list(sampler.infer_relative_search_space(study)) == ["act", "batch", "lr", "model"]
    assert_valid_mixed_trials(study)


def assert_valid_mixed_trials(study):
    """Every trial of a run of :func:`mixed` completed inside its distributions, the conditional
    parameter exactly where its condition holds."""
    for record in study.trials:
        assert record.state is tunelab.TrialState.COMPLETE
        for name, value in record.params.items():
            assert record.distributions[name].contains(value), (name, value)
        assert ("depth" in record.params) == (record.params["model"] == "tree")
        assert type(record.params["batch"]) is int
