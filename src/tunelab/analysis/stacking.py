"""Stacking: a regularized linear meta-learner that combines the members' predictions.

After Wolpert, "Stacked Generalization" (Neural Networks, 1992), with the choices of Ting and
Witten, "Issues in Stacked Generalization" (JAIR, 1999): the meta-learner reads the members'
class probabilities (or regression values) on rows none of them was trained on, and a linear,
regularized meta-learner is enough.

- Classification: multinomial logistic regression on the members' log-probabilities, side by
  side. Giving one member's log-probabilities weight 1 reproduces that member, and equal
  weights their geometric mean, so the meta-learner can fall back on either; it can also
  trust a member more on some classes than on others.
- Regression: ridge regression on the members' values, standardized.

The rows it learns from are a task's validation part, the only part on which every member's
predictions are out of sample (out-of-fold predictions would mean retraining every trial once
per fold). That part also chose the members and their best epochs, so the members look better
on it than they are, and a meta-learner fitted on it freely would learn the luck of each
member's validation predictions. Two guards keep that in check:

1. the regularization strength is chosen by K-fold cross-validation within those rows: each
   candidate strength is scored (log loss, or mean squared error on standardized targets) on
   the folds it was not fitted on; the strongest among the best scorers wins, and the
   meta-learner is refitted on all the rows with it;
2. the validation score reported is that of the out-of-fold predictions of the chosen
   strength, never the refitted model's score on rows it was fitted on.

The member selection's optimism remains in that validation score (as for greedy selection);
only a part the meta-learner never saw, the test part, gives a fair estimate, so it is only
ever scored there. Needs scikit-learn (the ``torch`` extra).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunelab._options import check_choice
from tunelab.exceptions import ConfigError, MissingExtraError

KINDS = ("classification", "regression")
N_FOLDS = 5
MIN_ROWS = 2 * N_FOLDS  # each fold validates on at least two rows
INVERSE_STRENGTHS = tuple(float(c) for c in np.logspace(-2, 3, 6))  # logistic regression's C
RIDGE_STRENGTHS = tuple(float(a) for a in np.logspace(-3, 3, 7))  # ridge's alpha
PROBABILITY_FLOOR = 1e-7  # log(0) has no place among the features
TOO_FEW_ROWS_FIELD = "data.val_fraction"  # the field of every error about too small a part


@dataclass(frozen=True)
class Stacker:
    """A meta-learner fitted by :func:`fit_stacker`.

    ``regularization`` is the chosen strength (logistic regression's ``C``, smaller is
    stronger; ridge's ``alpha``, larger is stronger). ``out_of_fold`` holds its
    cross-validated predictions of the rows it was fitted on, made with that strength by
    models that did not see them.
    """

    model: Any
    kind: str
    n_members: int
    n_outputs: int
    regularization: float
    out_of_fold: np.ndarray

    def predict(self, predictions: np.ndarray) -> np.ndarray:
        """The combined prediction for the members' ``predictions``, shaped ``(members,
        samples, outputs)`` like those it was fitted on: class probabilities ``(samples,
        classes)`` or values ``(samples, targets)``."""
        predictions = _check_shape(predictions)
        if predictions.shape[0] != self.n_members or predictions.shape[2] != self.n_outputs:
            raise ConfigError(
                f"predictions have shape {predictions.shape}, but the stacker was fitted on "
                f"{self.n_members} members of {self.n_outputs} output(s) each; give the same "
                "members' predictions.",
                field="predictions",
            )
        return _predict(self.model, self.kind, _features(predictions, self.kind), self.n_outputs)

    def member_weights(self) -> np.ndarray:
        """Each member's share of the meta-learner's absolute coefficients (they sum to 1).

        The features of every member are on one scale (log-probabilities, or standardized
        values), so the shares say how much the combination leans on each member."""
        coefficients = np.abs(np.atleast_2d(_linear_step(self.model).coef_))
        per_member = coefficients.sum(axis=0).reshape(self.n_members, -1).sum(axis=1)
        total = per_member.sum()
        if total == 0:
            return np.full(self.n_members, 1.0 / self.n_members)
        shares: np.ndarray = per_member / total
        return shares


def fit_stacker(
    predictions: np.ndarray, targets: np.ndarray, kind: str, *, seed: int = 0
) -> Stacker:
    """Fit the meta-learner on the members' ``predictions`` of rows whose answers are
    ``targets``, choosing its regularization by cross-validation on those rows.

    Args:
        predictions: ``(members, samples, outputs)``: class probabilities, or regression
            values in the targets' units.
        targets: class indices ``(samples,)``, or values ``(samples, targets)``.
        kind: ``"classification"`` or ``"regression"``.
        seed: how the rows are dealt to the folds.
    """
    predictions = _check_shape(predictions)
    kind = check_choice("fit_stacker", "kind", kind, KINDS)
    classification = kind == "classification"
    targets = np.asarray(targets)
    targets = targets.astype(int) if classification else targets.reshape(len(targets), -1)
    n_rows = predictions.shape[1]
    if len(targets) != n_rows:
        raise ConfigError(
            f"targets has {len(targets)} rows but the predictions have {n_rows}; give the "
            "answers of the rows the members predicted.",
            field="targets",
        )
    if n_rows < MIN_ROWS:
        raise ConfigError(
            f"stacking fits its meta-learner by {N_FOLDS}-fold cross-validation on the "
            f"validation part, which needs at least {MIN_ROWS} rows; it has {n_rows}. Raise "
            "data.val_fraction, or combine by 'average' or 'greedy'.",
            field=TOO_FEW_ROWS_FIELD,
        )
    if classification:
        _check_classes(targets)
    features = _features(predictions, kind)
    n_outputs = predictions.shape[2]
    strength, out_of_fold = _choose_strength(features, targets, kind, n_outputs, seed)
    model = _meta_learner(kind, strength).fit(features, targets)
    return Stacker(model, kind, predictions.shape[0], n_outputs, strength, out_of_fold)


def _choose_strength(
    features: np.ndarray, targets: np.ndarray, kind: str, n_outputs: int, seed: int
) -> tuple[float, np.ndarray]:
    """The regularization strength whose out-of-fold predictions score best, and those."""
    classification = kind == "classification"
    folds = _folds(targets, classification, seed)
    strengths = INVERSE_STRENGTHS if classification else RIDGE_STRENGTHS[::-1]
    best: tuple[float, float, np.ndarray] | None = None
    for strength in strengths:  # strongest first, so that a tie keeps the stronger
        out_of_fold = np.zeros((len(targets), n_outputs))
        for train, held_out in folds:
            model = _meta_learner(kind, strength).fit(features[train], targets[train])
            out_of_fold[held_out] = _predict(model, kind, features[held_out], n_outputs)
        loss = _loss(out_of_fold, targets, classification)
        if best is None or loss < best[0]:
            best = (loss, strength, out_of_fold)
    assert best is not None
    return best[1], best[2]


def _check_shape(predictions: Any) -> np.ndarray:
    array = np.asarray(predictions, dtype=float)
    if array.ndim != 3 or 0 in array.shape:
        raise ConfigError(
            f"predictions have shape {array.shape}; stacking needs (members, samples, "
            "outputs): each member's class probabilities or values, stacked.",
            field="predictions",
        )
    return array


def _check_classes(targets: np.ndarray) -> None:
    """Two classes at least, each on two rows at least, so that every fold fits on each."""
    classes, counts = np.unique(targets, return_counts=True)
    if len(classes) < 2:
        raise ConfigError(
            f"stacking needs at least two classes among the validation rows, which all hold "
            f"class {classes[0]}; raise data.val_fraction, or combine by 'average'.",
            field=TOO_FEW_ROWS_FIELD,
        )
    if counts.min() < 2:
        raise ConfigError(
            f"stacking cross-validates by class on the validation part, but class "
            f"{classes[counts.argmin()]} has a single row there; raise data.val_fraction, or "
            "combine by 'average'.",
            field=TOO_FEW_ROWS_FIELD,
        )


def _features(predictions: np.ndarray, kind: str) -> np.ndarray:
    """One row per sample: the members' outputs side by side (log-probabilities for classes)."""
    n_members, n_samples, n_outputs = predictions.shape
    rows = predictions.transpose(1, 0, 2).reshape(n_samples, n_members * n_outputs)
    if kind == "classification":
        floored: np.ndarray = np.log(np.clip(rows, PROBABILITY_FLOOR, 1.0))
        return floored
    return rows


