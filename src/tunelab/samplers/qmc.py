"""Quasi-random search with low-discrepancy sequences (Sobol 1967, Halton 1960), after
Bergstra & Bengio (JMLR 2012), who recommend them over random search for small budgets.

Points come from ``scipy.stats.qmc``. The search space is that of the study's first finished
trial (that trial itself is sampled at random); parameters outside it, such as conditional
ones, are sampled at random. Trial ``n`` takes point ``n`` of the sequence, so that a seeded
study gives the same points however many processes share it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_flag
from tunelab.exceptions import ConfigError
from tunelab.samplers._options import check_sampler_option, check_seed
from tunelab.samplers.base import BaseSampler, trial_rng
from tunelab.space import Distribution, from_unit_vector
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

QMC_TYPES = ("sobol", "halton")
_WHERE = "QMC"


class QMCSampler(BaseSampler):
    """Sobol or Halton points, scrambled with the seed.

    Args:
        qmc_type: ``"sobol"`` or ``"halton"``.
        scramble: scramble the sequence with the seed (the default; Optuna's is False).
        seed: the scrambling's seed, and that of the random draws; None draws one.
        independent_sampler: draws the first trial and the parameters outside the space of
            the first finished trial; None draws them at random.

    Optuna's ``warn_asynchronous_seeding`` and ``warn_independent_sampling`` only govern
    warnings of Optuna's, which tunelab does not give: a trial's point depends on its number,
    not on the order in which processes ask.
    """

    def __init__(
        self,
        qmc_type: str = "sobol",
        scramble: bool = True,
        seed: int | None = None,
        independent_sampler: BaseSampler | None = None,
        warn_asynchronous_seeding: bool = True,
        warn_independent_sampling: bool = True,
    ) -> None:
        if qmc_type not in QMC_TYPES:
            raise ConfigError(
                f"qmc_type={qmc_type!r} is unknown; choose one of: {', '.join(QMC_TYPES)}.",
                field="qmc_type",
            )
        self.qmc_type = qmc_type
        self.scramble = check_flag(_WHERE, "scramble", scramble)
        self.seed = check_seed(seed)
        self.independent_sampler = check_sampler_option(
            _WHERE, "independent_sampler", independent_sampler
        )
        check_flag(_WHERE, "warn_asynchronous_seeding", warn_asynchronous_seeding)
        check_flag(_WHERE, "warn_independent_sampling", warn_independent_sampling)
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

    def before_trial(self, study: Study, trial: Trial) -> None:
        if self.independent_sampler is not None:
            self.independent_sampler.before_trial(study, trial)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        if self.independent_sampler is not None:
            return self.independent_sampler.sample_independent(study, trial, name, distribution)
        return distribution.from_unit(trial_rng(self.seed, trial.number, name).random())

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self.independent_sampler is not None:
            self.independent_sampler.after_trial(study, trial, state, values)

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
