"""Random search: reproducible per seed, inside each distribution, independent of suggestion
order."""

from __future__ import annotations

import math
from collections import Counter

import pytest

import tunelab
from tunelab.samplers import RandomSampler


def mixed_space(trial):
    trial.suggest_float("dropout", 0.0, 0.5)
    trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    trial.suggest_float("momentum", 0.0, 0.9, step=0.1)
    trial.suggest_int("layers", 1, 8)
    trial.suggest_int("units", 1, 1024, log=True)
    trial.suggest_int("batch", 16, 256, step=16)
    trial.suggest_categorical("activation", ["relu", "gelu", None, True, 1])
    return 0.0


def params_of(study):
    return [dict(r.params) for r in study.trials]


def run(objective, n_trials=20, **options):
    study = tunelab.create_study(**{"sampler": "random", **options})
    study.optimize(objective, n_trials=n_trials, catch=())
    return study


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"seed": 7}, {"seed": 7}),
        ({"sampler": {"name": "random", "seed": 7}}, {"sampler": RandomSampler(seed=7)}),
    ],
    ids=["create_study-seed", "sampler-seed"],
)
def test_same_seed_gives_the_same_parameter_sequence(first, second):
    assert params_of(run(mixed_space, **first)) == params_of(run(mixed_space, **second))


def test_same_seed_on_sqlite_gives_the_same_sequence_as_in_memory(sqlite_url):
    in_memory = run(mixed_space, seed=3)
    on_disk = run(mixed_space, seed=3, storage=sqlite_url)
    assert params_of(on_disk) == params_of(in_memory)


def test_different_seeds_give_different_sequences():
    assert params_of(run(mixed_space, seed=1)) != params_of(run(mixed_space, seed=2))


def test_unseeded_samplers_differ():
    assert params_of(run(mixed_space)) != params_of(run(mixed_space))


def test_sampler_seed_option_wins_over_the_study_seed():
    explicit = run(mixed_space, sampler={"name": "random", "seed": 5}, seed=99)
    assert params_of(explicit) == params_of(run(mixed_space, seed=5))


def test_every_value_is_inside_its_distribution():
    study = run(mixed_space, n_trials=200, seed=0)
    for record in study.trials:
        for name, value in record.params.items():
            assert record.distributions[name].contains(value), (name, value)
        assert type(record.params["layers"]) is int and type(record.params["lr"]) is float


def test_a_value_does_not_depend_on_suggestion_order_or_earlier_branches():
    def forward(trial):
        trial.suggest_float("x", -1.0, 1.0)
        trial.suggest_int("n", 0, 100)
        trial.suggest_categorical("c", ["a", "b", "c"])
        return 0.0

    def backward_with_branch(trial):
        if trial.suggest_categorical("branch", [True, False]):
            trial.suggest_float("extra", 0.0, 1.0)
        trial.suggest_categorical("c", ["a", "b", "c"])
        trial.suggest_int("n", 0, 100)
        trial.suggest_float("x", -1.0, 1.0)
        return 0.0

    plain = run(forward, seed=11)
    shuffled = run(backward_with_branch, seed=11)
    assert {r.params["branch"] for r in shuffled.trials} == {True, False}
    for a, b in zip(plain.trials, shuffled.trials):
        assert (a.params["x"], a.params["n"], a.params["c"]) == (
            b.params["x"], b.params["n"], b.params["c"]
        )


def test_ask_and_tell_give_the_same_values_as_optimize():
    asked = tunelab.create_study(seed=4)
    for _ in range(5):
        trial = asked.ask()
        asked.tell(trial, mixed_space(trial))
    assert params_of(asked) == params_of(run(mixed_space, n_trials=5, seed=4))


def test_discrete_values_are_equally_likely():
    def objective(trial):
        trial.suggest_categorical("c", ["a", "b", "c", "d"])
        return 0.0

    study = run(objective, n_trials=800, seed=0)
    counts = Counter(r.params["c"] for r in study.trials)
    assert set(counts) == {"a", "b", "c", "d"}
    assert all(abs(n - 200) < 5 * math.sqrt(200) for n in counts.values())


def test_log_scale_is_uniform_in_log_space():
    study = run(lambda t: t.suggest_float("lr", 1e-4, 1.0, log=True), n_trials=800, seed=0)
    below = sum(r.params["lr"] < 1e-2 for r in study.trials)
    assert abs(below - 400) < 5 * math.sqrt(200)
