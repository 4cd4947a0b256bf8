"""``TuneSearchCV``: tunelab's search as a scikit-learn estimator, for ``RandomizedSearchCV``.

It takes what ``RandomizedSearchCV`` takes (an estimator, ``param_distributions``, ``cv``,
``scoring``, ``refit``, ``n_jobs``, ``error_score``, ``return_train_score``) and gives what it
gives (``cv_results_``, ``best_params_``, ``best_score_``, ``best_estimator_``, ``predict``, ...),
so that it fits wherever a scikit-learn estimator does: in a Pipeline, under ``clone``, inside
``cross_val_score``. What changes is how the candidates are chosen and run:

* a tunelab sampler picks each candidate from the results so far (``sampler=``, TPE by
  default) instead of drawing them all at random beforehand. TPE rather than the study's
  ``auto``: the fits of a scikit-learn search often take milliseconds, and the Gaussian
  process ``auto`` picks for a small space costs some 5 ms a suggestion at 20 trials, as much
  as a linear model's whole cross-validation, where TPE's costs a fraction of a millisecond
  (``bench/sklearn_search.py``: the same scores). ``auto`` does not choose by the fits' measured
  time, since a seeded search would then try other candidates on a busier machine. For fits
  that take seconds, ``sampler="auto"`` (or ``"gp"``) is worth its cost;
* a trial reports the mean score of the folds it has run after each fold (step = fold index), and
  the study's pruner (``pruner="median"`` by default; ``pruner=None`` prunes nothing) stops a
  candidate that is behind the others before its remaining folds are fit. A pruned candidate's
  unevaluated folds are NaN in ``cv_results_``, whose ``state`` column says how each trial ended;
* with ``partial_fit_epochs=n``, an estimator with ``partial_fit`` (``SGDClassifier``,
  ``MLPClassifier``, a skorch net) trains on every fold one epoch at a time, and every
  ``score_every_epochs`` epochs (and after the last) the trial reports the folds' mean
  validation score (step = epoch, from 0), so the pruner stops a candidate between epochs. By
  default that is about five times per candidate (every ``ceil(n / 5)`` epochs): scoring a
  fold costs about what a short epoch does;
* ``n_jobs`` runs trials in worker processes, each with the data; the search is a tunelab study
  (``study_``), kept in ``storage`` when one is given.

``param_distributions`` holds, per parameter (``step__param`` inside a Pipeline): a tunelab
distribution, a list of values (any objects: numbers, strings, estimators), or a
``scipy.stats`` distribution. ``uniform``, ``loguniform`` and ``randint`` become the matching
tunelab ranges (float, float on a log scale, integer), which a sampler models directly; any other
frozen distribution is searched through its quantiles: the study holds ``<name>.quantile`` in
[0, 1], and the estimator gets ``ppf`` of it, so a random sampler draws from the distribution
itself. A list of such dicts searches several spaces, as in ``RandomizedSearchCV``; the study's
parameter ``param_distributions`` holds which.

Example::

    from scipy.stats import loguniform
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from tunelab.sklearn import TuneSearchCV

    X, y = load_diabetes(return_X_y=True)
    search = TuneSearchCV(Ridge(), {"alpha": loguniform(1e-4, 1e3)}, n_trials=30, cv=5,
                          random_state=0).fit(X, y)
    print(search.best_params_, search.best_score_)
"""

from __future__ import annotations

import copy
import math
import numbers
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from tunelab._attrs import (
    CV_CURVES_ATTR,
    CV_MEAN_ATTR,
    CV_SCORES_ATTR,
    CV_STD_ATTR,
    FOLD_RESULT_KEY,
    PER_FOLD_PREFIX,
)
from tunelab._options import check_flag, check_int
from tunelab.cv import Fold, FoldTrial, cross_validate
from tunelab.exceptions import (
    ConfigError,
    DuplicatedStudyError,
    MissingExtraError,
    SearchSpaceError,
    TrialPruned,
    TunelabError,
)
from tunelab.pruners import BasePruner, NopPruner, make_pruner
from tunelab.registry import did_you_mean
from tunelab.space import CategoricalDistribution, Distribution, FloatDistribution, IntDistribution
from tunelab.storage import make_storage
from tunelab.study import Study, copy_study, create_study, load_study
from tunelab.trial import Trial, TrialRecord, TrialState, suggest

try:
    from scipy.stats import rankdata, rv_discrete
    from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
    from sklearn.exceptions import FitFailedWarning
    from sklearn.metrics import check_scoring, get_scorer_names
    from sklearn.model_selection import check_cv
    from sklearn.utils import _safe_indexing, check_random_state, get_tags
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.validation import check_is_fitted, indexable
except ImportError as error:  # get_tags needs scikit-learn 1.6
    raise MissingExtraError("scikit-learn>=1.6", "sklearn", "tunelab.sklearn") from error

__all__ = ["SearchFailedError", "TuneSearchCV"]

_WHERE = "TuneSearchCV"
SPACE_INDEX_PARAM = "param_distributions"
"""The study's parameter that says which dict of a list of ``param_distributions`` a trial
searched."""
QUANTILE_SUFFIX = ".quantile"
_QUANTILE_EDGE = 1e-6  # quantiles are kept this far inside (0, 1): ppf(0) of a normal is -inf
_SINGLE_METRIC = "score"  # the metric's name in cv_results_ keys when scoring names one


class SearchFailedError(TunelabError, ValueError):
    """No candidate of the search could be scored: every trial failed or was pruned."""


