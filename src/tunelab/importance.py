"""Hyperparameter importance under the names of ``optuna.importance``.

:func:`get_param_importances` rates the parameters with tunelab's fANOVA by default
(:mod:`tunelab.analysis.importance`): the forest's marginal variance per parameter, with
conditional parameters rated where they are active. An evaluator picks another method:

- :class:`FanovaImportanceEvaluator`: the same fANOVA, with its forest's settings;
- :class:`MeanDecreaseImpurityImportanceEvaluator`: the impurity the same forest's splits on
  each parameter remove;
- :class:`PedAnovaImportanceEvaluator`: how differently each parameter is distributed among
  the best trials, with no model fitted (Optuna's default; tunelab keeps fANOVA as its own,
  since it also measures how much a parameter moves the objective away from the best trials);
- any object derived from :class:`BaseImportanceEvaluator` (or with its ``evaluate``).
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING

from tunelab.analysis.importance import (
    Target,
    fanova_importances,
    mean_decrease_impurity_importances,
    ped_anova_importances,
)
from tunelab.analysis.importance import param_importances as get_param_importances

if TYPE_CHECKING:
    from tunelab.study import Study

__all__ = [
    "BaseImportanceEvaluator",
    "FanovaImportanceEvaluator",
    "MeanDecreaseImpurityImportanceEvaluator",
    "PedAnovaImportanceEvaluator",
    "get_param_importances",
]


class BaseImportanceEvaluator(abc.ABC):
    """Rates the parameters of a study; derive from it to bring a method of one's own."""

    @abc.abstractmethod
    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Target | None = None
    ) -> dict[str, float]:
        """A non-negative number per parameter in ``params`` (all when None), higher for more
        important, for the value ``target`` gives (the objective when None)."""


class _ForestEvaluator(BaseImportanceEvaluator):
    """The settings of the random forest that both forest methods fit.

    ``seed=None`` keeps tunelab's fixed default seed, so that a study always gets the same
    importances; give a seed to draw another forest.
    """

    def __init__(self, *, n_trees: int = 64, max_depth: int = 64, seed: int | None = None) -> None:
        self.n_trees, self.max_depth, self.seed = n_trees, max_depth, seed or 0


class FanovaImportanceEvaluator(_ForestEvaluator):
    """fANOVA: each parameter's share of the variance of the forest's prediction."""

    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Target | None = None
    ) -> dict[str, float]:
        return fanova_importances(
            study, params, n_trees=self.n_trees, max_depth=self.max_depth, seed=self.seed,
            target=target, normalize=False,
        )


class MeanDecreaseImpurityImportanceEvaluator(_ForestEvaluator):
    """The impurity that the forest's splits on each parameter remove."""

    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Target | None = None
    ) -> dict[str, float]:
        return mean_decrease_impurity_importances(
            study, params, n_trees=self.n_trees, max_depth=self.max_depth, seed=self.seed,
            target=target, normalize=False,
        )


class PedAnovaImportanceEvaluator(BaseImportanceEvaluator):
    """PED-ANOVA: how much each parameter matters for reaching the best ``target_quantile`` of
    the trials, within the best ``region_quantile`` of them (over the parameter's whole range
    with ``evaluate_on_local=False``). For a callable target, lower is better."""

    def __init__(
        self,
        *,
        target_quantile: float = 0.1,
        region_quantile: float = 1.0,
        evaluate_on_local: bool = True,
    ) -> None:
        self.target_quantile, self.region_quantile = target_quantile, region_quantile
        self.evaluate_on_local = evaluate_on_local

    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Target | None = None
    ) -> dict[str, float]:
        return ped_anova_importances(
            study, params, target_quantile=self.target_quantile,
            region_quantile=self.region_quantile, evaluate_on_local=self.evaluate_on_local,
            target=target,
        )
