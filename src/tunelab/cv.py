"""Cross-validation objectives: score a trial on k folds, with pruning between folds.

On small data one train/validation split gives a noisy value, and a study then chases the
noise. Cross-validation averages k fits, each validated on a different part of the data. Here
each finished fold reports the mean of the fold scores so far at step = fold index (0, 1, ...),
so a pruner can stop a poor trial after any fold instead of paying for all k. The folds' scores
are stored with the trial, pruned or not (user attribute ``cv_scores``; ``cv_mean`` and
``cv_std`` once all folds ran).

A scikit-learn estimator (folds are stratified by class for a classifier, as in scikit-learn)::

    import tunelab
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from tunelab.cv import cross_val_score

    X, y = load_iris(return_X_y=True)

    def objective(trial):
        C = trial.suggest_float("C", 1e-3, 1e2, log=True)
        return cross_val_score(trial, LogisticRegression(C=C, max_iter=1000), X, y, cv=5)

    study = tunelab.create_study(direction="maximize", pruner="median")
    study.optimize(objective, n_trials=30)

A declarative training task, in a study file: ``cv`` merges the data's training and validation
parts, trains a fresh model per fold and gives the trial the mean of the folds' best validation
metrics; the test part, if any, stays out of every fold::

    task:
      data: {name: digits, test_fraction: 0.2}
      model: {name: mlp}
      recipe: {epochs: 10}
      cv: {folds: 5, stratified: true, seed: 0}      # or just cv: 5
      search:
        lr: {low: 1.0e-4, high: 1.0e-1, log: true}

Any other training loop goes through :func:`cross_validate`. Inside a fold, per-epoch values go
to the :class:`FoldTrial` it is given, not to the trial: the trial's steps are the folds, and an
epoch reported at the same step would clash with them.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tunelab._attrs import (
    CV_CURVES_ATTR,
    CV_MEAN_ATTR,
    CV_SCORES_ATTR,
    CV_STD_ATTR,
    PER_FOLD_PREFIX,
    VALIDATION_SIZE_ATTR,
)
from tunelab._options import check_flag, check_int
from tunelab.exceptions import ConfigError, MissingExtraError, TrialPruned, TunelabError
from tunelab.trial import new_report

if TYPE_CHECKING:
    from tunelab.trial import Trial



@dataclass(frozen=True, eq=False)
class Fold:
    """One fold: its position (from 0) and the sorted row indices it trains and validates on."""

    index: int
    train: np.ndarray
    validation: np.ndarray


FitFold = Callable[[Fold, "FoldTrial"], float]


# --- splitting ----------------------------------------------------------------------------------


def k_fold_indices(
    n_samples: int, n_splits: int = 5, *, seed: int = 0, shuffle: bool = True
) -> list[Fold]:
    """``n_splits`` folds of ``range(n_samples)``: each row validates in exactly one fold.

    Fold sizes differ by at most one (the first ``n_samples % n_splits`` folds are one larger),
    as in scikit-learn's ``KFold``. ``shuffle`` permutes the rows with ``seed`` first; without
    it the folds are consecutive blocks, for data whose order matters.
    """
    where = "k_fold_indices"
    check_int(where, "n_samples", n_samples, 1, "give the number of rows to split.")
    _check_split_options(where, n_samples, n_splits, seed, shuffle)
    fold_of = np.empty(n_samples, dtype=np.int64)
    for index, rows in enumerate(np.array_split(_order(n_samples, seed, shuffle), n_splits)):
        fold_of[rows] = index
    return _folds(fold_of, n_splits)


def stratified_k_fold_indices(
    labels: Any, n_splits: int = 5, *, seed: int = 0, shuffle: bool = True
) -> list[Fold]:
    """Folds in which every class of ``labels`` is spread evenly, as in ``StratifiedKFold``.

    Each fold holds the floor or the ceiling of each class's ``1 / n_splits`` share, and fold
    sizes differ by at most one. Like scikit-learn, a class with fewer members than folds gives
    a ``UserWarning`` (some validation parts lack it) rather than an error.
    """
    where = "stratified_k_fold_indices"
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) == 0:
        raise ConfigError(
            f"{where}: labels must be a non-empty 1-D sequence of class labels, got shape "
            f"{labels.shape}; give one label per row.",
            field="labels",
        )
    _check_split_options(where, len(labels), n_splits, seed, shuffle)
    classes, first, codes, counts = np.unique(
        labels, return_index=True, return_inverse=True, return_counts=True
    )
    # Classes ranked by first appearance, as StratifiedKFold ranks them: the rank decides which
    # folds get a class's leftover rows, and so unshuffled folds are exactly scikit-learn's.
    codes = np.argsort(np.argsort(first))[codes]
    smallest = int(np.argmin(counts))
    if counts[smallest] < n_splits:
        warnings.warn(
            f"class {classes[smallest].item()!r} has only {counts[smallest]} member(s), fewer than "
            f"n_splits={n_splits}; some folds will not validate on it.",
            UserWarning,
            stacklevel=2,
        )
    order = _order(len(labels), seed, shuffle)
    # Rows sorted by class (stably, so that the shuffle survives within a class) and dealt out
    # round-robin give each fold its share of every class; sorting the dealt fold numbers within
    # a class then cuts each class into consecutive blocks, which keeps an unshuffled split
    # faithful to the data's order, as StratifiedKFold does.
    by_class = order[np.argsort(codes[order], kind="stable")]
    dealt = np.arange(len(labels)) % n_splits
    fold_of = np.empty(len(labels), dtype=np.int64)
    fold_of[by_class] = dealt[np.lexsort((dealt, codes[by_class]))]
    return _folds(fold_of, n_splits)


def _check_split_options(where: str, n: int, n_splits: Any, seed: Any, shuffle: Any) -> None:
    check_int(where, "n_splits", n_splits, 2, "cross-validation needs at least 2 folds.")
    if n_splits > n:
        raise ConfigError(
            f"{where}: n_splits={n_splits} is more than the {n} samples; every fold needs at "
            "least one sample to validate on, so lower n_splits.",
            field="n_splits",
        )
    check_int(where, "seed", seed, 0, "any whole number picks a reproducible shuffle.")
    check_flag(where, "shuffle", shuffle)


def _order(n: int, seed: int, shuffle: bool) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)


def _folds(fold_of: np.ndarray, n_splits: int) -> list[Fold]:
    return [
        Fold(index, np.flatnonzero(fold_of != index), np.flatnonzero(fold_of == index))
        for index in range(n_splits)
    ]


# --- the loop -----------------------------------------------------------------------------------


class FoldTrial:
    """The trial as a training loop inside one fold sees it.

    The trial's own steps are the folds, so per-epoch values go here instead. ``report`` keeps
    the fold's curve (system attribute ``cv_curves``: per fold, a list of ``[step, value]``);
    ``should_prune`` is always False, since trials are compared, and pruned, between folds;
    ``set_system_attr`` and ``set_user_attr`` store per fold: ``key`` set in fold 2 becomes item
    2 of the trial's list ``fold_<key>`` (``fold_telemetry``, say), so folds do not overwrite
    each other. What a fold records is written when the fold ends, failed or not.
    """

    def __init__(self, trial: Trial, index: int) -> None:
        self.trial = trial
        self.index = index
        self.curve: list[list[float]] = []
        self.system_attrs: dict[str, Any] = {}
        self.user_attrs: dict[str, Any] = {}
        self._steps: set[int] = set()

    @property
    def number(self) -> int:
        """The trial's number: a trainer names its files after it, and a fold has none of its
        own."""
        return self.trial.number

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (an epoch's validation metric, say) of this fold."""
        owner = f"fold {self.index} of trial {self.trial.number}"
        report = new_report(step, value, self._steps, owner)
        if report is not None:
            self.curve.append(list(report))

    def should_prune(self) -> bool:
        """Always False: the trial is pruned between folds, where it compares with others."""
        return False

    def set_system_attr(self, key: str, value: Any) -> None:
        self.system_attrs[key] = value

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    def __repr__(self) -> str:
        return f"FoldTrial(trial={self.trial.number}, fold={self.index})"