# --- the search space ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ranged:
    """A parameter the study searches as it is: a tunelab distribution, a scipy uniform,
    loguniform or randint, or a list of JSON scalars."""

    name: str
    distribution: Distribution

    @property
    def study_name(self) -> str:
        return self.name

    def suggest(self, trial: Trial) -> Any:
        return suggest(trial, self.name, self.distribution)

    def value(self, params: Mapping[str, Any]) -> Any:
        return params[self.name]

    def example(self) -> Any:
        return self.distribution.from_unit(0.5)


@dataclass(frozen=True)
class _Objects:
    """A list of values a study cannot store (estimators, tuples, arrays): the study chooses
    among their ``repr``, and the estimator gets the object itself."""

    name: str
    labels: tuple[str, ...]
    choices: tuple[Any, ...]

    @property
    def study_name(self) -> str:
        return self.name

    def suggest(self, trial: Trial) -> Any:
        return self.choices[self.labels.index(trial.suggest_categorical(self.name, self.labels))]

    def value(self, params: Mapping[str, Any]) -> Any:
        return self.choices[self.labels.index(params[self.name])]

    def example(self) -> Any:
        return self.choices[0]


@dataclass(frozen=True)
class _Quantiles:
    """A scipy.stats distribution that no tunelab range matches: the study chooses a quantile
    ``u`` (parameter ``<name>.quantile``) and the estimator gets ``ppf(u)``."""

    name: str
    frozen: Any
    discrete: bool

    @property
    def study_name(self) -> str:
        return self.name + QUANTILE_SUFFIX

    def suggest(self, trial: Trial) -> Any:
        return self._at(trial.suggest_float(self.study_name, 0.0, 1.0))

    def value(self, params: Mapping[str, Any]) -> Any:
        return self._at(params[self.study_name])

    def example(self) -> Any:
        return self._at(0.5)

    def _at(self, quantile: float) -> Any:
        value = self.frozen.ppf(min(max(quantile, _QUANTILE_EDGE), 1.0 - _QUANTILE_EDGE))
        return int(value) if self.discrete else float(value)


_Parameter = _Ranged | _Objects | _Quantiles


@dataclass(frozen=True)
class _Space:
    """``param_distributions`` as the study searches it: one or several dicts of parameters."""

    subspaces: tuple[tuple[_Parameter, ...], ...]

    def suggest(self, trial: Trial) -> dict[str, Any]:
        """The estimator parameters of a new trial."""
        index = 0
        if len(self.subspaces) > 1:
            index = trial.suggest_categorical(SPACE_INDEX_PARAM, list(range(len(self.subspaces))))
        return {parameter.name: parameter.suggest(trial) for parameter in self.subspaces[index]}

    def params_of(self, record: TrialRecord) -> dict[str, Any]:
        """The estimator parameters a finished trial ran with (those it got to suggest)."""
        chosen = self.subspaces[int(record.params.get(SPACE_INDEX_PARAM) or 0)]
        return {p.name: p.value(record.params) for p in chosen if p.study_name in record.params}


def _search_space(param_distributions: Any, estimator: Any) -> _Space:
    """``param_distributions`` checked against ``estimator``; a ConfigError naming the parameter
    and the fix for anything that cannot be searched."""
    spaces = param_distributions
    if isinstance(param_distributions, Mapping):
        spaces = [param_distributions]
    if (
        isinstance(spaces, (str, bytes))
        or not isinstance(spaces, Sequence)
        or not spaces
        or not all(isinstance(space, Mapping) and space for space in spaces)
    ):
        raise ConfigError(
            f"{_WHERE}: param_distributions={param_distributions!r} must be a non-empty dict of "
            "{parameter name: distribution or list of values}, or a list of such dicts, e.g. "
            "{'alpha': scipy.stats.loguniform(1e-4, 1e2)}.",
            field="param_distributions",
        )
    subspaces = tuple(
        tuple(_parameter(name, value) for name, value in space.items()) for space in spaces
    )
    _check_names(estimator, subspaces)
    return _Space(subspaces)


def _parameter(name: Any, value: Any) -> _Parameter:
    where = f"{_WHERE}: param_distributions[{name!r}]"
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"{where}: a parameter is named by a non-empty string, such as 'alpha' or "
            "'ridge__alpha' for a Pipeline's step.",
            field="param_distributions",
        )
    try:
        if isinstance(value, (FloatDistribution, IntDistribution, CategoricalDistribution)):
            return _Ranged(name, value)
        if hasattr(value, "rvs"):
            return _from_scipy(name, value, where)
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
            raise ConfigError(
                f"{where} is {value!r}; give a list of values, a tunelab distribution "
                "(tunelab.distributions.FloatDistribution, IntDistribution, "
                "CategoricalDistribution) or a scipy.stats distribution such as "
                "loguniform(1e-3, 1e3).",
                field="param_distributions",
            )
        return _from_list(name, list(value))
    except SearchSpaceError as error:
        raise ConfigError(f"{where}: {error}", field="param_distributions") from None


def _from_list(name: str, choices: list[Any]) -> _Parameter:
    plain = [c.item() if isinstance(c, np.generic) else c for c in choices]
    if all(c is None or isinstance(c, (bool, int, float, str)) for c in plain):
        return _Ranged(name, CategoricalDistribution(tuple(plain)))
    labels = [repr(choice) for choice in choices]
    if len(set(labels)) < len(labels):  # distinct objects that print alike
        labels = [f"{index}: {label}" for index, label in enumerate(labels)]
    return _Objects(name, tuple(labels), tuple(choices))


