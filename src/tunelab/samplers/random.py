"""Random search (Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012).

Each parameter is drawn uniformly in its unit mapping, which makes log-scaled ranges uniform in
log space and gives every discrete value the same probability.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunelab.samplers.base import BaseSampler, resolve_seed, trial_rng
from tunelab.space import Distribution

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial


class RandomSampler(BaseSampler):
    """Independent uniform sampling; with a seed, trial ``n`` always gets the same values."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = resolve_seed(seed)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        return distribution.from_unit(trial_rng(self.seed, trial.number, name).random())
