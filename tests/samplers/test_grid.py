"""Grid search: every point once, then stop; explicit or derived grids; conditional parameters."""

from __future__ import annotations

import itertools
import math

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.samplers import GridSampler
from tunelab.trial import TrialState


def points(study, *names):
    return [tuple(r.params.get(n) for n in names) for r in study.trials]


def units_only(trial):
    trial.suggest_int("units", 16, 256)
    return 0.0


def lr_and_units(trial):
    trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    trial.suggest_int("units", 16, 256)
    return 0.0


def test_explicit_grid_visits_every_point_once_and_stops_by_itself(storage):
    space = {"lr": [1e-3, 1e-2, 1e-1], "units": [32, 64]}
    study = tunelab.create_study(storage=storage, sampler=GridSampler(space))
    study.optimize(lr_and_units, n_trials=100)
    visited = points(study, "lr", "units")
    assert len(visited) == 6
    assert sorted(visited) == sorted(itertools.product(space["lr"], space["units"]))
    assert {r.state for r in study.trials} == {TrialState.COMPLETE}


def test_a_finished_grid_runs_nothing_more():
    study = tunelab.create_study(sampler=GridSampler({"units": [32, 64]}))
    study.optimize(units_only, n_trials=5)
    study.optimize(units_only, n_trials=5)
    assert len(study.trials) == 2


def test_grid_from_a_study_file_style_mapping():
    study = tunelab.create_study(sampler={"name": "grid", "search_space": {"units": [16, 32, 64]}})
    study.optimize(units_only)
    assert points(study, "units") == [(16,), (32,), (64,)]


def test_derived_grid_discretizes_floats_into_float_points():
    def objective(trial):
        trial.suggest_float("dropout", 0.0, 0.5)
        trial.suggest_float("lr", 1e-3, 1e-1, log=True)
        trial.suggest_int("layers", 1, 2)
        trial.suggest_categorical("act", ["relu", "tanh"])
        return 0.0

    study = tunelab.create_study(sampler={"name": "grid", "float_points": 3})
    study.optimize(objective, n_trials=1000)
    assert len(study.trials) == 3 * 3 * 2 * 2
    assert len(set(points(study, "dropout", "lr", "layers", "act"))) == 36
    assert sorted({r.params["dropout"] for r in study.trials}) == [0.0, 0.25, 0.5]
    assert sorted({r.params["lr"] for r in study.trials}) == pytest.approx([1e-3, 1e-2, 1e-1])


def test_derived_grid_enumerates_stepped_floats_in_full():
    study = tunelab.create_study(sampler={"name": "grid", "float_points": 2})
    study.optimize(lambda t: t.suggest_float("m", 0.0, 1.0, step=0.25), n_trials=50)
    assert sorted(r.params["m"] for r in study.trials) == [0.0, 0.25, 0.5, 0.75, 1.0]


def _model_and_depth(trial):
    if trial.suggest_categorical("model", ["linear", "tree"]) == "tree":
        trial.suggest_int("depth", 2, 8, step=2)
    return 0.0


@pytest.mark.parametrize(
    "sampler",
    [
        GridSampler({"model": ["linear", "tree"], "depth": [2, 4, 6, 8]}),
        GridSampler(),
    ],
    ids=["explicit", "derived"],
)
def test_conditional_parameters_do_not_multiply_branches_that_ignore_them(sampler):
    study = tunelab.create_study(sampler=sampler)
    study.optimize(_model_and_depth, n_trials=100)
    assert sorted(points(study, "model", "depth"), key=str) == sorted(
        [("linear", None), ("tree", 2), ("tree", 4), ("tree", 6), ("tree", 8)], key=str
    )


def test_a_parameter_outside_the_explicit_search_space_raises_config_error():
    study = tunelab.create_study(sampler=GridSampler({"lr": [0.1, 0.01]}))
    trial = study.ask()
    with pytest.raises(
        ConfigError, match=r"parameter 'units' is not in the grid's search_space \(lr\)"
    ):
        trial.suggest_int("units", 16, 256)


