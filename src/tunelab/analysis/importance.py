"""Hyperparameter and feature importance.

:func:`fanova_importances` follows functional ANOVA on a random forest: Hutter, Hoos and
Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter Importance" (ICML 2014). A
random forest is fitted to the completed trials (parameters -> objective). Each of its trees
cuts the search space into axis-aligned boxes, one per leaf, with a constant prediction in each;
so the marginal prediction of one parameter (the tree's prediction averaged over every other
parameter, uniformly over its range) is an exact, volume-weighted sum over the boxes, constant
between two consecutive split points of that parameter. A parameter's importance is the variance
of its marginal prediction as a fraction of the variance of the tree's whole prediction (both
over the uniform distribution on the space), averaged over the trees.

How parameters become the forest's inputs, one column each, every column on ``[0, 1]``:

- numbers take their distribution's unit form (:meth:`FloatDistribution.to_unit`): a log range
  on the log scale, so that a uniform measure on the column is the search's own measure;
- categories take their unit form too: choice ``i`` of ``n`` is the middle of the ``i``-th of
  ``n`` equal bins (ordinal encoding). One-hot columns would let the integration run over
  points that are no choice at all (no column hot, or two), and split one parameter's variance
  over several columns; in the ordinal column the uniform measure gives each choice exactly its
  share, and a fully grown tree isolates any choice with at most two cuts;
- a conditional parameter (momentum, asked for only when the optimizer is SGD) takes, in a
  trial without it, a value drawn uniformly from ``[0, 1]`` (seeded). Encoding "absent" as a
  level of its own would let the forest split on "active or not", a split equal to the one on
  the parameter that switches it on, and the credit for the optimizer would go to momentum even
  where its value changes nothing. With a random stand-in the parameter is irrelevant in the
  trials where it is inactive, so its importance measures how much its value matters where it
  is active, and switching it on counts for the parameter that does.

:func:`ped_anova_importances` rates instead how differently each parameter is distributed
among the best trials than among all (or the better part of them), which needs no model fitted:
Watanabe, Bansal and Hutter, "PED-ANOVA" (IJCAI 2023). :func:`mean_decrease_impurity_importances`
reads the impurity decrease of the fANOVA forest's splits.

:func:`permutation_importances` measures how much a trained model's score drops when one input
feature is shuffled across the samples (Breiman, "Random Forests", Machine Learning 2001, and
in the model-agnostic form of Fisher, Rudin and Dominici, "All Models are Wrong, but Many are
Useful", JMLR 2019). It takes a prediction function and a score function, so it works for
PyTorch models, scikit-learn estimators or anything else that maps inputs to predictions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tunelab.exceptions import ConfigError, MissingExtraError, TunelabError
from tunelab.registry import did_you_mean
from tunelab.space import (
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
)
from tunelab.trial import TrialRecord, TrialState

if TYPE_CHECKING:
    from sklearn.tree._tree import Tree

    from tunelab.study import Study

MIN_COMPLETED_TRIALS = 2
# A tree whose predictions vary less than this (relative to their size) fits a constant.
_FLAT_TREE_TOLERANCE = 1e-12

Target = Callable[[TrialRecord], float]


# --- fANOVA -----------------------------------------------------------------------------------


def fanova_importances(
    study: Study,
    params: Sequence[str] | None = None,
    *,
    n_trees: int = 64,
    max_depth: int | None = None,
    seed: int = 0,
    target: Target | str | None = None,
    normalize: bool = True,
) -> dict[str, float]:
    """Each parameter's share of the variance of the objective, by fANOVA, largest first.

    Args:
        study: a study with at least ``MIN_COMPLETED_TRIALS`` completed trials.
        params: the parameters to rate (default: every parameter of a completed trial).
        n_trees: trees of the random forest; more give steadier importances.
        max_depth: the depth at which the trees stop (default: fully grown, as in the paper).
        seed: seeds the forest, so that the same study gives the same importances.
        target: what to explain: a function of a completed trial (``lambda t: t.values[1]``),
            or the name of one of the study's objectives. Needed for a multi-objective study;
            by default the single objective value.

    The shares are the main effects of the forest's marginal predictions, averaged over the
    trees and rescaled to sum to 1; what the parameters explain only together (interactions)
    is left out before the rescaling. ``normalize=False`` skips the rescaling: each value is
    then the fraction of the forest's whole variance that the parameter explains alone.
    """
    forest, names, n_columns = _fitted_forest(
        "fanova_importances", study, params, n_trees, max_depth, seed, target
    )
    fractions = np.mean([tree_variance_fractions(t.tree_, n_columns) for t in forest], axis=0)
    return _shares("fanova_importances", names, fractions, normalize)


def mean_decrease_impurity_importances(
    study: Study,
    params: Sequence[str] | None = None,
    *,
    n_trees: int = 64,
    max_depth: int | None = None,
    seed: int = 0,
    target: Target | str | None = None,
    normalize: bool = True,
) -> dict[str, float]:
    """Each parameter's share of the impurity (squared error) that the forest's splits on it
    remove, averaged over the trees (Breiman, "Random Forests", 2001), largest first.

    The same forest, on the same encoded trials, as :func:`fanova_importances`, with the same
    arguments. Cheaper than fANOVA, but biased towards parameters with many distinct values
    (a continuous range offers more splits than a choice of two), and it credits a parameter
    for the interactions it takes part in; prefer fANOVA where the two disagree.
    """
    forest, names, _ = _fitted_forest(
        "mean_decrease_impurity_importances", study, params, n_trees, max_depth, seed, target
    )
    fractions = np.mean([tree.feature_importances_ for tree in forest], axis=0)
    return _shares("mean_decrease_impurity_importances", names, fractions, normalize)


class ImportanceEvaluator(Protocol):
    """What rates parameters for :func:`param_importances`: an object with this method (the
    shape of Optuna's importance evaluators), returning a number per parameter, higher for
    more important."""

    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Target | None = None
    ) -> dict[str, float]: ...


def param_importances(
    study: Study,
    *,
    evaluator: ImportanceEvaluator | None = None,
    params: list[str] | None = None,
    target: Target | None = None,
    normalize: bool = True,
) -> dict[str, float]:
    """The parameters' importances by ``evaluator`` (:func:`fanova_importances` with its
    defaults when None), most important first.

    ``normalize`` rescales them to shares that sum to 1 (equal shares when the evaluator rates
    every parameter 0). ``params=[]`` rates nothing and gives an empty dict.
    """
    if isinstance(params, (list, tuple)) and not params:
        return {}
    if evaluator is None:
        rated = fanova_importances(study, params, target=target, normalize=normalize)
    elif callable(getattr(evaluator, "evaluate", None)):
        rated = evaluator.evaluate(study, params=params, target=target)
    else:
        raise ConfigError(
            f"evaluator={evaluator!r} has no evaluate(study, params=..., target=...) method; "
            "pass an importance evaluator such as FanovaImportanceEvaluator(), or None.",
            field="evaluator",
        )
    ordered = dict(sorted(rated.items(), key=lambda item: -item[1]))
    total = sum(ordered.values())
    if not normalize or not ordered:
        return ordered
    if total == 0:
        return {name: 1.0 / len(ordered) for name in ordered}
    return {name: value / total for name, value in ordered.items()}


def _fitted_forest(
    method: str,
    study: Study,
    params: Sequence[str] | None,
    n_trees: int,
    max_depth: int | None,
    seed: int,
    target: Target | str | None,
) -> tuple[list[Any], list[str], int]:
    """The random forest fitted to the study's completed trials (encoded as the module
    docstring says), the names of its input columns, and their number."""
    _check_positive_int("n_trees", n_trees)
    if max_depth is not None:
        _check_positive_int("max_depth", max_depth)
    _check_seed(seed)
    records = study.get_trials((TrialState.COMPLETE,))
    if len(records) < MIN_COMPLETED_TRIALS:
        raise TunelabError(
            f"{method}: study {study.study_name!r} has {len(records)} completed "
            f"trial(s); importances need at least {MIN_COMPLETED_TRIALS}, and are only reliable "
            "with a few dozen. Run more trials first."
        )
    names = _chosen_params(method, records, params)
    y = _target_values(method, study, records, target)
    rng = np.random.default_rng(seed)
    x = encode_trials(records, names, _distributions(method, records, names), rng)
    return _fit_forest(x, y, n_trees, max_depth, seed), names, x.shape[1]


def encode_trials(
    records: Sequence[TrialRecord],
    names: Sequence[str],
    distributions: dict[str, Distribution],
    rng: np.random.Generator,
) -> np.ndarray:
    """The trials as rows of ``[0, 1]^len(names)``, encoded as the module docstring says;
    ``rng`` draws the stand-ins for the parameters a trial does not have."""
    columns = []
    for name in names:
        present = np.array([name in record.params for record in records])
        # Each value has the type that its distribution takes: a float, an int or a choice.
        values: list[Any] = [record.params.get(name) for record in records]
        unit = [
            distributions[name].to_unit(value) if here else 0.0
            for value, here in zip(values, present)
        ]
        stand_in = rng.random(len(records))
        columns.append(np.where(present, np.clip(unit, 0.0, 1.0), stand_in))
    return np.column_stack(columns)


def _chosen_params(
    method: str, records: Sequence[TrialRecord], params: Sequence[str] | None
) -> list[str]:
    """The parameters to rate, in first-seen order; the user's choice checked against them."""
    seen = list(dict.fromkeys(name for record in records for name in record.params))
    if params is None:
        if not seen:
            raise TunelabError(
                f"{method}: the completed trials have no parameters; an objective "
                "needs trial.suggest_* calls before its parameters can be rated."
            )
        return seen
    if isinstance(params, str) or not params:
        raise ConfigError(
            f"{method}: params={params!r} must be a non-empty list of parameter "
            "names, e.g. params=['lr', 'batch_size'], or None for all.",
            field="params",
        )
    for name in params:
        if name not in seen:
            raise ConfigError(
                f"{method}: parameter {name!r} is in no completed trial"
                f"{did_you_mean(str(name), seen)}; choose from {', '.join(seen)}.",
                field="params",
            )
    if len(set(params)) != len(params):
        raise ConfigError(
            f"{method}: params={list(params)!r} names a parameter twice; list each once.",
            field="params",
        )
    return list(params)