class _PerFold:
    """What the folds' views recorded, written to the trial as lists indexed by fold."""

    def __init__(self, trial: Trial, n_folds: int) -> None:
        self.trial = trial
        self.n_folds = n_folds
        self.curves: list[list[list[float]] | None] = [None] * n_folds
        self.lists: dict[tuple[str, str], list[Any]] = {}

    def save(self, view: FoldTrial) -> None:
        if view.curve:
            self.curves[view.index] = view.curve
            self.trial.set_system_attr(CV_CURVES_ATTR, self.curves)
        for kind, attrs, store in (
            ("system", view.system_attrs, self.trial.set_system_attr),
            ("user", view.user_attrs, self.trial.set_user_attr),
        ):
            for key, value in attrs.items():
                per_fold = self.lists.setdefault((kind, key), [None] * self.n_folds)
                per_fold[view.index] = value
                store(PER_FOLD_PREFIX + key, per_fold)


def cross_validate(
    trial: Trial,
    fit_fold: FitFold,
    folds: Iterable[Fold | tuple[Any, Any]],
    *,
    prune: bool = True,
) -> float:
    """Run ``fit_fold`` on every fold, report the running mean after each, return the mean.

    ``fit_fold(fold, fold_trial)`` trains on the rows ``fold.train`` and returns its score on
    ``fold.validation``, better in the study's direction; per-epoch values go to
    ``fold_trial`` (a :class:`FoldTrial`), never to ``trial``. ``folds`` come from
    :func:`k_fold_indices` or :func:`stratified_k_fold_indices`, or are ``(train, validation)``
    index pairs such as a scikit-learn splitter's ``split(X, y)`` yields.

    After fold i (from 0) the mean of the scores so far is reported at step i and the scores are
    stored (user attribute ``cv_scores``); then, if the study's pruner says so,
    :class:`~tunelab.exceptions.TrialPruned` is raised, naming the fold. ``cv_mean`` and
    ``cv_std`` are stored when every fold ran, and the number of rows validated on in all
    (system attribute ``validation_size``). ``prune=False`` never asks the pruner, for a
    caller that knows its study prunes nothing (asking would warn that pruning cannot happen).
    """
    numbered = [_as_fold(position, fold) for position, fold in enumerate(folds)]
    if not numbered:
        raise ConfigError(
            "cross_validate: folds is empty; give the folds of k_fold_indices(...) or "
            "stratified_k_fold_indices(...).",
            field="folds",
        )
    per_fold = _PerFold(trial, len(numbered))
    scores: list[float] = []
    for fold in numbered:
        view = FoldTrial(trial, fold.index)
        try:
            score = _as_score(fit_fold(fold, view), fold, len(numbered))
        finally:
            per_fold.save(view)  # a fold that failed keeps its curve, for the diagnosis
        scores.append(score)
        mean = float(np.mean(scores))
        trial.set_user_attr(CV_SCORES_ATTR, scores)
        trial.report(mean, step=fold.index)
        if prune and trial.should_prune():
            raise TrialPruned(
                f"pruned after fold {fold.index + 1} of {len(numbered)} with a mean score of "
                f"{mean:.4g}"
            )
    trial.set_user_attr(CV_MEAN_ATTR, mean)
    trial.set_user_attr(CV_STD_ATTR, float(np.std(scores)))
    validated = sum(len(fold.validation) for fold in numbered)
    trial.set_system_attr(VALIDATION_SIZE_ATTR, validated)
    return mean