def _from_scipy(name: str, frozen: Any, where: str) -> _Parameter:
    """A frozen scipy.stats distribution as the closest tunelab range, or as its quantiles."""
    family = getattr(frozen, "dist", None)
    if family is None or not callable(getattr(frozen, "ppf", None)):
        raise ConfigError(
            f"{where} is a {type(frozen).__name__}, which draws values (rvs) but has no ppf: "
            "tunelab's samplers choose each value themselves, so they need a distribution "
            "they can place one in. Give a frozen scipy.stats distribution (e.g. "
            "scipy.stats.norm(0, 1)), a tunelab distribution or a list of values.",
            field="param_distributions",
        )
    low, high = frozen.support()
    shapes = family.numargs  # frozen.args holds the shapes, then loc and scale
    loc = frozen.kwds.get("loc", frozen.args[shapes] if len(frozen.args) > shapes else 0)
    if family.name == "uniform":
        return _Ranged(name, FloatDistribution(float(low), float(high)))
    if family.name in ("loguniform", "reciprocal") and loc == 0:
        return _Ranged(name, FloatDistribution(float(low), float(high), log=True))
    if family.name == "randint":
        return _Ranged(name, IntDistribution(int(low), int(high)))
    return _Quantiles(name, frozen, isinstance(family, rv_discrete))


def _check_names(estimator: Any, subspaces: tuple[tuple[_Parameter, ...], ...]) -> None:
    """Set each parameter on a copy of ``estimator``, as each trial will: a name the estimator
    does not take fails here, once, rather than in every trial."""
    for parameters in subspaces:
        probe = clone(estimator)
        for parameter in parameters:
            try:
                probe.set_params(**{parameter.name: parameter.example()})
            except ValueError:
                valid = sorted(estimator.get_params(deep=True))
                raise ConfigError(
                    f"{_WHERE}: param_distributions names {parameter.name!r}, which "
                    f"{type(estimator).__name__} does not take"
                    f"{did_you_mean(parameter.name, valid)}. Its parameters are: "
                    f"{', '.join(valid)}. Inside a Pipeline, name a step's parameter "
                    "step__parameter, e.g. 'ridge__alpha'.",
                    field="param_distributions",
                ) from None


# --- one trial: cross-validation of one candidate -----------------------------------------------


@dataclass(frozen=True)
class _Epochs:
    """How a search trains by ``partial_fit``: the epochs per fold, and every how many of them
    the folds are scored and the pruner asked."""

    count: int
    score_every: int

    def scored(self, epoch: int) -> bool:
        """Whether the folds are scored after ``epoch`` (from 0): every ``score_every``-th
        epoch, and the last, whose scores are the trial's."""
        return (epoch + 1) % self.score_every == 0 or epoch == self.count - 1


class _FoldRun:
    """One candidate on one fold: its model, the time spent and the scores, as they come."""

    def __init__(self, search: _CrossValidation, estimator: Any, fold: Fold) -> None:
        self.search = search
        self.fold = fold
        self.model = clone(estimator)
        self.fit_time = 0.0
        self.score_time = 0.0
        self.test: dict[str, float] | None = None
        self.train: dict[str, float] | None = None
        self.error: str | None = None
        self.curve: list[list[float]] = []
        self.epochs = 0  # partial_fit calls made

    @cached_property
    def train_rows(self) -> tuple[Any, Any, dict[str, Any]]:
        return self.search.rows(self.fold.train)

    @cached_property
    def validation_rows(self) -> tuple[Any, Any, dict[str, Any]]:
        return self.search.rows(self.fold.validation)

    def fit(self) -> None:
        self._train(self.model.fit, {})

    def partial_fit(self) -> None:
        # Only the first call needs the classes; given again, each call would check them again.
        first = self.epochs == 0 and self.search.classes is not None
        self._train(self.model.partial_fit, {"classes": self.search.classes} if first else {})
        self.epochs += 1

    def score(self) -> float:
        """Score the model on the fold's validation rows; the value of the study's metric."""
        start = time.perf_counter()
        self.test = self._scores(self.validation_rows)
        self.score_time += time.perf_counter() - start
        return self.test[self.search.metric]

    def score_train(self) -> None:
        if self.search.return_train_score:
            self.train = self._scores(self.train_rows)

    def result(self, finished: bool) -> dict[str, Any]:
        """What the trial keeps of this fold (scores only of a fold that finished training)."""
        return {
            "fit_time": self.fit_time,
            "score_time": self.score_time,
            "test_scores": self.test if finished else None,
            "train_scores": self.train if finished else None,
            "error": self.error,
        }

    def _train(self, method: Callable[..., Any], extra: dict[str, Any]) -> None:
        if self.error is not None:  # a fold that failed keeps its error score
            return
        X, y, params = self.train_rows
        start = time.perf_counter()
        try:
            method(X, y, **extra, **params)
        except Exception as error:
            self._failed(error)
        finally:
            self.fit_time += time.perf_counter() - start

    def _scores(self, rows: tuple[Any, Any, dict[str, Any]]) -> dict[str, float]:
        if self.error is None:
            try:
                return self.search.score(self.model, rows[0], rows[1])
            except Exception as error:
                self._failed(error)
        return dict.fromkeys(self.search.metrics, float(self.search.error_score))

    def _failed(self, error: Exception) -> None:
        """A numeric error_score stands in for the fold's scores; with NaN or "raise" the
        error ends the trial (NaN: as a failed trial; "raise": the whole search)."""
        score = self.search.error_score
        if isinstance(score, str) or math.isnan(score):
            raise error
        self.error = f"{type(error).__name__}: {error}"