def _distributions(
    method: str, records: Sequence[TrialRecord], names: Sequence[str]
) -> dict[str, Distribution]:
    """One distribution per parameter; two trials that disagree make the encoding ambiguous."""
    found: dict[str, Distribution] = {}
    for record in records:
        for name in names:
            distribution = record.distributions.get(name)
            if distribution is None:
                continue
            if found.setdefault(name, distribution) != distribution:
                raise TunelabError(
                    f"{method}: parameter {name!r} has different distributions in "
                    f"different trials ({found[name]} and, in trial {record.number}, "
                    f"{distribution}), so its values cannot share one scale; leave it out with "
                    "params=[...], or rate the trials of one search space in their own study."
                )
    return found


def _target_values(
    method: str, study: Study, records: Sequence[TrialRecord], target: Target | str | None
) -> np.ndarray:
    value_of = _target_function(method, study, target)
    values = []
    for record in records:
        raw = value_of(record)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise TunelabError(
                f"{method}: target gave {raw!r} ({type(raw).__name__}) for trial "
                f"{record.number}; it must give a number."
            ) from None
        if not math.isfinite(value):
            raise TunelabError(
                f"{method}: target gave {value} for trial {record.number}; it must "
                "give a finite number for every completed trial."
            )
        values.append(value)
    return np.array(values)


