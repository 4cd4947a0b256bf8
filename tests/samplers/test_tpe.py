"""TPE: reproducible, better than random search, every kind of parameter, batches spread out."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

import tunelab
from tests.samplers.objectives import params_of, run
from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.samplers import RandomSampler
from tunelab.samplers.tpe import (
    _ASKED,
    TPESampler,
    _choice_spreads,
    _Dim,
    _Parzen,
    default_gamma,
)
from tunelab.space import CategoricalDistribution
from tunelab.trial import TrialState

MODES = [False, True]
MODE_IDS = ["univariate", "multivariate"]


def mixed_space(trial):
    """Every kind of parameter, and one that exists only in one branch."""
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    momentum = trial.suggest_float("momentum", 0.0, 0.9, step=0.1)
    layers = trial.suggest_int("layers", 1, 8)
    units = trial.suggest_int("units", 1, 1024, log=True)
    batch = trial.suggest_int("batch", 16, 256, step=16)
    activation = trial.suggest_categorical("activation", ["relu", "gelu", None, True, 1])
    loss = (math.log10(lr) + 3) ** 2 + dropout + abs(momentum - 0.5) + abs(layers - 3)
    loss += abs(math.log2(units) - 6) + abs(batch - 64) / 64 + (activation != "gelu")
    if trial.suggest_categorical("optimizer", ["sgd", "adam"]) == "sgd":
        loss += abs(trial.suggest_float("nesterov_weight", 0.0, 1.0) - 0.3)
    else:
        loss += 0.5
    return loss


def branin(trial):
    """Branin-Hoo, shifted so that its minimum is 0."""
    x = trial.suggest_float("x", -5.0, 10.0)
    y = trial.suggest_float("y", 0.0, 15.0)
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x * x + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10 - 0.397887


def valley(trial):
    """A narrow diagonal valley: x and y must move together."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    return 10 * (x - y) ** 2 + 0.1 * (x + y - 2) ** 2


def median_best(objective, make_sampler, seeds=range(5), n_trials=60, **options):
    return statistics.median(
        run(objective, make_sampler(seed), n_trials, **options).best_value for seed in seeds
    )


# Reproducibility ----------------------------------------------------------------------


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_same_seed_gives_the_same_parameters_and_different_seeds_differ(multivariate):
    first = run(mixed_space, TPESampler(seed=3, multivariate=multivariate))
    second = run(mixed_space, TPESampler(seed=3, multivariate=multivariate))
    other = run(mixed_space, TPESampler(seed=4, multivariate=multivariate))
    assert params_of(first) == params_of(second)
    assert params_of(first)[12:] != params_of(other)[12:]  # after startup as well


def test_same_seed_on_sqlite_gives_the_same_parameters_as_in_memory(sqlite_url):
    in_memory = run(mixed_space, TPESampler(seed=8), n_trials=20)
    on_disk = run(mixed_space, TPESampler(seed=8), n_trials=20, storage=sqlite_url)
    assert params_of(on_disk) == params_of(in_memory)


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_a_fresh_sampler_on_the_same_history_proposes_what_the_running_one_does(multivariate):
    straight = run(mixed_space, TPESampler(seed=5, multivariate=multivariate), n_trials=30)
    resumed = run(mixed_space, TPESampler(seed=5, multivariate=multivariate), n_trials=18)
    reloaded = tunelab.load_study(
        resumed.study_name,
        storage=resumed.storage,
        sampler=TPESampler(seed=5, multivariate=multivariate),
    )
    reloaded.optimize(mixed_space, n_trials=12, catch=())
    assert params_of(reloaded) == params_of(straight)


def test_startup_trials_are_the_random_samplers_trials():
    tpe = run(mixed_space, TPESampler(seed=2, n_startup_trials=6), n_trials=10)
    random = run(mixed_space, RandomSampler(seed=2), n_trials=10)
    assert params_of(tpe)[:6] == params_of(random)[:6]
    assert params_of(tpe)[6:] != params_of(random)[6:]


# Search quality -------------------------------------------------------------------------