class _CrossValidation:
    """The objective: cross-validates the candidate a trial suggests. A module-level class
    holding the estimator and the data, so that it pickles to worker processes."""

    def __init__(
        self,
        estimator: Any,
        space: _Space,
        data: tuple[Any, Any, dict[str, Any]],
        folds: list[Fold],
        scoring: tuple[Callable[..., Any], list[str], str],
        error_score: float | str,
        return_train_score: bool,
        epochs: _Epochs | None,
        prune: bool,
    ) -> None:
        self.estimator = estimator
        self.space = space
        self.X, self.y, self.fit_params = data
        self.folds = folds
        self.scorer, self.metrics, self.metric = scoring
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.epochs = epochs  # None: one fit per fold
        self.prune = prune  # False when the study prunes nothing: never ask it
        self.classes = (
            np.unique(self.y) if epochs is not None and is_classifier(estimator) else None
        )

    def __call__(self, trial: Trial) -> float:
        params = self.space.suggest(trial)
        estimator = clone(self.estimator).set_params(**clone(params, safe=False))
        if self.epochs is None:

            def fit_fold(fold: Fold, view: FoldTrial) -> float:
                return self._fit_fold(estimator, fold, view)

            return cross_validate(trial, fit_fold, self.folds, prune=self.prune)
        return self._fit_by_epochs(trial, estimator, self.epochs)

    def rows(self, indices: np.ndarray) -> tuple[Any, Any, dict[str, Any]]:
        """X, y and the fit parameters of the rows ``indices`` (sample weights and the like
        are cut to them; other fit parameters pass whole)."""
        n_samples = _n_samples(self.X)
        params = {
            key: _take(value, indices) if _is_per_sample(value, n_samples) else value
            for key, value in self.fit_params.items()
        }
        y = None if self.y is None else _take(self.y, indices)
        return _take(self.X, indices), y, params

    def score(self, model: Any, X: Any, y: Any) -> dict[str, float]:
        """Every metric's score of ``model`` on ``X``, ``y``, by name."""
        scores = self.scorer(model, X, y)
        if not isinstance(scores, Mapping):
            scores = {_SINGLE_METRIC: scores}
        return {name: float(value) for name, value in scores.items()}

    def _fit_fold(self, estimator: Any, fold: Fold, view: FoldTrial) -> float:
        run = _FoldRun(self, estimator, fold)
        try:
            run.fit()
            score = run.score()
            run.score_train()
        finally:
            view.set_user_attr(FOLD_RESULT_KEY, run.result(finished=True))
        return score

    def _fit_by_epochs(self, trial: Trial, estimator: Any, epochs: _Epochs) -> float:
        """Train every fold one epoch at a time with partial_fit; after each scored epoch,
        report the folds' mean validation score (step = epoch) and stop if the pruner says
        so."""
        runs = [_FoldRun(self, estimator, fold) for fold in self.folds]
        finished = False
        try:
            for epoch in range(epochs.count):
                for run in runs:
                    run.partial_fit()
                if not epochs.scored(epoch):
                    continue
                for run in runs:
                    run.curve.append([epoch, run.score()])
                mean = float(np.mean([run.curve[-1][1] for run in runs]))
                trial.report(mean, step=epoch)
                if self.prune and epoch < epochs.count - 1 and trial.should_prune():
                    raise TrialPruned(
                        f"pruned after epoch {epoch + 1} of {epochs.count} with a mean "
                        f"validation score of {mean:.4g}"
                    )
            for run in runs:
                run.score_train()
            finished = True
        finally:
            results = [run.result(finished) for run in runs]
            trial.set_user_attr(PER_FOLD_PREFIX + FOLD_RESULT_KEY, results)
            trial.set_system_attr(CV_CURVES_ATTR, [run.curve for run in runs])
        scores = [run.curve[-1][1] for run in runs]
        trial.set_user_attr(CV_SCORES_ATTR, scores)
        trial.set_user_attr(CV_MEAN_ATTR, mean)
        trial.set_user_attr(CV_STD_ATTR, float(np.std(scores)))
        return mean


def _take(data: Any, indices: np.ndarray) -> Any:
    """The rows ``indices`` of ``data``. A numpy array is indexed directly: scikit-learn's
    ``_safe_indexing`` first asks which dataframe library the data belongs to, which costs
    more than cutting a small array (some 70 µs a call). Dataframes, sparse matrices and
    lists go through it."""
    if type(data) is np.ndarray:
        return data[indices]
    return _safe_indexing(data, indices)


