"""CMA-ES: reproducible, better than random search on a smooth bowl, whole generations from
ask(P), mixed, discrete and conditional spaces, IPOP restarts, the optional extra and
validated options."""

from __future__ import annotations

import statistics
import sys

import pytest

import tunelab
from tests.samplers.objectives import (
    RecordingSampler,
    assert_valid_mixed_run,
    bowl_2d,
    bowl_4d,
    mixed,
    params_of,
    run,
    small,
    small_point,
)
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.samplers import RandomSampler
from tunelab.samplers.cma import CmaEsSampler as Cma
from tunelab.trial import TrialState


def test_beats_random_search_on_a_smooth_4d_bowl():
    # At 100 trials with the default population (7 for 4 parameters), over seeds 0-19 taken
    # five at a time, random search's median best value is 18 to 93 times CMA-ES's.
    seeds = range(5)
    cma = [run(bowl_4d, Cma(seed=s), 100).best_value for s in seeds]
    randoms = [run(bowl_4d, RandomSampler(seed=s), 100).best_value for s in seeds]
    assert 5 * statistics.median(cma) < statistics.median(randoms), (cma, randoms)


@pytest.mark.parametrize("with_margin", [True, False])
def test_mixed_space_with_a_conditional_parameter(with_margin):
    sampler = Cma(seed=0, population_size=8, with_margin=with_margin)
    study = run(mixed, sampler, n_trials=60)
    assert_valid_mixed_run(study, sampler)
    later = study.trials[8:]
    assert len({r.params["act"] for r in later}) >= 2
    assert len({r.params["batch"] for r in later}) >= 3
    # The search concentrates: the last two generations are better than the first.
    values = [r.value for r in study.trials]
    assert statistics.median(values[-16:]) < statistics.median(values[:8])
    assert sampler.search_state(study).generations >= 6


def test_ints_with_a_step_stay_on_their_grid():
    def objective(trial):
        a = trial.suggest_int("a", 3, 63, step=4)
        b = trial.suggest_float("b", 0.0, 1.0, step=0.25)
        c = trial.suggest_int("c", 1, 1000, log=True)
        return (a - 20) ** 2 + (b - 0.5) ** 2 + abs(c - 30)

    study = run(objective, Cma(seed=1), n_trials=50)
    for record in study.trials:
        assert type(record.params["a"]) is int and (record.params["a"] - 3) % 4 == 0
        assert record.params["b"] in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert type(record.params["c"]) is int and 1 <= record.params["c"] <= 1000
    assert study.best_params["a"] in (19, 23)


def test_a_generation_is_distinct_in_a_small_discrete_space():
    study = run(small, Cma(seed=2, population_size=6), n_trials=6)
    points = [small_point(trial) for trial in study.ask(6)]
    assert len(set(points)) == 6
    # Asking beyond the generation in progress still gives valid points.
    for trial in study.ask(3):
        n, c = small_point(trial)
        assert 0 <= n <= 4 and c in ("a", "b", "c")


def test_failed_and_pruned_trials_still_complete_a_generation():
    def objective(trial):
        value = bowl_2d(trial)
        if trial.number % 4 == 1:
            raise tunelab.TrialPruned()
        if trial.number % 4 == 3:
            raise RuntimeError("boom")
        return value

    sampler = Cma(seed=5, population_size=4)
    study = tunelab.create_study(sampler=sampler)
    study.optimize(objective, n_trials=40, catch=(RuntimeError,))
    states = {r.state for r in study.trials}
    assert {TrialState.PRUNED, TrialState.FAIL, TrialState.COMPLETE} <= states
    assert sampler.search_state(study).generations == 10
    assert study.best_value < 1.0


def test_startup_trials_are_random_then_the_search_starts_from_the_best():
    sampler = Cma(seed=0, n_startup_trials=5, population_size=6)
    study = run(bowl_2d, sampler, n_trials=17)
    state = sampler.search_state(study)
    assert state.start == 17 and state.generations == 2


def flat(trial):
    trial.suggest_float("x", -1.0, 1.0)
    trial.suggest_float("y", -1.0, 1.0)
    return 1.0


def test_ipop_restarts_grow_the_population_when_the_values_stall():
    sampler = Cma(seed=0, population_size=4, restart="ipop", inc_popsize=2)
    study = run(flat, sampler, n_trials=150)
    state = sampler.search_state(study)
    assert state.restart >= 1
    assert state.population_size == 4 * 2**state.restart
    again = Cma(seed=0, population_size=4, restart="ipop", inc_popsize=2)
    assert params_of(run(flat, again, n_trials=150)) == params_of(study)
    # Without restarts the stalled search goes on with the same population.
    plain = Cma(seed=0, population_size=4)
    state = plain.search_state(run(flat, plain, n_trials=150))
    assert state.restart == 0 and state.population_size == 4