def test_beats_random_search_on_branin():
    tpe = median_best(branin, lambda seed: TPESampler(seed=seed))
    random = median_best(branin, lambda seed: RandomSampler(seed=seed))
    # Measured over seeds 0-4: about 0.09 against 1.4 (and 0.10 against 1.1 over 20 seeds).
    assert 4 * tpe < random, (tpe, random)


def test_multivariate_beats_random_search_on_a_correlated_valley():
    seeds = range(10)
    tpe = median_best(valley, lambda seed: TPESampler(seed=seed, multivariate=True), seeds)
    random = median_best(valley, lambda seed: RandomSampler(seed=seed), seeds)
    # Medians over seeds 0-9: 0.29 against 0.80; over seeds 10-19, 20-29 and 30-39 random
    # search's median is 3.7, 8.4 and 3.2 times TPE's.
    assert 2 * tpe < random, (tpe, random)


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_the_clearly_best_category_dominates_late_trials(multivariate):
    cost = {"sgd": 1.0, "adam": 0.0, "rmsprop": 0.8, "adagrad": 1.2, None: 1.5}

    def objective(trial):
        optimizer = trial.suggest_categorical("optimizer", list(cost))
        return cost[optimizer] + trial.suggest_float("x", -1.0, 1.0) ** 2

    for seed in range(3):
        study = run(objective, TPESampler(seed=seed, multivariate=multivariate), n_trials=50)
        late = [record.params["optimizer"] for record in study.trials[30:]]
        # Random search would pick it 4 times in 20; univariate TPE picked it 14 or 15 times,
        # joint TPE (whose categorical kernels spread smoothing over the other choices, and
        # which must also match x in the same kernel) 10 to 12 times over seeds 0-2.
        assert late.count("adam") >= (7 if multivariate else 14), (seed, late)


def test_maximize_is_minimize_of_the_negated_objective():
    def score(trial):
        return -branin(trial)

    maximized = run(score, TPESampler(seed=6), n_trials=40, direction="maximize")
    minimized = run(branin, TPESampler(seed=6), n_trials=40)
    assert params_of(maximized) == params_of(minimized)
    values = [record.value for record in maximized.trials]
    assert max(values[10:]) > max(values[:10])  # the model improves on the random start
    random = median_best(score, lambda seed: RandomSampler(seed=seed), direction="maximize")
    tpe = median_best(score, lambda seed: TPESampler(seed=seed), direction="maximize")
    assert tpe > random / 4, (tpe, random)  # both negative: best is upward, near 0


# Search spaces --------------------------------------------------------------------------


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_every_kind_of_parameter_stays_in_its_distribution(multivariate):
    study = run(mixed_space, TPESampler(seed=1, multivariate=multivariate), n_trials=40)
    for record in study.trials:
        assert record.state is TrialState.COMPLETE
        for name, value in record.params.items():
            assert record.distributions[name].contains(value), (name, value)
        assert type(record.params["layers"]) is int and type(record.params["units"]) is int
        assert type(record.params["lr"]) is float
        assert ("nesterov_weight" in record.params) == (record.params["optimizer"] == "sgd")
    assert {record.params["optimizer"] for record in study.trials} == {"sgd", "adam"}