def _n_samples(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _is_per_sample(value: Any, n_samples: int) -> bool:
    try:
        return not isinstance(value, (str, bytes)) and _n_samples(value) == n_samples
    except TypeError:
        return False


# --- cv_results_ --------------------------------------------------------------------------------


def _cv_results(
    records: Sequence[TrialRecord],
    space: _Space,
    metrics: Sequence[str],
    n_splits: int,
    train_scores: bool,
) -> dict[str, Any]:
    """The trials as ``RandomizedSearchCV.cv_results_`` lays out its candidates, one row per
    trial in number order, with a ``state`` column (COMPLETE, PRUNED, FAIL).

    A fold that did not run (pruned or failed before it) scores NaN, so a pruned or failed
    trial's mean test score is NaN and ranks last, as a failed candidate does in scikit-learn.
    The times are means over the folds that ran.
    """
    results: dict[str, Any] = {}
    for key in ("fit_time", "score_time"):
        times = _per_fold(records, n_splits, itemgetter(key))
        with warnings.catch_warnings():  # a trial that ran no fold has no mean: NaN, quietly
            warnings.simplefilter("ignore", RuntimeWarning)
            results[f"mean_{key}"] = np.nanmean(times, axis=1)
            results[f"std_{key}"] = np.nanstd(times, axis=1)
    params = [space.params_of(record) for record in records]
    results.update(_param_columns(params))
    results["params"] = params
    for kind in ("test", "train") if train_scores else ("test",):
        for metric in metrics:
            scores = _per_fold(records, n_splits, _score_of(kind, metric))
            for split in range(n_splits):
                results[f"split{split}_{kind}_{metric}"] = scores[:, split]
            results[f"mean_{kind}_{metric}"] = scores.mean(axis=1)
            results[f"std_{kind}_{metric}"] = scores.std(axis=1)
            if kind == "test":
                results[f"rank_test_{metric}"] = _rank(results[f"mean_test_{metric}"])
    results["state"] = np.array([record.state.name for record in records], dtype=object)
    return results


def _per_fold(
    records: Sequence[TrialRecord], n_splits: int, pick: Callable[[dict[str, Any]], Any]
) -> np.ndarray:
    """A (trials, folds) array of what ``pick`` takes from each fold's result; NaN where a
    fold did not run or ``pick`` gives None."""
    table = np.full((len(records), n_splits), np.nan)
    for row, record in enumerate(records):
        for split, result in enumerate(_fold_results(record)):
            value = None if result is None else pick(result)
            if value is not None:
                table[row, split] = value
    return table


def _fold_results(record: TrialRecord) -> list[dict[str, Any] | None]:
    """What a trial stored of each fold (:meth:`_FoldRun.result`); None for a fold not run."""
    return list(record.user_attrs.get(PER_FOLD_PREFIX + FOLD_RESULT_KEY) or [])


def _score_of(kind: str, metric: str) -> Callable[[dict[str, Any]], float | None]:
    def pick(result: dict[str, Any]) -> float | None:
        scores = result[f"{kind}_scores"]
        return None if scores is None else float(scores[metric])

    return pick


def _param_columns(params: Sequence[Mapping[str, Any]]) -> dict[str, np.ma.MaskedArray]:
    """``param_<name>``: per trial, the value it gave ``name``, masked where it gave none."""
    columns = {}
    for name in sorted({name for candidate in params for name in candidate}):
        values = [candidate[name] for candidate in params if name in candidate]
        try:
            typed = np.array(values)
            dtype = typed.dtype if typed.ndim == 1 and typed.dtype.kind in "biuf" else object
        except ValueError:  # arrays of several lengths
            dtype = np.dtype(object)
        column = np.ma.MaskedArray(np.empty(len(params), dtype=dtype), mask=True)
        for row, candidate in enumerate(params):
            if name in candidate:
                column[row] = candidate[name]
        columns[f"param_{name}"] = column
    return columns


def _rank(means: np.ndarray) -> np.ndarray:
    """Rank 1 for the best mean; candidates without a mean (NaN) tie for the last place."""
    if np.isnan(means).all():
        return np.ones(len(means), dtype=np.int32)
    filled = np.where(np.isnan(means), np.nanmin(means) - 1.0, means)
    return np.asarray(rankdata(-filled, method="min"), dtype=np.int32)


def _check_outcome(records: Sequence[TrialRecord]) -> None:
    """A SearchFailedError if no trial completed, or if every fit of the search failed (a
    numeric error_score completes trials whose folds all failed); a FitFailedWarning if some
    fits failed."""
    reasons = [r.fail_reason or "no reason given" for r in records if r.state is TrialState.FAIL]
    fits = 0
    for record in records:
        ran = [result for result in _fold_results(record) if result is not None]
        reasons += [result["error"] for result in ran if result["error"] is not None]
        fits += len(ran)
    fits = max(fits, len(reasons))  # a trial can fail before its first fit
    states = {state.name: sum(r.state is state for r in records) for state in TrialState}
    completed = states[TrialState.COMPLETE.name]
    if not completed or (reasons and len(reasons) >= fits):
        counts = ", ".join(f"{n} {name.lower()}" for name, n in states.items() if n)
        first = f" The first error: {reasons[0]}." if reasons else ""
        raise SearchFailedError(
            f"{_WHERE}: no candidate could be scored ({counts or 'no trial ran'}).{first} "
            "Fix what makes the fits fail (see the trials' fail_reason in study_), or pass "
            "error_score='raise' to see the first error where it happens."
        )
    if reasons:
        warnings.warn(
            f"{len(reasons)} of {fits} fits failed; their scores are error_score. The first "
            f"error: {reasons[0]}",
            FitFailedWarning,
            stacklevel=3,
        )


# --- the estimator ------------------------------------------------------------------------------


def _check_refit(search: TuneSearchCV, attr: str) -> None:
    if search.refit is False:
        raise AttributeError(
            f"This {type(search).__name__} was made with refit=False, so it keeps no best "
            f"estimator and has no {attr}. Fit one on search.best_params_, or search with "
            "refit=True."
        )


def _best_estimator_has(attr: str) -> Callable[[TuneSearchCV], bool]:
    """For ``available_if``: whether the estimator that would answer ``attr`` has it."""

    def check(search: TuneSearchCV) -> bool:
        _check_refit(search, attr)
        getattr(getattr(search, "best_estimator_", search.estimator), attr)
        return True

    return check


class TuneSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Search ``estimator``'s parameters with a tunelab study, cross-validated and pruned
    between folds (or between epochs); see the module docstring.

    Args:
        estimator: any scikit-learn estimator (a Pipeline too), cloned for every fit.
        param_distributions: ``{name: distribution}``, or a list of such dicts; a distribution
            is a tunelab distribution, a ``scipy.stats`` distribution or a list of values.
        n_trials: how many candidates to try (``RandomizedSearchCV``'s ``n_iter``).
        cv: folds, as in scikit-learn: None (5), a number, a splitter or an iterable of
            (train, test) index pairs; stratified for a classifier.
        scoring: None (the estimator's ``score``), a scorer name, a callable, or a list or dict
            of them (several metrics: ``refit`` then names the one the study maximizes, or
            with ``refit=False`` or a callable, the study maximizes the first).
        refit: refit the best candidate on all the data as ``best_estimator_`` (True, a metric
            name, or a callable that picks ``best_index_`` from ``cv_results_``), or not (False).
        n_jobs: trials at once in worker processes (None: 1; -1: one per core).
        timeout: stop starting trials after this many seconds.
        sampler, pruner: as in :func:`tunelab.create_study` (a name, ``{"name": ...}`` or an
            object). ``sampler="tpe"`` by default (see the module docstring);
            ``pruner=None`` prunes nothing.
        storage, study_name: where the study lives (in memory by default) and its name; each
            fit creates a new study.
        random_state: seeds a sampler given by name (an int, a ``RandomState`` or None).
        error_score: the score of a fit that raises (a number, with a FitFailedWarning), NaN
            (the trial fails at that fold) or ``"raise"``.
        return_train_score: also score each fold's model on its training rows.
        partial_fit_epochs: train with ``partial_fit``, this many epochs per fold, pruning
            between epochs (None: one ``fit`` per fold, pruning between folds).
        score_every_epochs: with ``partial_fit_epochs``, score the folds and ask the pruner
            every this many epochs, and after the last (None: ``ceil(partial_fit_epochs / 5)``).
        verbose: above 0, a progress bar of the trials.
    """

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        n_trials: int = 10,
        cv: Any = None,
        scoring: Any = None,
        refit: bool | str | Callable[..., int] = True,
        n_jobs: int | None = None,
        timeout: float | None = None,
        sampler: Any = "tpe",
        pruner: Any = "median",
        storage: Any = None,
        study_name: str | None = None,
        random_state: Any = None,
        error_score: float | str = np.nan,
        return_train_score: bool = False,
        partial_fit_epochs: int | None = None,
        score_every_epochs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.cv = cv
        self.scoring = scoring
        self.refit = refit
        self.n_jobs = n_jobs
        self.timeout = timeout
        self.sampler = sampler
        self.pruner = pruner
        self.storage = storage
        self.study_name = study_name
        self.random_state = random_state
        self.error_score = error_score
        self.return_train_score = return_train_score
        self.partial_fit_epochs = partial_fit_epochs
        self.score_every_epochs = score_every_epochs
        self.verbose = verbose

    def fit(self, X: Any, y: Any = None, groups: Any = None, **fit_params: Any) -> TuneSearchCV:
        """Run the search on ``X``, ``y``; ``groups`` goes to the splitter, ``fit_params`` to
        every fit (those with one value per row, such as ``sample_weight``, cut to the fold)."""
        self._check_options()
        X, y, groups = indexable(X, y, groups)
        if y is None and get_tags(self.estimator).target_tags.required:
            raise ConfigError(
                f"{_WHERE}: {type(self.estimator).__name__} requires y to be passed, but the "
                "target y is None; call fit(X, y).",
                field="y",
            )
        space = _search_space(self.param_distributions, self.estimator)
        scorer, metrics, metric = self._scoring()
        splitter = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        folds = [
            Fold(index, np.asarray(train), np.asarray(test))
            for index, (train, test) in enumerate(splitter.split(X, y, groups))
        ]
        seed = _seed(self.random_state)
        pruner = make_pruner("none" if self.pruner is None else copy.deepcopy(self.pruner), seed)
        objective = _CrossValidation(
            self.estimator, space, (X, y, fit_params), folds, (scorer, metrics, metric),
            self.error_score, self.return_train_score, self._epochs(),
            prune=not isinstance(pruner, NopPruner),
        )
        self.study_ = self._run(objective, pruner, seed)
        self.trials_ = self.study_.trials
        self.n_splits_ = len(folds)
        self.multimetric_ = isinstance(self.scoring, (Mapping, list, tuple, set))
        self.scorer_: Any = self._scorers() if self.multimetric_ else scorer
        self._metric = metric
        self.cv_results_ = _cv_results(
            self.trials_, space, metrics, len(folds), self.return_train_score
        )
        _check_outcome(self.trials_)
        if self.refit is not False or not self.multimetric_:
            self._choose_best(metric)
        if self.refit is not False:
            self._refit(X, y, fit_params)
        return self

    # The best candidate's estimator answers these, when the search refit one.

    @available_if(_best_estimator_has("predict"))
    def predict(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict(X)

    @available_if(_best_estimator_has("predict_proba"))
    def predict_proba(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict_proba(X)

    @available_if(_best_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.predict_log_proba(X)

    @available_if(_best_estimator_has("decision_function"))
    def decision_function(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.decision_function(X)

    @available_if(_best_estimator_has("score_samples"))
    def score_samples(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.score_samples(X)

    @available_if(_best_estimator_has("transform"))
    def transform(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.transform(X)

    @available_if(_best_estimator_has("inverse_transform"))
    def inverse_transform(self, X: Any) -> Any:
        check_is_fitted(self)
        return self.best_estimator_.inverse_transform(X)

    def score(self, X: Any, y: Any = None) -> float:
        """The best estimator's score on ``X``, ``y`` by the search's metric (``scoring``, or
        the estimator's own ``score``)."""
        _check_refit(self, "score")
        check_is_fitted(self)
        scorer = self.scorer_[self._metric] if self.multimetric_ else self.scorer_
        return float(scorer(self.best_estimator_, X, y))

    @property
    def classes_(self) -> Any:
        _check_refit(self, "classes_")
        return self.best_estimator_.classes_

    @property
    def n_features_in_(self) -> int:
        _check_refit(self, "n_features_in_")
        return int(self.best_estimator_.n_features_in_)

    @property
    def feature_names_in_(self) -> Any:
        _check_refit(self, "feature_names_in_")
        return self.best_estimator_.feature_names_in_

    def __sklearn_tags__(self) -> Any:
        # What the search accepts and predicts is what its estimator does.
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = copy.deepcopy(inner.classifier_tags)
        tags.regressor_tags = copy.deepcopy(inner.regressor_tags)
        tags.target_tags = copy.deepcopy(inner.target_tags)
        tags.input_tags.pairwise = inner.input_tags.pairwise
        tags.input_tags.sparse = inner.input_tags.sparse
        return tags

    def __getstate__(self) -> dict[str, Any]:
        # A study holds locks and connections: it travels as its trials, rebuilt in memory.
        state = dict(super().__getstate__())
        if isinstance(state.get("study_"), Study):
            state["study_"] = _PickledStudy.of(state["study_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("study_"), _PickledStudy):
            state = {**state, "study_": state["study_"].rebuild()}
        super().__setstate__(state)

    # --- fit, step by step ----------------------------------------------------------------------

    def _check_options(self) -> None:
        check_int(_WHERE, "n_trials", self.n_trials, 1, "the number of candidates to try.")
        check_flag(_WHERE, "return_train_score", self.return_train_score)
        check_int(_WHERE, "verbose", self.verbose, 0, "0 is silent, 1 shows a progress bar.")
        if self.partial_fit_epochs is not None:
            check_int(_WHERE, "partial_fit_epochs", self.partial_fit_epochs, 1,
                      "the number of partial_fit epochs per fold, or None to fit once.")
            if not callable(getattr(self.estimator, "partial_fit", None)):
                raise ConfigError(
                    f"{_WHERE}: partial_fit_epochs={self.partial_fit_epochs} trains with "
                    f"partial_fit, which {type(self.estimator).__name__} has not; leave "
                    "partial_fit_epochs out, or search an estimator that learns "
                    "incrementally (SGDClassifier, MLPClassifier, a skorch net, ...).",
                    field="partial_fit_epochs",
                )
        if self.score_every_epochs is not None:
            check_int(_WHERE, "score_every_epochs", self.score_every_epochs, 1,
                      "the folds are scored every this many epochs, or None for about 5 times.")
            if self.partial_fit_epochs is None:
                raise ConfigError(
                    f"{_WHERE}: score_every_epochs={self.score_every_epochs} says how often "
                    "training by partial_fit epochs is scored, but partial_fit_epochs is None "
                    "(one fit per fold, scored once); set partial_fit_epochs too, or leave "
                    "score_every_epochs out.",
                    field="score_every_epochs",
                )
        score = self.error_score
        if score != "raise" and (
            isinstance(score, (bool, str)) or not isinstance(score, numbers.Real)
        ):
            raise ConfigError(
                f"{_WHERE}: error_score={score!r} must be a number (the score of a fit that "
                "fails; NaN fails its trial) or 'raise'.",
                field="error_score",
            )
        if not (isinstance(self.refit, bool) or isinstance(self.refit, str)
                or callable(self.refit)):
            raise ConfigError(
                f"{_WHERE}: refit={self.refit!r} must be True, False, the name of a metric of "
                "scoring, or a callable that returns best_index_ from cv_results_.",
                field="refit",
            )

    def _epochs(self) -> _Epochs | None:
        """The partial_fit training of each fold; None for one fit per fold."""
        if self.partial_fit_epochs is None:
            return None
        every = self.score_every_epochs or math.ceil(self.partial_fit_epochs / 5)
        return _Epochs(self.partial_fit_epochs, every)

    def _scorers(self) -> dict[str, Callable[..., Any]]:
        """Several metrics' scorers by name (``scoring`` a list or a dict)."""
        named = (
            dict(self.scoring) if isinstance(self.scoring, Mapping)
            else {name: name for name in self.scoring}
        )
        if not named:
            raise ConfigError(
                f"{_WHERE}: scoring={self.scoring!r} names no metric; name one or more, or "
                "leave scoring out for the estimator's score.",
                field="scoring",
            )
        return {str(name): self._scorer(scoring) for name, scoring in named.items()}

    def _scorer(self, scoring: Any) -> Callable[..., Any]:
        if isinstance(scoring, str) and scoring not in get_scorer_names():
            raise ConfigError(
                f"{_WHERE}: scoring={scoring!r} is not a scorer name"
                f"{did_you_mean(scoring, get_scorer_names())}; see "
                "sklearn.metrics.get_scorer_names(), or give a callable "
                "scorer(estimator, X, y).",
                field="scoring",
            )
        try:
            scorer: Callable[..., Any] = check_scoring(self.estimator, scoring=scoring)
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{_WHERE}: scoring={scoring!r}: {error}", field="scoring") from None
        return scorer

    def _scoring(self) -> tuple[Callable[..., Any], list[str], str]:
        """The scorer (one callable; for several metrics it gives a dict), the metrics' names
        and the one the study maximizes."""
        if not isinstance(self.scoring, (Mapping, list, tuple, set)):
            if isinstance(self.refit, str):
                raise ConfigError(
                    f"{_WHERE}: refit={self.refit!r} names a metric, which only a scoring with "
                    "several metrics (a list or dict) has; use refit=True.",
                    field="refit",
                )
            return self._scorer(self.scoring), [_SINGLE_METRIC], _SINGLE_METRIC
        scorers = self._scorers()
        names = list(scorers)
        if self.refit is True:
            raise ConfigError(
                f"{_WHERE}: scoring has several metrics ({', '.join(names)}), so refit must "
                "name the one to maximize and refit on, e.g. refit="
                f"{names[0]!r} (or be False, or a callable choosing best_index_).",
                field="refit",
            )
        if isinstance(self.refit, str) and self.refit not in scorers:
            raise ConfigError(
                f"{_WHERE}: refit={self.refit!r} is not a metric of scoring"
                f"{did_you_mean(self.refit, names)}; name one of: {', '.join(names)}.",
                field="refit",
            )
        metric = self.refit if isinstance(self.refit, str) else names[0]
        return check_scoring(self.estimator, scoring=scorers), names, metric

    def _run(self, objective: _CrossValidation, pruner: BasePruner, seed: int | None) -> Study:
        """Create the study and run the trials; with worker processes and no storage given,
        on a temporary SQLite file, copied into memory afterwards."""
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        with _study_storage(self.storage, n_jobs) as (storage, temporary):
            try:
                study = create_study(
                    name=self.study_name,
                    storage=storage,
                    direction="maximize",
                    sampler=copy.deepcopy(self.sampler),  # a fresh one, as for a new study
                    pruner=pruner,
                    seed=seed,
                )
            except DuplicatedStudyError:
                raise ConfigError(
                    f"{_WHERE}: study_name={self.study_name!r} already names a study in "
                    f"{storage}; each fit starts a new study, so give another name, leave "
                    "study_name out, or delete that study with tunelab.delete_study(...).",
                    field="study_name",
                ) from None
            study.optimize(
                objective,
                n_trials=self.n_trials,
                timeout=self.timeout,
                n_jobs=n_jobs,
                catch=() if self.error_score == "raise" else (Exception,),
                show_progress_bar=self.verbose > 0,
            )
            if temporary:
                study = _in_memory(study)
        return study

    def _choose_best(self, metric: str) -> None:
        means = self.cv_results_[f"mean_test_{metric}"]
        if not callable(self.refit):
            index = int(np.nanargmax(means))
            self.best_score_ = float(means[index])
        else:
            index = self.refit(self.cv_results_)
            if (
                isinstance(index, (bool, np.bool_))
                or not isinstance(index, numbers.Integral)
                or not 0 <= index < len(means)
            ):
                raise ConfigError(
                    f"{_WHERE}: the refit callable returned {index!r}; it must return the index "
                    f"of a row of cv_results_, from 0 to {len(means) - 1}.",
                    field="refit",
                )
        self.best_index_ = int(index)
        self.best_params_ = self.cv_results_["params"][self.best_index_]

    def _refit(self, X: Any, y: Any, fit_params: dict[str, Any]) -> None:
        """The best candidate fit on all the data, as each fold fit it (partial_fit epochs
        or one fit)."""
        best = clone(clone(self.estimator).set_params(**clone(self.best_params_, safe=False)))
        start = time.perf_counter()
        if self.partial_fit_epochs is None:
            best.fit(X, y, **fit_params)
        else:
            classes = {"classes": np.unique(y)} if is_classifier(self.estimator) else {}
            for epoch in range(self.partial_fit_epochs):
                best.partial_fit(X, y, **(classes if epoch == 0 else {}), **fit_params)
        self.refit_time_ = time.perf_counter() - start
        self.best_estimator_ = best


@contextmanager
def _study_storage(storage: Any, n_jobs: int) -> Iterator[tuple[Any, bool]]:
    """The storage to create the study in, and whether it is a temporary file: worker processes
    cannot see a study in this process's memory."""
    if storage is not None or n_jobs == 1:
        yield storage, False
        return
    with tempfile.TemporaryDirectory(prefix="tunelab-search-") as folder:
        yield f"sqlite:///{Path(folder) / 'search.db'}", True


def _in_memory(study: Study) -> Study:
    """A copy of ``study`` in this process's memory, its storage closed."""
    memory = make_storage(None)
    copy_study(from_study_name=study.study_name, from_storage=study.storage, to_storage=memory)
    study.storage.close()
    return load_study(study.study_name, memory, sampler=study.sampler, pruner=study.pruner)


def _seed(random_state: Any) -> int | None:
    """The sampler's seed from scikit-learn's ``random_state``."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_int(_WHERE, "random_state", random_state, 0, "any whole number seeds the search.")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(check_random_state(random_state).randint(2**31 - 1))
    raise ConfigError(
        f"{_WHERE}: random_state={random_state!r} must be None, a non-negative integer or a "
        "numpy RandomState.",
        field="random_state",
    )


@dataclass(frozen=True)
class _PickledStudy:
    """A study as a pickled search keeps it: its name, trials, sampler and pruner."""

    name: str
    trials: list[TrialRecord]
    sampler: Any
    pruner: Any

    @classmethod
    def of(cls, study: Study) -> _PickledStudy:
        return cls(study.study_name, study.trials, study.sampler, study.pruner)

    def rebuild(self) -> Study:
        study = create_study(
            name=self.name, direction="maximize", sampler=self.sampler, pruner=self.pruner
        )
        study.add_trials(self.trials)
        return study
