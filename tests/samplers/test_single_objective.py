"""Samplers that model one objective refuse a multi-objective study before any trial starts,
naming ``directions``."""

from __future__ import annotations

import pytest

import tunelab
from tunelab.exceptions import ConfigError
from tunelab.samplers import (
    CmaEsSampler,
    GeneticSampler,
    ParticleSwarmSampler,
    ReinforceSampler,
    SimulatedAnnealingSampler,
    TabuSearchSampler,
)


@pytest.mark.parametrize(
    "sampler_class",
    [
        SimulatedAnnealingSampler,
        TabuSearchSampler,
        GeneticSampler,
        ParticleSwarmSampler,
        CmaEsSampler,
        ReinforceSampler,
    ],
)
def test_a_multi_objective_study_is_refused_naming_directions(sampler_class):
    two = ["minimize", "maximize"]
    study = tunelab.create_study(directions=two, sampler=sampler_class(seed=0))
    with pytest.raises(ConfigError, match="directions") as error:
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.0), n_trials=3)
    assert error.value.field == "directions"
    assert study.trials == []  # refused before a trial started
    with pytest.raises(ConfigError, match="directions"):
        study.ask()