def test_a_parameter_first_met_after_startup_is_sampled_at_random():
    def objective(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        if trial.number >= 15:
            x += trial.suggest_int("late", 0, 10)
        return x

    study = run(objective, TPESampler(seed=0, n_startup_trials=5), n_trials=20)
    assert all(0 <= record.params.get("late", 0) <= 10 for record in study.trials)


def test_pruned_trials_count_as_bad_and_failed_trials_are_ignored():
    def objective(trial):
        x = trial.suggest_float("x", -3.0, 3.0)
        if trial.number % 7 == 3:
            raise ValueError("a crash")
        if x > 2.0:
            trial.report(100.0, step=0)
            raise TrialPruned()
        return (x - 1.0) ** 2

    study = tunelab.create_study(sampler=TPESampler(seed=0))
    study.optimize(objective, n_trials=60, catch=(ValueError,))
    states = {record.state for record in study.trials}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    late = [record.params["x"] for record in study.trials[30:]]
    # The pruned region is avoided: 3 of these 30 trials went there; with PRUNED trials left
    # out of the model, nothing marks it as bad and about 29 of 30 did.
    assert sum(x > 2.0 for x in late) <= 6
    assert study.best_value < 0.05


# The categorical model ------------------------------------------------------------------

CHOICES = ["a", "b", "c", "d"]
CHOICE_COST = {"a": 0.0, "b": 0.1, "c": 1.0, "d": 1.1}  # a and b alike, c and d alike


def spreads_after(history):
    """The spread of each choice's smoothing, after ``history`` ((choice, is good) pairs)."""
    dims = [_Dim(CategoricalDistribution(CHOICES))]
    good = np.array([[CHOICES.index(c)] for c, is_good in history if is_good], dtype=float)
    bad = np.array([[CHOICES.index(c)] for c, is_good in history if not is_good], dtype=float)
    return _choice_spreads(dims, good.reshape(-1, 1), bad.reshape(-1, 1))[0]


def test_choices_that_land_in_the_good_group_alike_are_grouped():
    history = [("a", True), ("a", True), ("a", False), ("b", True), ("b", True), ("b", False)]
    history += [("c", False)] * 4 + [("d", False)] * 4
    spread = spreads_after(history)
    assert spread.sum(axis=1) == pytest.approx([2.0] * 4)  # twice the even spread's mass
    a, b, c, d = range(4)
    assert spread[a, b] > 10 * spread[a, c] and spread[a, b] > 10 * spread[a, d]
    assert spread[c, d] > 10 * spread[c, a] and spread[c, d] > 10 * spread[c, b]
    assert spread[a, c] == pytest.approx(spread[a, d])  # c and d are alike to a


def test_an_unseen_choice_is_as_alike_as_the_overall_good_rate_says():
    spread = spreads_after([("a", True), ("b", False), ("c", False)])
    # Good rates (with one pseudo-observation at the overall 1/3): a 2/3, b and c 1/6, d 1/3.
    a, b, c, d = range(4)
    assert spread[d, b] == pytest.approx(spread[d, c]) and spread[d, b] > spread[d, a]
    assert spread[b, c] > spread[b, d] > spread[b, a]


def test_without_similarity_the_smoothing_spreads_evenly_as_in_optuna():
    dims = [_Dim(CategoricalDistribution(CHOICES))]
    parzen = _Parzen(dims, np.array([[0.0], [0.0], [2.0]]), prior_weight=1.0)
    table = np.exp(parzen.kernels[0].log_mass)
    # Observation kernels: weight 1 on the choice plus 1/4 on every choice, then normalized.
    assert table[0] == pytest.approx([1.25 / 2, 0.25 / 2, 0.25 / 2, 0.25 / 2])
    assert table[2] == pytest.approx([0.25 / 2, 0.25 / 2, 1.25 / 2, 0.25 / 2])
    assert table[-1] == pytest.approx([0.25] * 4)  # the prior


def test_after_a_history_where_a_choice_is_good_it_is_sampled_most():
    history = [("a", True)] * 3 + [("b", False), ("c", False), ("d", False)] * 3
    dims = [_Dim(CategoricalDistribution(CHOICES))]
    good = np.array([[0.0]] * 3)

    def counts(spreads):
        below = _Parzen(dims, good, prior_weight=1.0, spreads=spreads)
        drawn = below.sample(np.random.default_rng(0), 2000)[:, 0].astype(int)
        return np.bincount(drawn, minlength=4)

    alike, even = counts({0: spreads_after(history)}), counts(None)
    # Measured: a in 1,627 of 2,000 draws (b, c, d 134, 119, 120); evenly spread, 1,078. No
    # other choice did as well as a, so its observations keep their smoothing near it.
    assert alike[0] > 0.75 * 2000 and alike[0] > even[0] + 300, (alike, even)
    assert even[0] > 0.45 * 2000 and max(even[1:]) < even[0] / 2, even


def cheap_alike(trial):
    """One choice and a float; a and b are alike and best, c and d alike and worse."""
    choice = trial.suggest_categorical("choice", CHOICES)
    return CHOICE_COST[choice] + (trial.suggest_float("x", 0.0, 1.0) - 0.5) ** 2


@pytest.mark.parametrize("similarity", [True, False], ids=["similarity", "even"])
def test_the_good_choices_dominate_late_trials(similarity):
    late = []
    for seed in range(3):
        sampler = TPESampler(seed=seed, categorical_similarity=similarity)
        study = run(cheap_alike, sampler, n_trials=50)
        late += [record.params["choice"] for record in study.trials[30:]]
    # Measured over seeds 0-2 (60 late trials): a or b in 41 with similarity, 44 without;
    # random search would pick them in about 30.
    assert late.count("a") + late.count("b") >= 36, late


def test_similarity_learns_which_choices_are_alike_from_the_history():
    half = lambda n: n // 2  # noqa: E731 - a good group large enough to hold a and b
    study = run(cheap_alike, RandomSampler(seed=0), n_trials=40)
    sampler = TPESampler(seed=0, gamma=half)
    state = sampler._state(study)
    sampler._sync(study, state, key=_ASKED, force=True)
    dim = _Dim(CategoricalDistribution(CHOICES))
    column = state.column((("choice", dim.dist),), [dim], maximize=False)
    good, _, bad = sampler._split(state, column, maximize=False)
    spread = _choice_spreads([dim], good, bad)[0]
    a, b, c, d = range(4)
    assert spread[a, b] > spread[a, c] and spread[a, b] > spread[a, d]
    assert spread[c, d] > spread[c, a] and spread[c, d] > spread[c, b]


def small_grid(trial):
    """Twelve configurations, all discrete."""
    return CHOICE_COST[trial.suggest_categorical("choice", CHOICES)] + trial.suggest_int("n", 0, 2)


def test_a_discrete_space_is_not_evaluated_twice_until_it_is_used_up():
    for seed in range(3):
        study = run(small_grid, TPESampler(seed=seed, n_startup_trials=3), n_trials=12)
        configurations = [(r.params["choice"], r.params["n"]) for r in study.trials]
        start = configurations[:3]
        assert len(set(configurations)) == 12 - (len(start) - len(set(start))), configurations


def test_repeats_are_allowed_when_asked_for():
    repeats = []
    for seed in range(3):
        sampler = TPESampler(seed=seed, n_startup_trials=3, avoid_repeats=False)
        study = run(small_grid, sampler, n_trials=12)
        repeats.append(12 - len({(r.params["choice"], r.params["n"]) for r in study.trials}))
    # Measured over seeds 0-2: 4, 4 and 3 repeated configurations of the 12.
    assert sum(repeats) >= 5, repeats


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_the_categorical_model_is_reproducible(multivariate):
    def grid_and_float(trial):
        return small_grid(trial) + trial.suggest_float("x", 0.0, 1.0)

    first = run(grid_and_float, TPESampler(seed=2, multivariate=multivariate), n_trials=30)
    second = run(grid_and_float, TPESampler(seed=2, multivariate=multivariate), n_trials=30)
    assert params_of(first) == params_of(second)


# Batches and the constant liar --------------------------------------------------------


def grid_objective(trial):
    return (trial.suggest_int("x", 0, 20) - 7) ** 2 + (trial.suggest_int("y", 0, 20) - 12) ** 2


def ask_batch(sampler, n=8):
    study = run(grid_objective, sampler, n_trials=20)
    trials = study.ask(n)
    return [(trial.suggest_int("x", 0, 20), trial.suggest_int("y", 0, 20)) for trial in trials]


@pytest.mark.parametrize("multivariate", MODES, ids=MODE_IDS)
def test_ask_batch_after_startup_gives_distinct_configurations(multivariate):
    for seed in range(3):
        configurations = ask_batch(TPESampler(seed=seed, multivariate=multivariate))
        assert len(set(configurations)) == 8, configurations


def test_without_the_constant_liar_a_batch_repeats_itself():
    repeated = [
        8 - len(set(ask_batch(TPESampler(seed=seed, constant_liar=False)))) for seed in range(10)
    ]
    assert sum(repeated) >= 5, repeated  # measured: 10 repeats over seeds 0-9 (0 to 2 each)


def test_a_batch_is_reproducible():
    assert ask_batch(TPESampler(seed=9)) == ask_batch(TPESampler(seed=9))


# Options ----------------------------------------------------------------------------------


def test_default_gamma_takes_ten_percent_up_to_25():
    sizes = [default_gamma(n) for n in (0, 1, 10, 11, 100, 250, 251, 10_000)]
    assert sizes == [0, 1, 1, 2, 10, 25, 25, 25]


def test_a_custom_gamma_is_used():
    calls = []

    def gamma(n):
        calls.append(n)
        return min(n, 3)

    run(branin, TPESampler(seed=0, gamma=gamma, n_startup_trials=3), n_trials=8)
    assert calls[-1] > 3


def good_weights(sampler, study):
    """The good observations of x (by value) and their weights, as the sampler splits them."""
    state = sampler._state(study)
    sampler._sync(study, state, key=_ASKED, force=True)
    dim = _Dim(study.trials[0].distributions["x"])
    column = state.column((("x", dim.dist),), [dim], maximize=False)
    good, weights, _ = sampler._split(state, column, maximize=False)
    return {round(dim.decode(u), 6): w for u, w in zip(good[:, 0], weights)}


def test_good_observations_weigh_by_their_improvement_on_the_threshold():
    study = tunelab.create_study(sampler=RandomSampler(seed=0))
    for value in range(21):  # 21 trials: gamma keeps the best 3, x = 0, 1 and 2
        study.enqueue_trial({"x": float(value)})
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 30.0), n_trials=21)
    assert good_weights(TPESampler(seed=0), study) == pytest.approx({0.0: 1.5, 1.0: 1.0, 2.0: 0.5})
    flat = TPESampler(seed=0, improvement_weights=False)
    assert good_weights(flat, study) == {0.0: 1.0, 1.0: 1.0, 2.0: 1.0}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("seed", "7"),
        ("seed", 1.5),
        ("n_startup_trials", -1),
        ("n_startup_trials", 2.0),
        ("n_ei_candidates", 0),
        ("n_ei_candidates", True),
        ("gamma", 0.25),
        ("gamma", lambda n: -1),
        ("gamma", lambda n: n / 10),
        ("gamma", lambda: 3),
        ("prior_weight", 0.0),
        ("prior_weight", math.inf),
        ("prior_weight", "1"),
        ("multivariate", "yes"),
        ("constant_liar", 1),
        ("improvement_weights", "no"),
        ("categorical_similarity", 1),
        ("avoid_repeats", "yes"),
    ],
)
def test_a_bad_option_raises_a_config_error_naming_it(option, value):
    with pytest.raises(ConfigError, match=option) as caught:
        TPESampler(**{option: value})
    assert caught.value.field == option




