"""The sampler suite runs on every built-in sampler, and on a sampler written here, as a user
would write one."""

from __future__ import annotations

from typing import Any

import pytest

import tunelab
from tunelab.exceptions import ConfigError, MissingExtraError
from tunelab.samplers import SAMPLERS, BaseSampler, make_sampler
from tunelab.samplers.base import trial_rng
from tunelab.testing import SamplerContract

SEED_FREE = {"grid"}
"""Built-in samplers whose trials do not depend on the seed: a grid is visited in order."""


@pytest.fixture(params=sorted(SAMPLERS))
def sampler_name(request: pytest.FixtureRequest) -> str:
    try:
        make_sampler(request.param, seed=0)
    except MissingExtraError as missing:
        pytest.skip(str(missing))
    return request.param


class TestBuiltInSamplers(SamplerContract):
    @pytest.fixture
    def sampler_factory(self, sampler_name: str):
        return lambda seed: make_sampler(sampler_name, seed=seed)

    @pytest.fixture
    def seed_changes_trials(self, sampler_name: str) -> bool:
        return sampler_name not in SEED_FREE


class TestOptunaNamedSamplers(SamplerContract):
    """The samplers that only Optuna's names reach (no study-file name of their own)."""

    @pytest.fixture(params=["BruteForceSampler", "PartialFixedSampler"])
    def sampler_factory(self, request: pytest.FixtureRequest):
        samplers = tunelab.samplers
        if request.param == "BruteForceSampler":
            return lambda seed: samplers.BruteForceSampler(seed=seed)
        return lambda seed: samplers.PartialFixedSampler(
            {"offset": 1}, samplers.TPESampler(seed=seed)
        )


class NearBestSampler(BaseSampler):
    """A small local search: after a few random trials, each parameter is drawn near the best
    trial's value, in the unit mapping of its distribution."""

    def __init__(self, seed: int, n_startup_trials: int = 5, width: float = 0.1) -> None:
        self.seed, self.n_startup_trials, self.width = seed, n_startup_trials, width

    def is_exhausted(self, study) -> bool:
        if len(study.directions) != 1:
            raise ConfigError(
                "NearBestSampler follows one objective; give create_study a single direction.",
                field="directions",
            )
        return False

    def sample_independent(self, study, trial, name, distribution) -> Any:
        rng = trial_rng(self.seed, trial.number, name)
        completed = study.get_trials([tunelab.TrialState.COMPLETE])
        best = study.best_trial.params if len(completed) >= self.n_startup_trials else {}
        if name not in best:
            return distribution.from_unit(rng.random())
        centre = distribution.to_unit(best[name])
        return distribution.from_unit(min(max(rng.gauss(centre, self.width), 0.0), 1.0))


class TestASamplerWrittenOutsideTunelab(SamplerContract):
    @pytest.fixture
    def sampler_factory(self):
        return lambda seed: NearBestSampler(seed=seed)
