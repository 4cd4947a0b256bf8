"""Test objectives and helpers shared by the sampler tests: a smooth 4-d bowl, a mixed space with a
conditional parameter, and a small discrete space; and, from tunelab.testing, a 2-d bowl and
the helpers to run a study."""

from __future__ import annotations

import math

from tunelab.samplers.random import RandomSampler
from tunelab.testing.objectives import assert_valid_trials, bowl_2d, params_of
from tunelab.testing.objectives import run_study as run

OPTIMUM = (0.7, -1.3, 2.1, -0.4)


def bowl_4d(trial):
    """A smooth, tilted bowl; random search gets within a few units of its minimum (0)."""
    d = [trial.suggest_float(f"x{i}", -5.0, 5.0) - c for i, c in enumerate(OPTIMUM)]
    return sum((i + 1) * v * v for i, v in enumerate(d)) + 0.5 * d[0] * d[1]


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


class RecordingSampler(RandomSampler):
    """A random sampler that notes the hooks it is called with: (hook, trial number[, name])."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__(seed)
        self.calls: list[tuple] = []

    def before_trial(self, study, trial):
        self.calls.append(("before", trial.number))

    def sample_independent(self, study, trial, name, distribution):
        self.calls.append(("independent", trial.number, name))
        return super().sample_independent(study, trial, name, distribution)

    def after_trial(self, study, trial, state, values):
        self.calls.append(("after", trial.number))

    def independent(self) -> set[tuple[int, str]]:
        """(trial number, parameter) of every value this sampler chose."""
        return {(call[1], call[2]) for call in self.calls if call[0] == "independent"}


def assert_valid_mixed_run(study, sampler):
    """Every trial of a run of :func:`mixed` valid, the conditional parameter exactly where its
    condition holds, and the joint space without it."""
    assert list(sampler.infer_relative_search_space(study)) == ["act", "batch", "lr", "model"]
    assert_valid_trials(study)
    for record in study.trials:
        assert ("depth" in record.params) == (record.params["model"] == "tree")


__all__ = [
    "OPTIMUM",
    "RecordingSampler",
    "assert_valid_mixed_run",
    "bowl_2d",
    "bowl_4d",
    "mixed",
    "nc",
    "params_of",
    "run",
    "small",
    "small_point",
]
