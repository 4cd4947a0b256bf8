"""The REINFORCE controller: reproducible, learns the best choices of a discrete objective and
beats random search there, distinct batches, mixed and conditional spaces, maximization, the
rebuilt policy, validated options."""

from __future__ import annotations

import statistics

import pytest

import tunelab
from tests.samplers.objectives import (
    assert_valid_mixed_run,
    bowl_2d,
    mixed,
    run,
    small,
    small_point,
)
from tunelab.exceptions import ConfigError
from tunelab.samplers import RandomSampler
from tunelab.samplers.reinforce import ReinforceSampler as Reinforce
from tunelab.trial import TrialState

CHOICES = ["a", "b", "c", "d", "e"]
# Cost of each choice of the four parameters; the best combination (cost 0) is a, b, c, d.
COSTS = [[0, 5, 2, 4, 3], [3, 0, 5, 2, 4], [4, 2, 0, 3, 5], [2, 5, 3, 0, 4]]
BEST = ["a", "b", "c", "d"]


def four_choices(trial):
    return sum(
        COSTS[i][CHOICES.index(trial.suggest_categorical(f"p{i}", CHOICES))] for i in range(4)
    )


def best_choice_rate(trials):
    return statistics.mean(
        record.params[f"p{i}"] == BEST[i] for record in trials for i in range(4)
    )


def test_learns_the_best_choices_and_beats_random_search_on_a_discrete_objective():
    # Measured at 100 trials with learning_rate=1.0 over seeds 0-49 taken five at a time: the
    # controller's median best value is 0 (the optimum) in all ten groups, random search's is 2
    # or 3 in nine and 0 in one (seeds 40-44). In trials 50-99 the controller picks the best
    # choice of a parameter 49-98% of the time per seed (group means 81-92%, smallest per-seed
    # rate of a group 0.49-0.79, 0.70 for seeds 0-4); chance is 20%. In trials 0-9 the group
    # means are 26-35%.
    seeds = range(5)
    studies = [run(four_choices, Reinforce(seed=s, learning_rate=1.0), 100) for s in seeds]
    controller = [study.best_value for study in studies]
    randoms = [run(four_choices, RandomSampler(seed=s), 100).best_value for s in seeds]
    assert statistics.median(controller) + 2 <= statistics.median(randoms), (controller, randoms)
    rates = [best_choice_rate(study.trials[50:]) for study in studies]
    assert min(rates) > 0.5 and statistics.mean(rates) > 0.7, rates
    # Early trials, drawn from a nearly uniform policy, are close to chance.
    assert statistics.mean(best_choice_rate(study.trials[:10]) for study in studies) < 0.45


def test_the_policy_of_the_best_choices_rises_and_is_rebuilt_from_the_history():
    sampler = Reinforce(seed=1, learning_rate=1.0)
    study = tunelab.create_study(sampler=sampler)
    study.optimize(four_choices, n_trials=1)
    start = sampler.policy(study)
    assert all(p == pytest.approx(0.2) for probs in start.values() for _, p in probs)
    study.optimize(four_choices, n_trials=19)
    early = sampler.policy(study)
    study.optimize(four_choices, n_trials=80)
    late = sampler.policy(study)
    for i, best in enumerate(BEST):
        prob = dict(late[f"p{i}"])[best]
        assert prob > dict(early[f"p{i}"])[best] and prob > 0.5, (i, early, late)
        assert max(late[f"p{i}"], key=lambda item: item[1])[0] == best
    # A fresh sampler replaying the same history from scratch gets the same policy.
    fresh = Reinforce(seed=99, learning_rate=1.0).policy(study)
    for name, probs in late.items():
        assert [c for c, _ in fresh[name]] == [c for c, _ in probs]
        assert [p for _, p in fresh[name]] == pytest.approx([p for _, p in probs])


def test_failed_trials_get_the_worst_reward():
    def objective(trial):
        choice = trial.suggest_categorical("c", CHOICES)
        if choice == "a":
            raise ValueError("a always fails")
        return CHOICES.index(choice)

    sampler = Reinforce(seed=2, learning_rate=1.0)
    study = tunelab.create_study(sampler=sampler)
    study.optimize(objective, n_trials=60, catch=(ValueError,))
    assert any(r.state is TrialState.FAIL for r in study.trials)
    probs = dict(sampler.policy(study)["c"])
    assert probs["a"] < 0.1 and probs["b"] == max(probs.values()), probs


def test_mixed_space_with_a_conditional_parameter():
    sampler = Reinforce(seed=0, learning_rate=0.5)
    study = run(mixed, sampler, n_trials=60)
    assert_valid_mixed_run(study, sampler)
    later = study.trials[10:]
    assert len({r.params["act"] for r in later}) >= 2
    assert len({r.params["batch"] for r in later}) >= 3
    # Floats are drawn inside their bins, so values repeat only by chance.
    assert len({r.params["lr"] for r in study.trials}) == len(study.trials)
    policy = sampler.policy(study)
    assert len(policy["lr"]) == 10 and len(policy["act"]) == 3
    assert len(policy["batch"]) == 10  # 16 values (16..256 step 16): binned
    low, high = policy["lr"][0][0]
    assert low == pytest.approx(1e-5) and high == pytest.approx(10**-4.6)


def test_ask_returns_distinct_configurations():
    study = run(small, Reinforce(seed=2), n_trials=4)
    points = [small_point(trial) for trial in study.ask(8)]
    assert len(set(points)) == 8
    # A second batch while the first is running avoids its points too (15 points in all).
    more = {small_point(trial) for trial in study.ask(7)}
    assert len(more) == 7 and not more & set(points)


def test_ask_on_floats_gives_distinct_bins():
    study = run(bowl_2d, Reinforce(seed=5, learning_rate=1.0), n_trials=30)
    batch = study.ask(8)
    points = [(t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", -5.0, 5.0)) for t in batch]
    bins = {(min(int((x + 5) // 1), 9), min(int((y + 5) // 1), 9)) for x, y in points}
    assert len(bins) == 8


def test_startup_trials_are_random_and_batches_average_the_updates():
    sampler = Reinforce(seed=4, n_startup_trials=10, batch_size=5, learning_rate=1.0)
    study = run(four_choices, sampler, n_trials=10)
    state = sampler.controller(study)
    assert state.n_applied == 0 and state.n_updates == 0 and len(state.losses) == 10
    study.optimize(four_choices, n_trials=12)
    state = sampler.controller(study)
    assert state.n_applied == 12 and state.n_updates == 2 and state.n_pending == 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", 1.5),
        ("learning_rate", 0.0),
        ("learning_rate", float("inf")),
        ("learning_rate", "0.1"),
        ("baseline_decay", 1.0),
        ("baseline_decay", -0.1),
        ("resolution", 1),
        ("resolution", 10.0),
        ("entropy_weight", -0.5),
        ("entropy_weight", float("nan")),
        ("n_startup_trials", -1),
        ("batch_size", 0),
        ("batch_size", True),
    ],
)
def test_bad_options_raise_config_error_naming_the_option(option, value):
    with pytest.raises(ConfigError) as error:
        Reinforce(**{option: value})
    assert error.value.field == option
