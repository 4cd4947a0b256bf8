"""Bagging the best configuration: the study's best trial retrained on bootstrap resamples.

After Breiman, "Bagging Predictors" (Machine Learning, 1996). Where an ensemble of the best
trials (:mod:`tunelab.analysis.ensembles`) combines models that differ in their
hyperparameters, bagging keeps the best trial's hyperparameters and varies the data: each of
``n`` models is trained, the way the task trains a trial, on its own bootstrap resample of the
training part (as many rows as the part, drawn with replacement) with its own seed; their
class probabilities (or values) are averaged. Each model picks its best epoch on the
validation part, as the trial did; the test part is only scored, beside the best trial's saved
model. Retraining costs ``n`` trials' training time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._options import check_int
from tunelab.analysis.ensembles import (
    average_predictions,
    check_single_objective,
    check_task,
    improvement_over,
    member_output,
    member_predictions,
    task_scores,
    trials_with_weights,
)
from tunelab.exceptions import TunelabError
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    from tunelab.study import Study
    from tunelab.torch.task import Task

WHERE = "bag_best_trial"
MIN_MODELS = 2  # one resample is no bag


@dataclass(frozen=True)
class BaggingResult:
    """What :func:`bag_best_trial` trained and how well the bag does.

    ``trial`` is the best trial, whose parameters every model was trained with; ``seeds`` the
    seed of each model (its resample's and its training's), ``member_test_values`` each
    model's own test score. Values are in ``metric``'s units: ``val_value`` on the validation
    part (optimistic: it chose the trial and each model's best epoch), ``test_value`` on the
    test part, beside ``best_single_test_value``, the test score of the trial's saved model.
    """

    metric: str
    higher_is_better: bool
    trial: int
    seeds: tuple[int, ...]
    member_test_values: tuple[float, ...]
    val_value: float
    test_value: float
    best_single_test_value: float

    @property
    def best_single_trial(self) -> int:
        """The trial the bag is compared with: the one it retrains."""
        return self.trial

    @property
    def improvement(self) -> float:
        """How much better the bag scores on the test part than the best trial (positive:
        better, whichever the metric's direction)."""
        return improvement_over(self.test_value, self.best_single_test_value, self.higher_is_better)


@dataclass(frozen=True)
class BootstrapModel:
    """One bagged model: its seed, the training rows it was trained on (indices into the
    training part, with repeats) and its predictions of the validation and test parts."""

    seed: int
    rows: np.ndarray
    val: np.ndarray
    test: np.ndarray


def bag_best_trial(
    study: Study, task: Task, n: int = 5, seed: int = 0, *, metric: str | None = None
) -> BaggingResult:
    """Retrain the best trial of ``study`` ``n`` times on bootstrap resamples and score the
    average of the ``n`` models on the test part, beside the trial's own saved model.

    Args:
        study: a single-objective study whose trials ``task`` ran.
        task: the task, with ``artifacts`` set (the best trial's saved model is the
            reference) and a test part (``test_fraction`` > 0).
        n: how many models to train; model ``i`` uses seed ``seed + i``.
        seed: the first model's seed.
        metric: what to score with, as for :func:`~tunelab.analysis.ensembles.build_ensemble`.
    """
    check_int(WHERE, "n", n, MIN_MODELS, "bagging averages at least 2 models.")
    check_int(WHERE, "seed", seed, 0, "e.g. 0.")
    check_task(task, WHERE)
    scores = task_scores(task, metric, WHERE)
    best = _best_trial(study)
    reference = member_predictions(best, task)
    models = [train_on_bootstrap(task, best.params, seed + i) for i in range(n)]
    return BaggingResult(
        metric=scores.metric,
        higher_is_better=scores.higher_is_better,
        trial=best.number,
        seeds=tuple(model.seed for model in models),
        member_test_values=tuple(scores.test(model.test) for model in models),
        val_value=scores.val(average_predictions(np.stack([m.val for m in models]))),
        test_value=scores.test(average_predictions(np.stack([m.test for m in models]))),
        best_single_test_value=scores.test(reference.test),
    )


def train_on_bootstrap(task: Task, params: Mapping[str, Any], seed: int) -> BootstrapModel:
    """Train the model ``task`` builds for ``params`` as the task trains a trial (its recipe,
    pretrained weights if any, its trainer) on a bootstrap resample of the training part,
    seeded by ``seed``; the caller's random state is kept."""
    import torch

    from tunelab.torch.trainer import Trainer
    from tunelab.trial import FixedTrial

    recipe, model_options = task.suggest(FixedTrial(params))
    recipe = recipe.replace(seed=seed)
    data = task.memory_data("bagging")
    rows = bootstrap_rows(len(data.y_train), seed)
    index = torch.from_numpy(rows)
    resampled = dataclasses.replace(data, x_train=data.x_train[index], y_train=data.y_train[index])
    with torch.random.fork_rng():
        model = task.seeded_model(model_options, recipe)
        trainer = Trainer(model, resampled, recipe, telemetry=False)
        trainer.fit()
    return BootstrapModel(
        seed=seed,
        rows=rows,
        val=member_output(trainer.predict(trainer.memory_data.x_val), task),
        test=member_output(trainer.predict(trainer.memory_data.x_test), task),
    )


def bootstrap_rows(n_rows: int, seed: int) -> np.ndarray:
    """``n_rows`` row indices drawn uniformly with replacement, by ``seed``."""
    rows: np.ndarray = np.random.default_rng(seed).integers(0, n_rows, size=n_rows)
    return rows


def _best_trial(study: Study) -> TrialRecord:
    check_single_objective(study, WHERE)
    with_weights = trials_with_weights(study)
    if not with_weights:
        raise TunelabError(
            f"{WHERE}: study {study.study_name!r} has no completed trial with saved weights to "
            "compare the bag with; run trials with the task's artifacts folder set."
        )
    return with_weights[0]
