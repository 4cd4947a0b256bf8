"""Samplers and pruners pickle as their constructor call (for worker processes): the same
class, options and seed, none of the live state."""

from __future__ import annotations

import pickle

import pytest

import tunelab
from tunelab.pruners import PRUNERS, make_pruner
from tunelab.samplers import SAMPLERS, make_sampler

REQUIRED = {"percentile": {"percentile": 25.0}, "patience": {"patience": 3},
            "pbt": {"max_resource": 10}}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_comes_back_with_its_options_and_resolved_seed(name):
    sampler = make_sampler(name)  # unseeded: a random seed was drawn
    copy = pickle.loads(pickle.dumps(sampler))
    assert type(copy) is type(sampler)
    assert copy.seed == sampler.seed


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_every_pruner_comes_back_with_its_options(name):
    pruner = make_pruner({"name": name, **REQUIRED.get(name, {})})
    copy = pickle.loads(pickle.dumps(pruner))
    assert type(copy) is type(pruner)
    public = {k: v for k, v in vars(pruner).items() if not k.startswith("_")}
    assert {k: v for k, v in vars(copy).items() if not k.startswith("_")} == public


def test_live_state_is_left_behind_and_rebuilt_from_the_storage():
    study = tunelab.create_study(sampler={"name": "tpe", "seed": 3, "n_startup_trials": 2})
    study.optimize(lambda t: t.suggest_float("x", 0, 1) ** 2, n_trials=5)
    copy = pickle.loads(pickle.dumps(study.sampler))
    assert copy.n_startup_trials == 2 and copy._states == {}
    nested = make_pruner({"name": "patience", "patience": 2, "wrapped": "median"})
    assert type(pickle.loads(pickle.dumps(nested)).wrapped).__name__ == "MedianPruner"