# Optuna's arguments ---------------------------------------------------------------------


def test_optunas_arguments_at_their_defaults_give_tunelabs_tpe_without_a_warning(recwarn):
    import tunelab as optuna

    sampler = optuna.samplers.TPESampler(
        consider_prior=True, prior_weight=None, consider_magic_clip=True,
        consider_endpoints=False, n_startup_trials=5, n_ei_candidates=24, gamma=None,
        weights=None, seed=0, multivariate=None, group=False,
        warn_independent_sampling=False, constant_liar=True, constraints_func=None,
    )
    assert (sampler.multivariate, sampler.prior_weight) == (True, 1.0)
    same = params_of(run(branin, TPESampler(seed=0, n_startup_trials=5), n_trials=12))
    assert params_of(run(branin, sampler, n_trials=12)) == same
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize(
    ("option", "value"),
    [("consider_prior", False), ("consider_magic_clip", False), ("consider_endpoints", True),
     ("group", True)],
)
def test_a_model_switch_tpe_cannot_turn_warns_naming_it(option, value):
    with pytest.warns(UserWarning, match=f"{option}={value!r} is ignored"):
        TPESampler(seed=0, **{option: value})


def test_group_needs_the_multivariate_model():
    with pytest.raises(ConfigError, match="group=True") as caught:
        TPESampler(group=True, multivariate=False)
    assert caught.value.field == "group"