def _as_fold(position: int, fold: Fold | tuple[Any, Any]) -> Fold:
    """A :class:`Fold` numbered by its position, so that report steps run 0..k-1 once each."""
    if isinstance(fold, Fold):
        train, validation = fold.train, fold.validation
    else:
        try:
            train, validation = fold
        except (TypeError, ValueError):
            raise ConfigError(
                f"cross_validate: fold {position} is {fold!r}; give Fold objects or "
                "(train, validation) pairs of row indices.",
                field="folds",
            ) from None
    return Fold(position, np.asarray(train, dtype=np.int64), np.asarray(validation, dtype=np.int64))


def _as_score(value: Any, fold: Fold, n_folds: int) -> float:
    # numpy scalars and 0-d tensors count as numbers; strings and containers do not.
    if isinstance(value, (bool, str, bytes)) or not hasattr(value, "__float__") or (
        getattr(value, "ndim", 0) != 0
    ):
        raise TunelabError(
            f"fold {fold.index + 1} of {n_folds}: fit_fold returned {value!r} "
            f"({type(value).__name__}); it must return the fold's validation score as a number."
        )
    return float(value)


# --- scikit-learn -------------------------------------------------------------------------------


def cross_val_score(
    trial: Trial,
    estimator: Any,
    X: Any,
    y: Any,
    cv: int | Any = 5,
    *,
    stratified: bool | None = None,
    scoring: str | Callable[..., float] | None = None,
    seed: int = 0,
    shuffle: bool = True,
) -> float:
    """The mean score of ``estimator`` over ``cv`` folds, reported fold by fold to ``trial``.

    Each fold fits a fresh clone of ``estimator`` (``sklearn.base.clone``) and scores it on its
    validation rows with ``scoring`` (a scikit-learn scorer name such as ``"roc_auc"``, or a
    callable ``scorer(estimator, X, y)``), or with ``estimator.score`` when ``scoring`` is None.
    scikit-learn scores are higher-is-better (errors come negated, ``neg_log_loss``), so the
    study must maximize.

    ``cv`` is a number of folds (shuffled with ``seed`` unless ``shuffle=False``; stratified by
    class when ``stratified`` is True, or when it is None and ``estimator`` is a classifier of a
    binary or multiclass target, as scikit-learn decides), a scikit-learn splitter (anything with
    ``split(X, y)``) or an iterable of folds; see :func:`cross_validate` for what is reported
    and stored.
    """
    try:
        from sklearn.base import clone, is_classifier
        from sklearn.metrics import check_scoring
        from sklearn.utils import _safe_indexing
        from sklearn.utils.multiclass import type_of_target
    except ImportError as error:
        raise MissingExtraError("scikit-learn", "torch", "tunelab.cv.cross_val_score") from error
    where = "cross_val_score"
    study = getattr(trial, "study", None)
    if list(getattr(study, "directions", ())) == ["minimize"]:
        raise ConfigError(
            f"{where}: the study minimizes, but scikit-learn scores are higher-is-better (errors "
            "come negated, e.g. neg_mean_squared_error); create the study with "
            "direction='maximize'.",
            field="direction",
        )
    try:
        scorer = check_scoring(estimator, scoring=scoring)
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"{where}: scoring={scoring!r} cannot score this estimator: {error}",
            field="scoring",
        ) from None
    n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_samples != len(y):
        raise ConfigError(
            f"{where}: X has {n_samples} rows but y has {len(y)}; give one target per row.",
            field="y",
        )
    folds: Iterable[Fold | tuple[Any, Any]]
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if stratified is None:
            stratified = is_classifier(estimator) and type_of_target(y) in ("binary", "multiclass")
        check_flag(where, "stratified", stratified)
        if stratified:
            folds = stratified_k_fold_indices(y, int(cv), seed=seed, shuffle=shuffle)
        else:
            folds = k_fold_indices(n_samples, int(cv), seed=seed, shuffle=shuffle)
    elif stratified is not None:
        raise ConfigError(
            f"{where}: stratified={stratified!r} applies only when cv is a number of folds; "
            "leave it out, or choose a stratified splitter.",
            field="stratified",
        )
    else:
        # A splitter, or the folds themselves: cross_validate checks each fold it is given.
        splitter_or_folds: Any = cv
        folds = (
            splitter_or_folds.split(X, y)
            if hasattr(splitter_or_folds, "split")
            else splitter_or_folds
        )

    def fit_fold(fold: Fold, _: FoldTrial) -> float:
        model = clone(estimator).fit(_safe_indexing(X, fold.train), _safe_indexing(y, fold.train))
        score: float = scorer(
            model, _safe_indexing(X, fold.validation), _safe_indexing(y, fold.validation)
        )
        return score

    return cross_validate(trial, fit_fold, folds)