def _target_function(method: str, study: Study, target: Target | str | None) -> Target:
    names = study.objective_names
    if target is None:
        if len(study.directions) != 1:
            raise ConfigError(
                f"{method}: study {study.study_name!r} has {len(study.directions)} "
                "objectives; say which to explain with target='<objective name>' (one of "
                f"{', '.join(names)}) or target=lambda trial: trial.values[0].",
                field="target",
            )
        return lambda record: record.values[0]  # type: ignore[index]
    if isinstance(target, str):
        if target not in names:
            raise ConfigError(
                f"{method}: target={target!r} is not an objective of study "
                f"{study.study_name!r}{did_you_mean(target, names)}; use one of "
                f"{', '.join(names)}.",
                field="target",
            )
        index = names.index(target)
        return lambda record: record.values[index]  # type: ignore[index]
    if not callable(target):
        raise ConfigError(
            f"{method}: target={target!r} must be an objective name or a function "
            "of a trial record, e.g. target=lambda trial: trial.values[1].",
            field="target",
        )
    return target


def _fit_forest(
    x: np.ndarray, y: np.ndarray, n_trees: int, max_depth: int | None, seed: int
) -> list[Any]:
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError as exc:
        raise MissingExtraError("scikit-learn", "torch", "Importances") from exc
    # Fully grown trees, as in the paper: each leaf then holds one or a few trials, and the
    # bootstrap (not pruning) is what makes the trees differ.
    forest = RandomForestRegressor(
        n_estimators=n_trees, max_depth=max_depth, random_state=seed, n_jobs=1
    )
    forest.fit(x, y)
    return list(forest.estimators_)