def test_a_weights_function_replaces_the_improvement_weights():
    flat = params_of(run(branin, TPESampler(seed=0, improvement_weights=False), n_trials=20))
    ones = TPESampler(seed=0, weights=lambda n: [1.0] * n)
    assert params_of(run(branin, ones, n_trials=20)) == flat
    ramp = TPESampler(seed=0, weights=lambda n: list(range(1, n + 1)))
    assert params_of(run(branin, ramp, n_trials=20)) != flat


def test_weights_that_do_not_fit_raise_a_config_error_naming_weights():
    sampler = TPESampler(seed=0, n_startup_trials=2, weights=lambda n: [1.0])
    with pytest.raises(ConfigError, match="weights") as caught:
        run(branin, sampler, n_trials=4)
    assert caught.value.field == "weights"


# Constraints ------------------------------------------------------------------------------


def above_five(record):
    return [5.0 - record.params["x"]]  # feasible where x >= 5


def test_the_good_group_holds_the_best_feasible_trials():
    sampler = TPESampler(seed=0, n_startup_trials=100, constraints_func=above_five)
    study = tunelab.create_study(sampler=sampler)
    for value in range(21):
        study.enqueue_trial({"x": float(value)})
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 30.0), n_trials=21)
    # gamma(21) = 3: x = 5, 6 and 7, the best of those with x >= 5, weighed as if the
    # infeasible x < 5 had never run.
    assert good_weights(sampler, study) == pytest.approx({5.0: 1.5, 6.0: 1.0, 7.0: 0.5})
    assert study.best_value == 5.0