def test_missing_cmaes_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cmaes", None)
    with pytest.raises(MissingExtraError) as info:
        Cma(seed=0)
    assert "tunelab[cmaes]" in str(info.value) and "CMA-ES" in str(info.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"sigma0": 0}, "sigma0"),
        ({"sigma0": 1.5}, "sigma0"),
        ({"sigma0": "big"}, "sigma0"),
        ({"population_size": 1}, "population_size"),
        ({"population_size": 4.0}, "population_size"),
        ({"n_startup_trials": -1}, "n_startup_trials"),
        ({"restart": "bipop"}, "restart"),
        ({"inc_popsize": 1}, "inc_popsize"),
        ({"with_margin": "yes"}, "with_margin"),
        ({"seed": "zero"}, "seed"),
    ],
)
def test_bad_options_name_their_field(options, field):
    with pytest.raises(ConfigError) as info:
        Cma(**options)
    assert info.value.field == field


def test_a_fresh_sampler_resumes_the_same_search_from_the_history():
    study = run(bowl_2d, Cma(seed=6, population_size=5), n_trials=23)
    resumed = Cma(seed=6, population_size=5)
    study.sampler = resumed
    study.optimize(bowl_2d, n_trials=12)
    assert params_of(study) == params_of(run(bowl_2d, Cma(seed=6, population_size=5), 35))


# Optuna's arguments ---------------------------------------------------------------------


def test_optunas_names_of_the_options_set_tunelabs():
    import tunelab as optuna

    sampler = optuna.samplers.CmaEsSampler(
        x0={"x": 1.0}, sigma0=None, n_startup_trials=1, seed=0, restart_strategy="ipop",
        popsize=6, inc_popsize=-1, with_margin=False, warn_independent_sampling=True,
    )
    assert (sampler.sigma0, sampler.population_size, sampler.restart) == (0.2, 6, "ipop")
    assert (sampler.inc_popsize, sampler.with_margin, sampler.x0) == (2, False, {"x": 1.0})


def test_the_search_starts_from_x0_and_the_centre_for_what_it_leaves_out():
    sampler = Cma(seed=0, x0={"x": 4.0}, sigma0=0.01, population_size=6)
    study = run(bowl_2d, sampler, n_trials=7)
    for trial in study.trials[1:]:  # the first trial, with no space known yet, is random
        assert abs(trial.params["x"] - 4.0) < 0.5 and abs(trial.params["y"]) < 0.5


def test_an_x0_outside_the_range_is_refused_naming_x0():
    with pytest.raises(ConfigError, match=r"x0\['x'\]=9.0") as info:
        run(bowl_2d, Cma(seed=0, x0={"x": 9.0}), n_trials=2)
    assert info.value.field == "x0"


def test_start_up_trials_come_from_the_independent_sampler_which_sees_every_trial():
    independent = RecordingSampler(seed=1)
    sampler = Cma(seed=0, n_startup_trials=3, population_size=4, independent_sampler=independent)
    study = run(bowl_2d, sampler, n_trials=11)
    assert independent.independent() == {(n, name) for n in range(3) for name in ("x", "y")}
    for hook in ("before", "after"):
        assert [c for c in independent.calls if c[0] == hook] == [(hook, n) for n in range(11)]
    assert study.trials[3].params != study.trials[0].params


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"restart_strategy": "bipop"}, "restart_strategy='bipop'"),
        ({"consider_pruned_trials": True}, "consider_pruned_trials=True"),
        ({"use_separable_cma": True}, "use_separable_cma=True"),
        ({"lr_adapt": True}, "lr_adapt=True"),
        ({"source_trials": []}, "source_trials="),
    ],
)
def test_a_variant_cma_es_does_not_run_here_warns_naming_it(options, named):
    with pytest.warns(UserWarning, match=named):
        sampler = Cma(seed=0, **options)
    assert sampler.restart is None


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"population_size": 5, "popsize": 6}, "popsize"),
        ({"restart_strategy": "random"}, "restart_strategy"),
        ({"x0": [1.0]}, "x0"),
        ({"independent_sampler": "random"}, "independent_sampler"),
        ({"warn_independent_sampling": "no"}, "warn_independent_sampling"),
    ],
)
def test_bad_optuna_options_name_their_field(options, field):
    with pytest.raises(ConfigError) as info:
        Cma(**options)
    assert info.value.field == field