def leaf_boxes(tree: Tree, n_features: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leaves of a fitted scikit-learn tree as boxes of ``[0, 1]^n_features``.

    Returns ``(lower, upper, value)``: the corners of each leaf's box, ``(leaves, features)``
    each, and the leaf's prediction. scikit-learn sends ``x <= threshold`` to the left child.
    """
    # Each of these attributes builds a fresh array view when read: read them once.
    left_child, right_child = tree.children_left, tree.children_right
    split_feature, split_threshold = tree.feature, tree.threshold
    lower = np.zeros((tree.node_count, n_features))
    upper = np.ones((tree.node_count, n_features))
    # A level of the tree at a time: each split narrows its children's boxes on one feature.
    level = np.array([0])
    while level.size:
        parents = level[left_child[level] != right_child[level]]  # a leaf has -1 for both
        left, right = left_child[parents], right_child[parents]
        feature, threshold = split_feature[parents], split_threshold[parents]
        for children in (left, right):
            lower[children], upper[children] = lower[parents], upper[parents]
        upper[left, feature] = np.minimum(upper[parents, feature], threshold)
        lower[right, feature] = np.maximum(lower[parents, feature], threshold)
        level = np.concatenate((left, right))
    leaves = left_child == right_child
    return lower[leaves], upper[leaves], tree.value[leaves, 0, 0]


def tree_variance_fractions(tree: Tree, n_features: int) -> np.ndarray:
    """Per feature, the variance of the tree's marginal prediction over the tree's variance.

    A tree that predicts one constant has no variance to share and contributes zeros.
    """
    lower, upper, value = leaf_boxes(tree, n_features)
    widths = upper - lower
    volume = widths.prod(axis=1)
    mean = float(volume @ value)  # the space has volume 1
    total_variance = float(volume @ (value - mean) ** 2)
    if total_variance <= _FLAT_TREE_TOLERANCE * max(1.0, mean * mean):
        return np.zeros(n_features)
    return np.array(
        [
            _marginal_variance(lower[:, i], upper[:, i], widths, value, mean, i)
            for i in range(n_features)
        ]
    ) / total_variance


def _marginal_variance(
    lower: np.ndarray,
    upper: np.ndarray,
    widths: np.ndarray,
    value: np.ndarray,
    mean: float,
    feature: int,
) -> float:
    """Variance over feature ``feature`` of the tree's prediction averaged over all others.

    Between consecutive leaf edges on this feature the set of leaves crossing it is fixed, so
    the marginal there is the sum of those leaves' values weighted by their volume in the other
    features (the volume of the other features' space is 1). Each leaf adds its weight where
    its span starts and takes it back where it ends, and a running sum gives every interval's
    marginal: linear in the leaves, where a leaves-by-intervals table grows with their square
    (a fully grown tree over 10,000 trials has thousands of both).
    """
    edges = np.unique(np.concatenate(([0.0, 1.0], lower, upper)))
    weight = value * np.delete(widths, feature, axis=1).prod(axis=1)
    starts, ends = np.searchsorted(edges, lower), np.searchsorted(edges, upper)
    changes = np.bincount(starts, weight, len(edges)) - np.bincount(ends, weight, len(edges))
    marginal = np.cumsum(changes)[:-1]
    return float(np.diff(edges) @ (marginal - mean) ** 2)


def _shares(
    method: str, names: Sequence[str], fractions: np.ndarray, normalize: bool
) -> dict[str, float]:
    total = float(fractions.sum()) if normalize else 1.0
    if total <= 0.0:
        raise TunelabError(
            f"{method}: the objective does not vary with any single parameter in the "
            "forest's fit (constant values, or only interactions between parameters), so there "
            "is no variance to share out. Check that the trials' values differ, or run more trials."
        )
    shares = {name: float(f) / total for name, f in zip(names, fractions)}
    return dict(sorted(shares.items(), key=lambda item: -item[1]))


# --- PED-ANOVA ----------------------------------------------------------------------------

# Grid points of a continuous parameter's unit scale, and the pseudo-count of the uniform
# prior that keeps a density from vanishing where no trial went.
PED_GRID_POINTS = 50
PED_PRIOR_WEIGHT = 1.0


def ped_anova_importances(
    study: Study,
    params: Sequence[str] | None = None,
    *,
    target_quantile: float = 0.1,
    region_quantile: float = 1.0,
    evaluate_on_local: bool = True,
    target: Target | str | None = None,
) -> dict[str, float]:
    """How much each parameter matters for reaching the best ``target_quantile`` of the
    trials, within the best ``region_quantile`` of them, by PED-ANOVA, largest first.

    Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently Quantifying Hyperparameter Importance
    in Arbitrary Subspaces" (IJCAI 2023): the variance, over the region, of the parameter's
    marginal chance of landing in the top set is ``(gamma'/gamma)^2`` times the Pearson
    divergence between the parameter's distribution among the top trials and among the region's
    (uniform over its range with ``evaluate_on_local=False``). Each distribution is a Parzen
    estimate on the parameter's unit scale (a Gaussian kernel with Scott's bandwidth on a grid,
    or a count per value for at most ``PED_GRID_POINTS`` values), with a uniform prior. A
    conditional parameter is rated over the trials that set it, weighted by the squared share
    of top trials that set it over the share of region trials that do. No forest is fitted,
    so it is fast; it needs a few trials in the top set (five or more) to be steady.

    ``target`` as for :func:`fanova_importances`; the study's direction says which values
    are best, and for a callable target lower is better.
    """
    method = "ped_anova_importances"
    if not 0.0 < target_quantile < region_quantile <= 1.0:
        raise ConfigError(
            f"{method}: target_quantile={target_quantile!r} and region_quantile="
            f"{region_quantile!r} must satisfy 0 < target_quantile < region_quantile <= 1.",
            field="target_quantile",
        )
    records = study.get_trials((TrialState.COMPLETE,))
    if len(records) < MIN_COMPLETED_TRIALS:
        raise TunelabError(
            f"{method}: study {study.study_name!r} has {len(records)} completed trial(s); "
            f"importances need at least {MIN_COMPLETED_TRIALS}. Run more trials first."
        )
    names = _chosen_params(method, records, params)
    distributions = _distributions(method, records, names)
    values = _target_values(method, study, records, target)
    order = np.argsort(_lower_is_better(study, target, values), kind="stable")
    n_top = max(1, math.ceil(target_quantile * len(records)))
    n_region = max(n_top, math.ceil(region_quantile * len(records)))
    top = [records[i] for i in order[:n_top]]
    region = [records[i] for i in order[:n_region]] if evaluate_on_local else []
    scale = (n_top / n_region) ** 2
    rated = {
        name: scale * _ped_divergence(name, distributions[name], top, region) for name in names
    }
    return dict(sorted(rated.items(), key=lambda item: -item[1]))


def _lower_is_better(study: Study, target: Target | str | None, values: np.ndarray) -> np.ndarray:
    if callable(target):
        return values
    index = 0 if target is None else study.objective_names.index(target)
    return -values if study.directions[index] == "maximize" else values


def _ped_divergence(
    name: str,
    distribution: Distribution,
    top: Sequence[TrialRecord],
    region: Sequence[TrialRecord],
) -> float:
    """The weighted Pearson divergence of the parameter's top density from its region's
    (uniform when ``region`` is empty: the importance over the whole range)."""
    top_set = [r for r in top if name in r.params]
    if not top_set:
        return 0.0
    top_density = _parzen_density(distribution, [r.params[name] for r in top_set])
    if region:
        region_set = [r for r in region if name in r.params]
        region_density = _parzen_density(distribution, [r.params[name] for r in region_set])
        weight = (len(top_set) / len(top)) ** 2 / (len(region_set) / len(region))
    else:
        region_density = np.full(len(top_density), 1.0 / len(top_density))
        weight = (len(top_set) / len(top)) ** 2
    return weight * float(region_density @ (top_density / region_density - 1.0) ** 2)


def _parzen_density(distribution: Distribution, values: Sequence[Any]) -> np.ndarray:
    """The values' density on the parameter's grid (summing to 1), with a uniform prior."""
    units = np.array([distribution.to_unit(value) for value in values])
    n_values = _n_discrete_values(distribution)
    if n_values is not None and n_values <= PED_GRID_POINTS:
        counts = np.bincount(np.minimum((units * n_values).astype(int), n_values - 1),
                             minlength=n_values)
        density = counts + PED_PRIOR_WEIGHT / n_values
    else:
        grid = (np.arange(PED_GRID_POINTS) + 0.5) / PED_GRID_POINTS
        spread = float(np.std(units)) if len(units) > 1 else 1.0
        bandwidth = max(1.06 * spread * len(units) ** -0.2, 1.0 / PED_GRID_POINTS)
        kernels = np.exp(-0.5 * ((grid[:, None] - units[None, :]) / bandwidth) ** 2)
        kernels /= kernels.sum(axis=0, keepdims=True)  # each trial weighs one on the grid
        density = kernels.sum(axis=1) + PED_PRIOR_WEIGHT / PED_GRID_POINTS
    return np.asarray(density / density.sum(), dtype=float)


def _n_discrete_values(distribution: Distribution) -> int | None:
    """How many values a parameter takes when its unit scale gives each an equal bin; None
    for a continuous one (and for a log-scaled integer, whose unit scale is continuous)."""
    if isinstance(distribution, CategoricalDistribution):
        return len(distribution.choices)
    if isinstance(distribution, IntDistribution) and not distribution.log:
        return (distribution.high - distribution.low) // distribution.step + 1
    if isinstance(distribution, FloatDistribution) and distribution.step is not None:
        return round((distribution.high - distribution.low) / distribution.step) + 1
    return None


# --- permutation importance ---------------------------------------------------------------


def permutation_importances(
    predict: Callable[[Any], Any],
    x: Any,
    y: Any,
    score: Callable[[np.ndarray, np.ndarray], float],
    *,
    n_repeats: int = 5,
    seed: int = 0,
    feature_names: Sequence[str] | None = None,
) -> dict[str, tuple[float, float]]:
    """How much the score drops when each input feature is shuffled: ``{name: (mean, std)}``.

    Args:
        predict: maps inputs like ``x`` to predictions (numpy arrays or tensors; a model's
            forward under ``torch.no_grad()``, an estimator's ``predict``).
        x: inputs, samples on the first axis and features on the second (numpy or torch;
            for images the second axis is the channel).
        y: the true targets, one per sample.
        score: ``score(y_true, y_pred)`` with numpy arrays, higher is better (negate an error).
        n_repeats: shuffles per feature; the std is over them.
        seed: seeds the shuffles.
        feature_names: one name per feature (default ``x0``, ``x1``, ...).

    Returns the mean and standard deviation of ``baseline score - shuffled score`` per feature,
    largest mean first. A drop near 0 means the model does not use the feature (or has a
    correlated copy of it).
    """
    _check_positive_int("n_repeats", n_repeats)
    _check_seed(seed)
    n_samples, n_features = _check_inputs(x, y)
    names = _feature_names(feature_names, n_features)
    y_true = _as_numpy(y)
    baseline = float(score(y_true, _as_numpy(predict(x))))
    rng = np.random.default_rng(seed)
    drops = {}
    for feature, name in enumerate(names):
        shuffled_scores = []
        for _ in range(n_repeats):
            shuffled = _shuffled(x, feature, rng.permutation(n_samples))
            shuffled_scores.append(float(score(y_true, _as_numpy(predict(shuffled)))))
        drop = baseline - np.array(shuffled_scores)
        drops[name] = (float(drop.mean()), float(drop.std()))
    return dict(sorted(drops.items(), key=lambda item: -item[1][0]))


def _check_inputs(x: Any, y: Any) -> tuple[int, int]:
    shape = tuple(getattr(x, "shape", ()))
    if len(shape) < 2:
        raise ConfigError(
            f"permutation_importances: x has shape {shape}; give samples on the first axis and "
            "features on the second, e.g. an array of shape (n_samples, n_features).",
            field="x",
        )
    if len(y) != shape[0]:
        raise ConfigError(
            f"permutation_importances: x has {shape[0]} samples but y has {len(y)}; give one "
            "target per sample.",
            field="y",
        )
    if shape[0] < 2:
        raise ConfigError(
            "permutation_importances: shuffling needs at least 2 samples in x.", field="x"
        )
    return shape[0], shape[1]


def _feature_names(names: Sequence[str] | None, n_features: int) -> list[str]:
    if names is None:
        return [f"x{i}" for i in range(n_features)]
    names = list(names)
    if len(names) != n_features or len(set(names)) != len(names):
        raise ConfigError(
            f"permutation_importances: feature_names has {len(names)} name(s) for {n_features} "
            "features; give one distinct name per column of x.",
            field="feature_names",
        )
    return names


def _shuffled(x: Any, feature: int, order: np.ndarray) -> Any:
    """A copy of ``x`` with column ``feature`` permuted across samples (numpy or torch)."""
    copy = x.clone() if hasattr(x, "clone") else np.array(x, copy=True)
    # A torch tensor takes numpy integer arrays as an index too.
    copy[:, feature] = x[order, feature]
    return copy


def _as_numpy(values: Any) -> np.ndarray:
    """Predictions or targets as numpy, whether they are tensors (on any device) or arrays."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name}={value!r} must be a positive integer.", field=name)


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed={seed!r} must be a non-negative integer.", field="seed")