def test_too_few_feasible_trials_are_completed_by_the_least_violating():
    sampler = TPESampler(seed=0, n_startup_trials=100, constraints_func=above_five)
    study = tunelab.create_study(sampler=sampler)
    for value in [0.0, 1.0, 2.0, 3.0, 4.0, 9.0] + [-1.0] * 15:
        study.enqueue_trial({"x": value})
    study.optimize(lambda trial: trial.suggest_float("x", -1.0, 30.0), n_trials=21)
    # gamma(21) = 3: the one feasible trial, then x = 4 and 3, which violate least; with a
    # single feasible value there is no improvement to weigh by.
    assert good_weights(sampler, study) == {9.0: 1.0, 4.0: 1.0, 3.0: 1.0}


def disc(trial):
    """The smallest x^2 + y^2 subject to x + y >= 1 is 0.5, at x = y = 0.5."""
    x, y = trial.suggest_float("x", -3.0, 3.0), trial.suggest_float("y", -3.0, 3.0)
    return x * x + y * y


def outside_the_line(record):
    return [1.0 - record.params["x"] - record.params["y"]]


def test_constraints_steer_the_search_to_where_they_hold():
    def feasible_count(constraints_func):
        count = 0
        for seed in range(3):
            sampler = TPESampler(seed=seed, constraints_func=constraints_func)
            study = run(disc, sampler, n_trials=40)
            count += sum(outside_the_line(t)[0] <= 0 for t in study.trials[10:])
        return count

    assert feasible_count(outside_the_line) > 1.3 * feasible_count(None)


def test_constraints_set_by_the_objective_count_as_well():
    def constrained(trial):
        value = disc(trial)
        trial.set_constraints(outside_the_line(trial))
        return value

    study = run(constrained, TPESampler(seed=0), n_trials=40)
    assert outside_the_line(study.best_trial)[0] <= 0
    told = run(disc, TPESampler(seed=0, constraints_func=outside_the_line), n_trials=40)
    assert params_of(study) == params_of(told)
