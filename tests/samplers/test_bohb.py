"""BOHB: random until a budget has enough observations, then a model of the largest such
budget; reproducible; better than random search with a pruner and without one."""

from __future__ import annotations

import math
import statistics

import pytest

import tunelab
from tests.samplers.objectives import assert_valid_mixed_run, bowl_2d, mixed, params_of, run
from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.samplers import BOHBSampler, RandomSampler, make_sampler
from tunelab.samplers.base import trial_rng


def multi_fidelity(trial, steps=9):
    """A tilted bowl whose reports approach its final value as steps grow, by a gap that
    depends on x, so that early steps rank configurations only roughly."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    final = (x - 1.3) ** 2 + 2 * (y + 0.7) ** 2
    gap = 4 * (1 + 0.5 * math.sin(3 * x))
    for step in range(1, steps + 1):
        trial.report(final + gap * (1 / step - 1 / steps), step)
        if trial.should_prune():
            raise TrialPruned()
    return final


def add(study, x, reports, state="COMPLETE"):
    """A trial at ``x`` (in [0, 1]) that reported ``reports`` (step -> value) and then
    finished in ``state`` (COMPLETE with its last report, PRUNED, FAIL) or is left RUNNING."""
    study.enqueue_trial({"x": x})
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    for step, value in reports.items():
        trial.report(value, step)
    if state == "COMPLETE":
        study.tell(trial, reports[max(reports)] if reports else x)
    elif state != "RUNNING":
        study.tell(trial, state=state)


def proposed_x(study, n=8):
    return [trial.suggest_float("x", 0.0, 1.0) for trial in study.ask(n)]


# Options ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", "7"),
        ("min_points_in_model", 0),
        ("min_points_in_model", 2.5),
        ("min_points_in_model", True),
        ("top_n_percent", 0),
        ("top_n_percent", 100),
        ("top_n_percent", "15"),
        ("n_samples", 0),
        ("n_samples", 64.0),
        ("random_fraction", -0.1),
        ("random_fraction", 1.5),
        ("random_fraction", "1/3"),
        ("bandwidth_factor", 0.0),
        ("bandwidth_factor", math.inf),
    ],
)
def test_a_bad_option_raises_a_config_error_naming_it(option, value):
    with pytest.raises(ConfigError, match=option) as caught:
        BOHBSampler(**{option: value})
    assert caught.value.field == option


def test_an_option_error_says_what_is_wanted_and_the_usual_value():
    with pytest.raises(ConfigError) as caught:
        BOHBSampler(top_n_percent=100)
    assert str(caught.value) == (
        "BOHB: top_n_percent=100 must be a number in (0, 100); the paper uses 15."
    )


def test_registered_as_bohb_with_the_papers_defaults():
    sampler = make_sampler({"name": "bohb", "n_samples": 32}, seed=5)
    assert isinstance(sampler, BOHBSampler) and sampler.seed == 5
    assert (sampler.min_points_in_model, sampler.top_n_percent, sampler.n_samples) == (None, 15, 32)
    assert (sampler.random_fraction, sampler.bandwidth_factor) == (1 / 3, 3)


# When the model is used, and at which budget ----------------------------------------------


def test_random_search_until_a_budget_has_n_min_plus_two_observations():
    # Two parameters: N_min = 3, so the fifth finished trial makes the first model.
    sampler = BOHBSampler(seed=4, random_fraction=0.0)
    study = tunelab.create_study(sampler=sampler)
    budgets = []
    for _ in range(8):
        budgets.append(sampler.model_budget(study))
        study.optimize(bowl_2d, n_trials=1)
    assert budgets == [None] * 5 + [0] * 3  # no reports: final values, at budget 0
    random = run(bowl_2d, RandomSampler(seed=4), n_trials=8)
    assert params_of(study)[:5] == params_of(random)[:5]
    assert all(a != b for a, b in zip(params_of(study)[5:], params_of(random)[5:]))


def test_min_points_in_model_sets_when_the_model_starts():
    sampler = BOHBSampler(seed=4, min_points_in_model=1)
    study = run(bowl_2d, sampler, n_trials=2)
    assert sampler.model_budget(study) is None
    study.optimize(bowl_2d, n_trials=1)
    assert sampler.model_budget(study) == 0


def test_the_model_budget_is_the_largest_with_enough_observations():
    # One parameter: N_min = 2, so a budget needs 4 observations.
    sampler = BOHBSampler(seed=0)
    study = tunelab.create_study(sampler=sampler)
    for x in (0.1, 0.2, 0.3, 0.4):
        add(study, x, {1: x}, state="PRUNED")
    assert sampler.model_budget(study) == 1
    for x in (0.5, 0.6):
        add(study, x, {1: x, 3: x}, state="PRUNED")
    add(study, 0.7, {1: 0.7, 3: 0.7, 9: 0.7})
    # A report past the budget counts there: the first step at or past 9 is 10.
    add(study, 0.8, {2: 0.8, 10: 0.8})
    assert sampler.model_budget(study) == 3  # 4 observations at 3, 2 at 9 and 1 at 10
    add(study, 0.9, {9: 0.9}, state="FAIL")  # failed trials do not count
    add(study, 0.95, {1: 0.95, 3: 0.95, 9: 0.95}, state="RUNNING")  # running ones do
    assert sampler.model_budget(study) == 3
    add(study, 0.05, {})  # completed without reporting: its value counts at every budget
    assert sampler.model_budget(study) == 9


def ranked_against_each_other(reach_last_budget):
    """Ten trials whose early reports favour small x and whose reports at step 9 favour large
    x; the first ``reach_last_budget`` of them (from large x down) got to step 9."""
    study = tunelab.create_study(sampler=BOHBSampler(seed=1, random_fraction=0.0))
    xs = [0.95 - 0.1 * i for i in range(10)]
    for i, x in enumerate(xs):
        if i < reach_last_budget:
            add(study, x, {1: x, 9: 1 - x})
        else:
            add(study, x, {1: x}, state="PRUNED")
    return study


def test_proposals_follow_the_ranking_at_the_model_budget():
    late = ranked_against_each_other(reach_last_budget=10)
    assert late.sampler.model_budget(late) == 9
    assert all(x > 0.5 for x in proposed_x(late)), proposed_x(late)
    # With 3 trials at step 9 (4 needed), the model falls back to step 1, where small x won.
    early = ranked_against_each_other(reach_last_budget=3)
    assert early.sampler.model_budget(early) == 1
    assert all(x < 0.5 for x in proposed_x(early)), proposed_x(early)


def test_a_diverged_trial_ranks_last():
    study = tunelab.create_study(sampler=BOHBSampler(seed=2, random_fraction=0.0))
    for x in (0.8, 0.85, 0.9, 0.95):
        add(study, x, {1: math.nan}, state="PRUNED")
    for x in (0.05, 0.1, 0.15, 0.2):
        add(study, x, {1: 1.0}, state="PRUNED")
    assert all(x < 0.5 for x in proposed_x(study)), proposed_x(study)


# Sampling --------------------------------------------------------------------------------


def test_conditional_parameters_are_drawn_at_random_outside_the_joint_space():
    sampler = BOHBSampler(seed=6)
    study = run(mixed, sampler, n_trials=30)
    assert_valid_mixed_run(study, sampler)
    for record in study.trials:
        if "depth" in record.params:
            unit = trial_rng(6, record.number, "depth").random()
            assert record.params["depth"] == record.distributions["depth"].from_unit(unit)


def test_random_fraction_one_is_random_search_and_the_default_mixes_both():
    always = run(bowl_2d, BOHBSampler(seed=3, random_fraction=1.0), n_trials=40)
    random = run(bowl_2d, RandomSampler(seed=3), n_trials=40)
    assert params_of(always) == params_of(random)
    mixed_in = run(bowl_2d, BOHBSampler(seed=3), n_trials=40)
    at_random = [a == b for a, b in zip(params_of(mixed_in)[5:], params_of(random)[5:])]
    # Measured: 15 of these 35 trials; about a third is expected.
    assert 6 <= sum(at_random) <= 18, sum(at_random)


def test_the_same_seed_and_history_give_the_same_proposals():
    straight = run(multi_fidelity, BOHBSampler(seed=5), n_trials=30, pruner="asha")
    resumed = run(multi_fidelity, BOHBSampler(seed=5), n_trials=18, pruner="asha")
    reloaded = tunelab.load_study(
        resumed.study_name, storage=resumed.storage, sampler=BOHBSampler(seed=5), pruner="asha"
    )
    reloaded.optimize(multi_fidelity, n_trials=12, catch=())
    assert params_of(reloaded) == params_of(straight)
    other = run(multi_fidelity, BOHBSampler(seed=6), n_trials=30, pruner="asha")
    assert params_of(other)[10:] != params_of(straight)[10:]


def test_a_batch_is_distinct_and_reproducible():
    def batch(seed):
        study = run(bowl_2d, BOHBSampler(seed=seed, random_fraction=0.0), n_trials=10)
        return [
            (t.suggest_float("x", -5.0, 5.0), t.suggest_float("y", -5.0, 5.0))
            for t in study.ask(8)
        ]

    first = batch(7)
    assert len(set(first)) == 8
    assert first == batch(7)


# Search quality ---------------------------------------------------------------------------


def median_best(objective, make_sampler, seeds=range(10), n_trials=60, **options):
    return statistics.median(
        run(objective, make_sampler(seed), n_trials, **options).best_value for seed in seeds
    )


def test_with_successive_halving_beats_random_search_with_it():
    bohb = median_best(multi_fidelity, lambda seed: BOHBSampler(seed=seed), pruner="asha")
    random = median_best(multi_fidelity, lambda seed: RandomSampler(seed=seed), pruner="asha")
    # Medians over seeds 0-9: 0.08 against 0.57; over seeds 10-19 up to 40-49 random search's
    # median was 2.7 to 4.8 times BOHB's (and BOHB found the better trial for 6 to 9 seeds of
    # each 10). Few trials complete under successive halving, so the best values are noisy.
    assert 2 * bohb < random, (bohb, random)


def test_with_hyperband_beats_random_search_with_it():
    bohb = median_best(multi_fidelity, lambda seed: BOHBSampler(seed=seed), pruner="hyperband")
    random = median_best(multi_fidelity, lambda seed: RandomSampler(seed=seed), pruner="hyperband")
    # Medians over seeds 0-9: 0.020 against 0.57; seeds 10-19: 0.015 against 0.73; seeds 20-29:
    # 0.012 against 0.60.
    assert 10 * bohb < random, (bohb, random)


def test_without_a_pruner_it_beats_random_search_on_final_values():
    bohb = median_best(bowl_2d, lambda seed: BOHBSampler(seed=seed), n_trials=40)
    random = median_best(bowl_2d, lambda seed: RandomSampler(seed=seed), n_trials=40)
    # Medians over seeds 0-9: 0.009 against 0.76; over seeds 10-19 up to 40-49 random
    # search's median was 22 to 75 times BOHB's.
    assert 10 * bohb < random, (bohb, random)
