"""``auto``: a sensible search algorithm for the study at hand, named in the log and the study.

A fixed rule:

* several objectives: NSGA-II (Deb et al. 2002), which ranks whole Pareto fronts and handles
  constraints;
* one objective: TPE (Bergstra et al. 2011; Watanabe 2023), sample-efficient at the budgets of
  hyperparameter search (tens to a few hundred trials) and cheap per suggestion; multivariate,
  so that the parameters every trial shares are modelled jointly, while conditional parameters
  fall back to its per-parameter model, so define-by-run spaces need nothing special.

The choice depends only on the study's directions, so every worker of a study makes the same
one; it is logged once and stored in the study's system attributes under ``sampler``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Sequence

from tunelab.samplers.base import BaseSampler, resolve_seed
from tunelab.samplers.nsga2 import NSGA2Sampler
from tunelab.samplers.tpe import TPESampler
from tunelab.space import Distribution
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_logger = logging.getLogger("tunelab")
CHOICE_ATTR = "sampler"


class AutoSampler(BaseSampler):
    """Delegates to the algorithm :func:`choose` picks for the study (see the module docstring)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = resolve_seed(seed)
        self._chosen: dict[int, tuple[str, BaseSampler]] = {}  # study id -> (name, sampler)

    def chosen(self, study: Study) -> str:
        """The name of the algorithm used for ``study``."""
        return self._delegate(study)[0]

    def infer_relative_search_space(self, study: Study) -> dict[str, Distribution]:
        return self._delegate(study)[1].infer_relative_search_space(study)

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        return self._delegate(study)[1].sample_relative_batch(study, trials, search_space)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        return self._delegate(study)[1].sample_independent(study, trial, name, distribution)

    def after_trial(self, study: Study, record: TrialRecord) -> None:
        self._delegate(study)[1].after_trial(study, record)

    def is_exhausted(self, study: Study) -> bool:
        return self._delegate(study)[1].is_exhausted(study)

    def _delegate(self, study: Study) -> tuple[str, BaseSampler]:
        if study.study_id not in self._chosen:
            name = choose(study)
            sampler = NSGA2Sampler(self.seed) if name == "nsga2" else TPESampler(
                self.seed, multivariate=True
            )
            self._chosen[study.study_id] = (name, sampler)
            _logger.info("sampler 'auto' chose %s for study %r", name, study.study_name)
            study.storage.set_study_system_attr(study.study_id, CHOICE_ATTR, f"auto: {name}")
        return self._chosen[study.study_id]


def choose(study: Study) -> str:
    """``"nsga2"`` for several objectives, ``"tpe"`` for one."""
    return "nsga2" if len(study.directions) > 1 else "tpe"
