"""Ensembles of a study's best trials: averaging, voting, greedy ensemble selection, stacking.

A study trained by a declarative :class:`tunelab.torch.Task` keeps each trial's best weights
(``<artifacts>/<study>/trial-N/best.pt``). :func:`build_ensemble` rebuilds the ``k`` best
trials' models, predicts the task's validation and test parts with each, combines the
predictions and scores the combination on the test part, beside the best single trial.

Four ways to combine them:

- ``average``: the mean of the members' class probabilities (or regression values);
- ``vote``: each member votes for its most probable class and the majority wins; a tie goes to
  the tied class with the highest mean probability;
- ``greedy``: ensemble selection, after Caruana, Niculescu-Mizil, Crew and Ksikes, "Ensemble
  Selection from Libraries of Models" (ICML 2004). The ``k`` trials form the library. The
  ensemble starts from the ``n_init`` members best on the hillclimb set (sorted ensemble
  initialization) and then, for ``n_rounds`` rounds, adds the library model (with replacement:
  a model may be added again) whose addition gives the best hillclimb score, even where no
  addition improves it. The ensemble kept is the best one seen along the way; a model added
  ``c`` times of ``n`` additions weighs ``c / n`` in the average. Here the hillclimb set is the
  task's validation part; it also chose the trials and their best epochs, so the validation
  score of an ensemble is optimistic and only the test score is a fair estimate;
- ``stack``: a regularized linear meta-learner fitted on the members' validation predictions,
  its regularization chosen by cross-validation within the validation part; its validation
  score is that of its out-of-fold predictions (see :mod:`tunelab.analysis.stacking`).

Every method learns from the validation part only; the test part is only ever scored.
:func:`build_ensembles` builds several from one pass over the members' models.
:mod:`tunelab.analysis.bagging` retrains the best trial's configuration instead.

The combination functions (:func:`average_predictions`, :func:`vote`,
:func:`greedy_selection`, :func:`~tunelab.analysis.stacking.fit_stacker`) work on numpy arrays
of predictions and need no PyTorch; only the loading of the trials' models does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._display import ranked_trials
from tunelab._options import check_choice, check_int
from tunelab.analysis.stacking import fit_stacker
from tunelab.analysis.trained import check_keeps_weights, trained_model, trials_with_weights
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.registry import did_you_mean
from tunelab.trial import TrialRecord

if TYPE_CHECKING:
    import torch

    from tunelab.study import Study
    from tunelab.torch.task import Task

METHODS = ("average", "vote", "greedy", "stack")
WHERE = "build_ensemble"
MIN_MEMBERS = 2  # one model is no ensemble

Score = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class EnsembleResult:
    """What :func:`build_ensemble` built and how well it does.

    ``library`` holds the ``k`` trials considered, best first; ``members`` those in the
    ensemble, with their ``weights`` (equal for ``average`` and ``vote``; for ``greedy``, each
    member's share of the selections; for ``stack``, each member's share of the meta-learner's
    absolute coefficients, which describes it rather than mixes by it). Values are in
    ``metric``'s units: ``val_value`` on the validation part (optimistic: it chose the trials;
    for ``stack``, of the meta-learner's out-of-fold predictions), ``test_value`` on the test
    part, and ``best_single_test_value`` the test score of the study's best trial,
    ``best_single_trial``.
    """

    method: str
    metric: str
    higher_is_better: bool
    library: tuple[int, ...]
    members: tuple[int, ...]
    weights: tuple[float, ...]
    val_value: float
    test_value: float
    best_single_trial: int
    best_single_test_value: float

    @property
    def improvement(self) -> float:
        """How much better the ensemble scores on the test part than the best single trial
        (positive: better, whichever the metric's direction)."""
        return improvement_over(self.test_value, self.best_single_test_value, self.higher_is_better)


def improvement_over(value: float, reference: float, higher_is_better: bool) -> float:
    """How much better ``value`` is than ``reference`` (positive: better)."""
    difference = value - reference
    return difference if higher_is_better else -difference


# --- combining predictions (numpy only) -------------------------------------------------------


def average_predictions(
    predictions: np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> np.ndarray:
    """The (weighted) mean over members of ``predictions``, shaped ``(members, samples, ...)``.

    Weights need not sum to 1; they are rescaled. Equal weights if none are given.
    """
    predictions = _check_predictions(predictions)
    n_members = len(predictions)
    if weights is None:
        mean: np.ndarray = predictions.mean(axis=0)
        return mean
    weight_array = np.asarray(weights, dtype=float)
    if (
        weight_array.shape != (n_members,)
        or (weight_array < 0).any()
        or weight_array.sum() <= 0
    ):
        raise ConfigError(
            f"weights={weight_array.tolist()!r} must give one non-negative weight per member "
            f"({n_members}), not all zero.",
            field="weights",
        )
    weighted_mean: np.ndarray = np.tensordot(
        weight_array / weight_array.sum(), predictions, axes=1
    )
    return weighted_mean


def vote(probabilities: np.ndarray) -> np.ndarray:
    """The class each sample gets by majority vote of the members' most probable classes.

    ``probabilities`` is ``(members, samples, classes)``. Among classes tied for the most
    votes, the one with the highest mean probability wins (and then the lowest index).
    """
    probabilities = _check_predictions(probabilities)
    if probabilities.ndim != 3:
        raise ConfigError(
            f"vote: probabilities have shape {probabilities.shape}; give (members, samples, "
            "classes).",
            field="probabilities",
        )
    n_classes = probabilities.shape[2]
    votes = one_hot(probabilities.argmax(axis=2), n_classes).sum(axis=0)
    most_voted = votes == votes.max(axis=1, keepdims=True)
    mean_probability = probabilities.mean(axis=0)
    winners: np.ndarray = np.where(most_voted, mean_probability, -np.inf).argmax(axis=1)
    return winners


def greedy_selection(
    predictions: np.ndarray, score: Score, *, n_init: int = 1, n_rounds: int = 20
) -> np.ndarray:
    """How many times ensemble selection picks each model (Caruana et al., ICML 2004).

    ``predictions`` is ``(models, samples, ...)`` on the hillclimb set and ``score`` maps a
    combined (averaged) prediction to a number, higher is better. The ``n_init`` models that
    score best alone start the ensemble; each of ``n_rounds`` rounds adds the model whose
    addition scores best (the earlier model on a tie). Returns the counts of the best-scoring
    ensemble seen (the smaller one on a tie), so ``counts / counts.sum()`` are its weights.
    """
    predictions = _check_predictions(predictions)
    n_models = len(predictions)
    _check_count("n_init", n_init, 1, f"at most the number of models ({n_models})", n_models)
    _check_count("n_rounds", n_rounds, 0, "e.g. 20")
    alone = np.array([score(p) for p in predictions])
    counts = np.zeros(n_models, dtype=int)
    counts[np.argsort(-alone, kind="stable")[:n_init]] = 1
    total = np.tensordot(counts.astype(float), predictions, axes=1)
    best_counts: np.ndarray = counts.copy()
    best_score = score(total / counts.sum())
    for _ in range(n_rounds):
        size = counts.sum() + 1
        candidates = [score((total + p) / size) for p in predictions]
        chosen = int(np.argmax(candidates))
        counts[chosen] += 1
        total = total + predictions[chosen]
        if candidates[chosen] > best_score:
            best_counts, best_score = counts.copy(), candidates[chosen]
    return best_counts


def one_hot(classes: np.ndarray, n_classes: int) -> np.ndarray:
    """Class indices ``(...)`` as one-hot rows ``(..., n_classes)`` of floats."""
    rows: np.ndarray = np.eye(n_classes)[classes]
    return rows


def _check_predictions(predictions: Any) -> np.ndarray:
    array = np.asarray(predictions, dtype=float)
    if array.ndim < 2 or len(array) == 0:
        raise ConfigError(
            f"predictions have shape {array.shape}; give one array per member, stacked: "
            "(members, samples) or (members, samples, outputs).",
            field="predictions",
        )
    return array


def _check_count(name: str, value: Any, low: int, hint: str, high: int | None = None) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < low
        or (high is not None and value > high)
    ):
        bound = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")
        raise ConfigError(f"{name}={value!r} must be {bound}; {hint}.", field=name)


# --- a study's trials as members (PyTorch) ----------------------------------------------------


@dataclass(frozen=True)
class MemberPredictions:
    """One trial's model's predictions on the task's validation and test parts: class
    probabilities ``(samples, classes)`` for classification, values ``(samples, targets)`` in
    the targets' units for regression."""

    trial: int
    val: np.ndarray
    test: np.ndarray


def build_ensemble(
    study: Study,
    task: Task,
    k: int = 5,
    method: str = "greedy",
    *,
    metric: str | None = None,
    n_init: int | None = None,
    n_rounds: int = 20,
) -> EnsembleResult:
    """Combine the saved models of the ``k`` best trials of ``study`` and score them.

    Args:
        study: a single-objective study whose trials ``task`` ran (same data, model, search).
        task: the task, with ``artifacts`` set (where the weights are) and a data spec with a
            test part (``test_fraction`` > 0).
        k: how many of the best completed trials to combine (the library, for greedy).
        method: ``"average"``, ``"vote"`` (classification only), ``"greedy"`` or ``"stack"``.
        metric: what to score with (default: the task's metric; for a task that watches its
            loss, the task's default metric, since an ensemble has no single loss).
        n_init: how many of the library's models start the greedy selection. The library
            holds only the ``k`` best trials, all good, so by default all of them start it
            (Caruana et al.'s sorted initialization with N = k): the selection then reweights
            the average where that helps on the validation part. A smaller start lets the
            selection drop members, at the risk of fitting the validation part, which already
            chose the trials.
        n_rounds: how many models the greedy selection adds after the start.
    """
    method = check_method(WHERE, "method", method)
    results = build_ensembles(
        study, task, k, (method,), metric=metric, n_init=n_init, n_rounds=n_rounds
    )
    return results[method]


def build_ensembles(
    study: Study,
    task: Task,
    k: int = 5,
    methods: Sequence[str] | None = None,
    *,
    metric: str | None = None,
    n_init: int | None = None,
    n_rounds: int = 20,
) -> dict[str, EnsembleResult]:
    """:func:`build_ensemble` by each of ``methods`` (default: every method that fits the
    task, :func:`methods_for`), rebuilding and running each trial's model once for all."""
    check_int(WHERE, "k", k, MIN_MEMBERS, "an ensemble needs at least 2 trials.")
    check_task(task, WHERE)
    if methods is None:
        methods = methods_for(task.data.task)
    methods = [check_method(WHERE, "method", method) for method in methods]
    for method in methods:
        _check_method_fits(task, method)
    scores = task_scores(task, metric, WHERE)
    members = [member_predictions(record, task) for record in library_trials(study, k)]
    start = k if n_init is None else n_init
    return {
        method: _combined(method, members, task, scores, start, n_rounds) for method in methods
    }


def methods_for(task_kind: str) -> tuple[str, ...]:
    """The methods that fit a ``"classification"`` task (all) or a ``"regression"`` (no vote)."""
    return METHODS if task_kind == "classification" else tuple(m for m in METHODS if m != "vote")


def _combined(
    method: str,
    members: list[MemberPredictions],
    task: Task,
    scores: TaskScores,
    n_init: int,
    n_rounds: int,
) -> EnsembleResult:
    """The members combined by ``method``, scored on the validation and test parts."""
    val, test = np.stack([m.val for m in members]), np.stack([m.test for m in members])
    if method == "stack":
        # Fitted on the validation part alone; its validation outputs are out of fold.
        stacker = fit_stacker(val, task.memory_data(WHERE).y_val.cpu().numpy(), task.data.task)
        weights = stacker.member_weights()
        val_output, test_output = stacker.out_of_fold, stacker.predict(test)
    else:
        sign = 1.0 if scores.higher_is_better else -1.0
        counts = _member_counts(method, val, lambda p: sign * scores.val(p), n_init, n_rounds)
        weights = counts / counts.sum()
        val_output, test_output = combine(method, val, weights), combine(method, test, weights)
    chosen = np.flatnonzero(weights)
    return EnsembleResult(
        method=method,
        metric=scores.metric,
        higher_is_better=scores.higher_is_better,
        library=tuple(m.trial for m in members),
        members=tuple(members[i].trial for i in chosen),
        weights=tuple(float(weights[i]) for i in chosen),
        val_value=scores.val(val_output),
        test_value=scores.test(test_output),
        best_single_trial=members[0].trial,
        best_single_test_value=scores.test(members[0].test),
    )


def combine(method: str, predictions: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The ensemble's output: weighted mean probabilities or values, or for ``vote`` the
    winning classes as one-hot rows (which score like probabilities)."""
    if method == "vote":
        return one_hot(vote(predictions), predictions.shape[2])
    return average_predictions(predictions, weights)


def _member_counts(
    method: str, val: np.ndarray, score: Score, n_init: int, n_rounds: int
) -> np.ndarray:
    if method == "greedy":
        return greedy_selection(val, score, n_init=n_init, n_rounds=n_rounds)
    return np.ones(len(val), dtype=int)


def library_trials(study: Study, k: int) -> list[TrialRecord]:
    """The ``k`` best completed, feasible trials of ``study`` that saved weights, best first."""
    check_single_objective(study, WHERE)
    with_weights = trials_with_weights(study)
    if len(with_weights) < k:
        completed = len(ranked_trials(study))
        raise TunelabError(
            f"build_ensemble: k={k} but study {study.study_name!r} has {len(with_weights)} "
            f"completed trial(s) with saved weights (of {completed} completed); lower k "
            "or run more trials with the task's artifacts folder set."
        )
    return with_weights[:k]


def check_single_objective(study: Study, where: str) -> None:
    """A TunelabError unless ``study`` has one objective, which ranks its trials."""
    if len(study.directions) != 1:
        raise TunelabError(
            f"{where}: study {study.study_name!r} has {len(study.directions)} objectives, so it "
            "has no single ranking of its trials; ensembles need a single-objective study."
        )


def member_predictions(record: TrialRecord, task: Task) -> MemberPredictions:
    """Rebuild ``record``'s model from ``task``, load its best weights and predict the task's
    validation and test parts, normalized by the trainer itself as in training."""
    trainer = trained_model(record, task, WHERE)
    return MemberPredictions(
        trial=record.number,
        val=member_output(trainer.predict(trainer.memory_data.x_val), task),
        test=member_output(trainer.predict(trainer.memory_data.x_test), task),
    )


def member_output(outputs: torch.Tensor, task: Task) -> np.ndarray:
    """A trainer's outputs as a member's: class probabilities from logits (two columns for a
    single binary logit), or values."""
    import torch

    if task.data.task != "classification":
        return outputs.cpu().double().numpy()
    if outputs.shape[1] == 1:
        positive = torch.sigmoid(outputs)
        return torch.cat([1.0 - positive, positive], dim=1).cpu().double().numpy()
    return torch.softmax(outputs, dim=1).cpu().double().numpy()


@dataclass(frozen=True)
class TaskScores:
    """How combined outputs are scored on a task's validation and test parts."""

    metric: str
    higher_is_better: bool
    val: Score
    test: Score


def task_scores(task: Task, metric: str | None, where: str) -> TaskScores:
    """Scoring by ``metric`` (see :func:`build_ensemble`) on ``task``'s data."""
    from tunelab.torch.metrics import HIGHER_IS_BETTER

    metric = _check_metric(task, metric, where)
    data = task.memory_data(where)
    return TaskScores(
        metric=metric,
        higher_is_better=HIGHER_IS_BETTER[metric],
        val=metric_function(metric, data.task, data.y_val, data.n_classes),
        test=metric_function(metric, data.task, data.y_test, data.n_classes),
    )


def metric_function(
    metric: str, task_kind: str, targets: torch.Tensor, n_classes: int | None
) -> Score:
    """A function scoring combined outputs against ``targets`` with the training engine's own
    metric code, so that an ensemble and a trial are scored alike."""
    import torch

    from tunelab.torch.metrics import compute_metrics

    targets = targets.cpu()

    def score(outputs: np.ndarray) -> float:
        tensor = torch.from_numpy(np.asarray(outputs)).float()
        return compute_metrics(task_kind, tensor, targets, n_classes, (metric,))[metric]

    return score


def check_method(where: str, field: str, method: Any) -> str:
    """One of METHODS; a ConfigError naming ``field`` if not."""
    return check_choice(where, field, method, METHODS)


def check_task(task: Task, where: str) -> None:
    """A ConfigError unless ``task`` keeps one model per trial and has a test part."""
    check_keeps_weights(task, where)
    if len(task.memory_data(where).x_test) == 0:
        raise ConfigError(
            f"{where}: the task's data has no test part to score the ensemble on; add "
            "one to the data spec, e.g. data: {name: digits, test_fraction: 0.2}, and run the "
            "study with it.",
            field="data.test_fraction",
        )


def _check_method_fits(task: Task, method: str) -> None:
    if method == "vote" and task.data.task != "classification":
        raise ConfigError(
            f"{WHERE}: method='vote' needs class predictions, but this task is a "
            "regression; use 'average', 'greedy' or 'stack'.",
            field="method",
        )


def _check_metric(task: Task, metric: str | None, where: str) -> str:
    from tunelab.torch.metrics import default_metric, metric_names

    kind = task.data.task
    if metric is None:
        return default_metric(kind) if task.metric == "loss" else task.metric
    if metric not in metric_names(kind):
        raise ConfigError(
            f"{where}: metric={metric!r} does not fit a {kind} task"
            f"{did_you_mean(str(metric), metric_names(kind))}; use one of: "
            f"{', '.join(metric_names(kind))}.",
            field="metric",
        )
    return metric