def _folds(
    targets: np.ndarray, classification: bool, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K folds of the rows; by class for classification, as many as the rarest class fills."""
    model_selection = _sklearn("sklearn.model_selection")
    if classification:
        smallest = int(np.unique(targets, return_counts=True)[1].min())
        splitter = model_selection.StratifiedKFold(
            min(N_FOLDS, smallest), shuffle=True, random_state=seed
        )
        return list(splitter.split(targets, targets))
    splitter = model_selection.KFold(N_FOLDS, shuffle=True, random_state=seed)
    return list(splitter.split(targets))


def _meta_learner(kind: str, strength: float) -> Any:
    if kind == "classification":
        linear_model = _sklearn("sklearn.linear_model")
        # newton-cg: a few Newton steps where lbfgs needs hundreds on unscaled log-probabilities.
        return linear_model.LogisticRegression(C=strength, solver="newton-cg", max_iter=1000)
    pipeline = _sklearn("sklearn.pipeline")
    preprocessing = _sklearn("sklearn.preprocessing")
    ridge = _sklearn("sklearn.linear_model").Ridge(alpha=strength)
    return pipeline.make_pipeline(preprocessing.StandardScaler(), ridge)


def _linear_step(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def _predict(model: Any, kind: str, features: np.ndarray, n_outputs: int) -> np.ndarray:
    if kind != "classification":
        values: np.ndarray = model.predict(features).reshape(len(features), n_outputs)
        return values
    # A class absent from the fitting rows (absent from the validation part) gets 0.
    probabilities = np.zeros((len(features), n_outputs))
    probabilities[:, model.classes_] = model.predict_proba(features)
    return probabilities


def _loss(outputs: np.ndarray, targets: np.ndarray, classification: bool) -> float:
    if classification:
        chosen = outputs[np.arange(len(targets)), targets]
        return float(-np.mean(np.log(np.clip(chosen, PROBABILITY_FLOOR, 1.0))))
    scale = targets.std(axis=0)
    scale[scale == 0] = 1.0
    return float(np.mean(((outputs - targets) / scale) ** 2))


def _sklearn(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingExtraError("scikit-learn", "torch", "Stacking") from exc
