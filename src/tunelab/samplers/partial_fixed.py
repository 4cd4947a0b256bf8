"""Fix some parameters and let another sampler choose the rest: Optuna's
``PartialFixedSampler``, written for tunelab.

The usual use is a second phase of a search: once a parameter's best value is clear, fix it and
spend the remaining trials on the others. The fixed parameters are left out of the base
sampler's joint space, so a model-based sampler models only the parameters it still chooses;
everything else (the hooks, the end of a finished grid) is the base sampler's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunelab.exceptions import ConfigError
from tunelab.samplers.base import BaseSampler
from tunelab.space import Distribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_WHERE = "partial fixed sampler"


class PartialFixedSampler(BaseSampler):
    """Give the parameters of ``fixed_params`` their fixed values; ``base_sampler`` chooses
    every other parameter.

    Args:
        fixed_params: ``{name: value}``; each value must lie in the range the objective
            declares for it.
        base_sampler: the sampler (an instance, e.g. ``study.sampler``) that chooses the rest.
    """

    def __init__(self, fixed_params: Mapping[str, Any], base_sampler: BaseSampler) -> None:
        if not isinstance(fixed_params, Mapping) or not all(
            isinstance(name, str) for name in fixed_params
        ):
            raise ConfigError(
                f"{_WHERE}: fixed_params={fixed_params!r} must map parameter names to values, "
                "e.g. {'optimizer': 'adam'}.",
                field="fixed_params",
            )
        if not isinstance(base_sampler, BaseSampler):
            raise ConfigError(
                f"{_WHERE}: base_sampler={base_sampler!r} must be a sampler, e.g. "
                "TPESampler(seed=0) or study.sampler.",
                field="base_sampler",
            )
        self.fixed_params = dict(fixed_params)
        self.base_sampler = base_sampler

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        space = self.base_sampler.infer_relative_search_space(study, trial)
        return {name: d for name, d in space.items() if name not in self.fixed_params}

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        return self.base_sampler.sample_relative_batch(study, trials, search_space)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        if name not in self.fixed_params:
            return self.base_sampler.sample_independent(study, trial, name, distribution)
        value = self.fixed_params[name]
        if not distribution.contains(value):
            raise ConfigError(
                f"{_WHERE}: fixed_params[{name!r}]={value!r} is outside {distribution}, the "
                "range the objective declares; fix a value inside it.",
                field="fixed_params",
            )
        return value

    def before_trial(self, study: Study, trial: Trial) -> None:
        self.base_sampler.before_trial(study, trial)

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.base_sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.base_sampler.reseed_rng()

    def is_exhausted(self, study: Study) -> bool:
        return self.base_sampler.is_exhausted(study)
