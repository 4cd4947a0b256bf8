"""Quasi-random search with low-discrepancy sequences (Sobol 1967, Halton 1960), after
Bergstra & Bengio (JMLR 2012), who recommend them over random search for small budgets.

Points come from ``scipy.stats.qmc``. The search space is that of the study's first finished
trial (that trial itself is sampled at random); parameters outside it, such as conditional
ones, are sampled at random. Trial ``n`` takes point ``n`` of the sequence, so that a seeded
study gives the same points however many processes share it.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab.exceptions import ConfigError
from tunelab.samplers.base import BaseSampler, resolve_seed, trial_rng
from tunelab.space import Distribution, from_unit_vector
from tunelab.trial import TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

QMC_TYPES = ("sobol", "halton")


class QMCSampler(BaseSampler):
    """Sobol or Halton points, scrambled with the seed."""

    def __init__(
        self, qmc_type: str = "sobol", scramble: bool = True, seed: int | None = None
    ) -> None:
        if qmc_type not in QMC_TYPES:
            raise ConfigError(
                f"qmc_type={qmc_type!r} is unknown; choose one of: {', '.join(QMC_TYPES)}."
            )
        self.qmc_type = qmc_type
        self.scramble = scramble
        self.seed = resolve_seed(seed)
        self._space: dict[str, Distribution] = {}
        self._engine: Any = None
        self._position = 0

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        if not self._space:
            for record in study.storage.get_trials(study.study_id, (TrialState.COMPLETE,)):
                space = {
                    name: d for name, d in sorted(record.distributions.items()) if not d.is_single
                }
                if space:
                    self._space = space
                    break
        return self._space

    def sample_relative(
        self, study: Study, trial: Trial, search_space: dict[str, Distribution]
    ) -> dict[str, Any]:
        return from_unit_vector(self._point(trial.number, len(search_space)), search_space)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        return distribution.from_unit(trial_rng(self.seed, trial.number, name).random())

    def _point(self, index: int, dimension: int) -> np.ndarray:
        """Point ``index`` of the sequence; consecutive indices reuse the engine's position."""
        if self._engine is None or self._engine.d != dimension or index < self._position:
            from scipy.stats import qmc  # imported here: it costs a second at `import tunelab`

            engine_type = qmc.Sobol if self.qmc_type == "sobol" else qmc.Halton
            self._engine = engine_type(d=dimension, scramble=self.scramble, seed=self.seed)
            self._position = 0
        if index > self._position:
            self._engine.fast_forward(index - self._position)
        self._position = index + 1
        with warnings.catch_warnings():
            # Sobol warns when not drawn in powers of two; trials take one point at a time.
            warnings.simplefilter("ignore", UserWarning)
            point: np.ndarray = self._engine.random(1)[0]
            return point


# The registry's names for one sequence each: their options are QMCSampler's, less qmc_type.
sobol = partial(QMCSampler, qmc_type="sobol")
halton = partial(QMCSampler, qmc_type="halton")