def test_a_grid_value_outside_the_declared_range_raises_config_error():
    trial = tunelab.create_study(sampler=GridSampler({"units": [8, 512]})).ask()
    with pytest.raises(ConfigError, match="grid value units=8 is outside the distribution"):
        trial.suggest_int("units", 16, 256)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"search_space": {"lr": []}}, r"search_space\['lr'\]=\[\] must be a non-empty list"),
        (
            {"search_space": {"act": "relu"}},
            r"search_space\['act'\]='relu' must be a non-empty list",
        ),
        ({"search_space": {"units": 64}}, "must be a non-empty list"),
        ({"float_points": 0}, "float_points=0 must be a positive integer"),
        ({"float_points": 2.5}, "float_points=2.5"),
    ],
)
def test_invalid_grid_options_raise_config_error(options, message):
    with pytest.raises(ConfigError, match=message):
        GridSampler(**options)


def test_shuffled_grid_is_reproducible_and_still_complete():
    space = {"a": [1, 2, 3], "b": ["x", "y", "z"]}

    def objective(trial):
        trial.suggest_int("a", 1, 3)
        trial.suggest_categorical("b", ["x", "y", "z"])
        return 0.0

    def order(seed):
        study = tunelab.create_study(sampler=GridSampler(space, shuffle=True, seed=seed))
        study.optimize(objective, n_trials=50)
        return points(study, "a", "b")

    assert order(3) == order(3)
    assert sorted(order(3)) == sorted(order(4)) == sorted(itertools.product(space["a"], space["b"]))
    assert order(3) != order(4)


def test_ask_n_hands_out_distinct_points():
    study = tunelab.create_study(sampler=GridSampler({"units": [16, 32, 64, 128]}))
    trials = study.ask(3)
    values = [t.suggest_int("units", 16, 256) for t in trials]
    assert sorted(values) == [16, 32, 64]
    for trial in trials:
        study.tell(trial, 0.0)
    study.optimize(units_only, n_trials=10)
    assert sorted(points(study, "units")) == [(16,), (32,), (64,), (128,)]


def test_a_resumed_grid_skips_points_already_in_storage(sqlite_url):
    space = {"units": [16, 32, 64, 128]}
    first = tunelab.create_study(name="g", storage=sqlite_url, sampler=GridSampler(space))
    first.optimize(units_only, n_trials=2)
    resumed = tunelab.load_study("g", sqlite_url, sampler=GridSampler(space))
    resumed.optimize(units_only, n_trials=10)
    assert points(resumed, "units") == [(16,), (32,), (64,), (128,)]


def test_failed_trials_cover_their_point():
    def objective(trial):
        if trial.suggest_int("units", 16, 64, step=16) == 32:
            raise RuntimeError("diverged")
        return 0.0

    study = tunelab.create_study(sampler=GridSampler())
    study.optimize(objective, n_trials=10)
    assert [r.params["units"] for r in study.trials] == [16, 32, 48, 64]
    assert study.trials[1].state is TrialState.FAIL


def test_grid_size_counts_the_points():
    sampler = GridSampler({"a": [1, 2, 3], "b": [True, False]})
    study = tunelab.create_study(sampler=sampler)
    assert sampler.grid_size(study) == math.prod([3, 2])


@pytest.mark.parametrize(
    ("grid", "suggest", "stored"),
    [
        ([-50, 0, 50], lambda t: t.suggest_float("x", -100, 100), [-50.0, 0.0, 50.0]),
        ([1.0, 2.0], lambda t: t.suggest_int("x", 0, 3), [1, 2]),
    ],
)
def test_grid_values_of_another_number_type_than_the_parameter_are_each_visited_once(
    grid, suggest, stored
):
    study = tunelab.create_study(sampler=GridSampler({"x": grid}))
    study.optimize(suggest, n_trials=10)  # stops by itself once the grid is done
    assert [r.params["x"] for r in study.trials] == stored
    assert [type(r.params["x"]) for r in study.trials] == [type(v) for v in stored]


def test_optunas_call_gives_the_seed_second():
    import tunelab as optuna

    space = {"units": [16, 32, 64], "act": ["relu", "tanh"]}
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(space, 0))
    study.optimize(lambda trial: trial.suggest_int("units", 16, 64) + len(
        trial.suggest_categorical("act", ["relu", "tanh"])), n_trials=20)
    assert len(study.trials) == 6
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 6
