"""``auto``: a sensible search algorithm for the study at hand, named in the log and the study.

A fixed rule on the objectives, the search space and the budget:

* several objectives: NSGA-II (Deb et al. 2002), which ranks whole Pareto fronts and handles
  constraints. TPE models several objectives too (MOTPE), and Optuna 5 defaults to it there,
  but beside tunelab's NSGA-II it is ahead at 100 trials and behind at 300 on two of the three
  problems of ``bench/multi_objective.py`` (hypervolume fraction, 5 seeds: 5-D ZDT1 0.74
  against 0.90, 3-objective DTLZ2 with a categorical 0.69 against 0.78);
* one objective, a small space and a small budget: Gaussian-process Bayesian optimization
  (:mod:`tunelab.samplers.gp`). "Small" means every trial so far has the same parameters
  (nothing conditional), at most ``GP_MAX_PARAMS`` of them, no categorical among them has more
  than ``GP_MAX_CHOICES`` choices, and :meth:`~tunelab.Study.optimize` was given ``n_trials``
  that bring the study to at most ``GP_MAX_TRIALS`` trials. There a GP finds better
  configurations in fewer trials than TPE, on numeric spaces and on categorical-heavy ones
  alike, and its cost per suggestion (a fraction of a second at a few hundred trials) is small
  beside a training run. Measured (``bench/RESULTS.md``, "Samplers on categorical-heavy
  spaces": mean normalized regret over 30 seeds, GP against TPE and Optuna's TPE): on the
  three categorical tasks 0.027 against 0.075 and 0.118 at 50 trials, 0.003 against 0.033 and
  0.051 at 100; on the HPOBench tables, whose categoricals have 10 choices, level (0.074
  against 0.072 at 50, 0.054 against 0.052 at 100); over all 26 single-objective tasks of
  ``bench/samplers.py`` this rule gives 0.089 against 0.108 for TPE alone and 0.116 for
  Optuna's TPE. Larger categoricals were not measured, and the GP gives each choice an input
  of its own, so they go to TPE;
* one objective otherwise: TPE (Bergstra et al. 2011; Watanabe 2023), sample-efficient and
  cheap at any budget, with conditional and categorical parameters handled natively.

The space is only known once trials have run (define-by-run), so the first ``STARTUP_TRIALS``
trials of a single-objective study are drawn at random, as both GP and TPE would draw them,
and the choice is made when that many trials have completed. It is logged once and stored in
the study's system attributes under ``sampler`` (``"auto: gp"``); another process working on the
same study follows a stored choice instead of making its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tunelab._attrs import SAMPLER_CHOICE_ATTR
from tunelab.samplers.base import BaseSampler, resolve_seed
from tunelab.samplers.nsga2 import NSGA2Sampler
from tunelab.samplers.random import RandomSampler
from tunelab.samplers.tpe import TPESampler
from tunelab.space import CategoricalDistribution, Distribution
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.trial import Trial

_logger = logging.getLogger("tunelab")
_CHOICE_PREFIX = "auto: "
STARTUP_TRIALS = 10
GP_MAX_PARAMS = 10
GP_MAX_TRIALS = 300
GP_MAX_CHOICES = 10


class AutoSampler(BaseSampler):
    """Delegates to the algorithm :func:`choose` picks for the study (see the module docstring)."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = resolve_seed(seed)
        self._startup = RandomSampler(self.seed)
        self._chosen: dict[int, tuple[str, BaseSampler]] = {}  # study id -> (name, sampler)

    def chosen(self, study: Study) -> str | None:
        """The name of the algorithm used for ``study``; None while it is still undecided."""
        name, _ = self._delegate(study, decide=True)
        return name

    def infer_relative_search_space(
        self, study: Study, trial: Trial | None = None
    ) -> dict[str, Distribution]:
        # Called once as each trial starts: the one place an undecided study is looked at again.
        return self._delegate(study, decide=True)[1].infer_relative_search_space(study, trial)

    def before_trial(self, study: Study, trial: Trial) -> None:
        self._delegate(study)[1].before_trial(study, trial)

    def sample_relative_batch(
        self, study: Study, trials: Sequence[Trial], search_space: dict[str, Distribution]
    ) -> list[dict[str, Any]]:
        return self._delegate(study)[1].sample_relative_batch(study, trials, search_space)

    def sample_independent(
        self, study: Study, trial: Trial, name: str, distribution: Distribution
    ) -> Any:
        return self._delegate(study)[1].sample_independent(study, trial, name, distribution)

    def after_trial(
        self,
        study: Study,
        trial: Trial | TrialRecord,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._delegate(study)[1].after_trial(study, trial, state, values)

    def is_exhausted(self, study: Study) -> bool:
        return self._delegate(study)[1].is_exhausted(study)

    def _delegate(self, study: Study, decide: bool = False) -> tuple[str | None, BaseSampler]:
        """The chosen algorithm, or (None, random search) while undecided; the storage is read
        for a choice only with ``decide``, so the calls within one trial cost nothing."""
        if study.study_id in self._chosen:
            return self._chosen[study.study_id]
        if not decide:
            return None, self._startup
        stored = study.storage.get_study(study.study_name).system_attrs.get(SAMPLER_CHOICE_ATTR, "")
        if stored.startswith(_CHOICE_PREFIX):
            name: str | None = stored[len(_CHOICE_PREFIX) :]
        else:
            name = choose(study)
            if name is None:
                return None, self._startup
            _logger.info("sampler 'auto' chose %s for study %r", name, study.study_name)
            study.storage.set_study_system_attr(
                study.study_id, SAMPLER_CHOICE_ATTR, _CHOICE_PREFIX + name
            )
        assert name in _BUILDERS, name
        self._chosen[study.study_id] = (name, _BUILDERS[name](self.seed))
        return self._chosen[study.study_id]


def _gp(seed: int) -> BaseSampler:
    # Imported when chosen: the GP's SciPy modules take 0.7 s to import, in every worker process.
    from tunelab.samplers.gp import GPSampler

    return GPSampler(seed)


_BUILDERS: dict[str, Callable[[int], BaseSampler]] = {
    "nsga2": lambda seed: NSGA2Sampler(seed),
    "gp": _gp,
    "tpe": lambda seed: TPESampler(seed, multivariate=True),
}


def choose(study: Study) -> str | None:
    """``"nsga2"``, ``"gp"`` or ``"tpe"`` by the rule of the module docstring; None while a
    single-objective study has fewer than ``STARTUP_TRIALS`` completed trials."""
    if len(study.directions) > 1:
        return "nsga2"
    completed = study.get_trials((TrialState.COMPLETE,))
    if len(completed) < STARTUP_TRIALS:
        return None
    budget = study.trial_budget
    if budget is None or budget > GP_MAX_TRIALS:
        return "tpe"
    return "gp" if _small_flat_space(completed) else "tpe"


def _small_flat_space(completed: list[TrialRecord]) -> bool:
    """Every trial has the same parameters, at most ``GP_MAX_PARAMS`` of them, and no
    categorical among them has more than ``GP_MAX_CHOICES`` choices."""
    space = dict(completed[0].distributions)
    if any(dict(r.distributions) != space for r in completed[1:]):
        return False  # conditional parameters, or ranges that changed
    varying = [d for d in space.values() if not d.is_single]
    return 0 < len(varying) <= GP_MAX_PARAMS and all(
        len(d.choices) <= GP_MAX_CHOICES for d in varying if isinstance(d, CategoricalDistribution)
    )
