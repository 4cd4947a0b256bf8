"""Stacking's meta-learner on hand-made member predictions: what it learns and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from tunelab.analysis.stacking import INVERSE_STRENGTHS, MIN_ROWS, fit_stacker
from tunelab.exceptions import ConfigError

N_CLASSES = 3


def classifier_members(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    """Three members' probabilities ``(3, samples, classes)``: member 1 names the right class
    85% of the time with probability 0.9; members 0 and 2 are noise that ignores ``y``."""
    n = len(y)
    right = rng.random(n) < 0.85
    guess = np.where(right, y, (y + rng.integers(1, N_CLASSES, n)) % N_CLASSES)
    informative = np.full((n, N_CLASSES), 0.1 / (N_CLASSES - 1))
    informative[np.arange(n), guess] = 0.9
    noise = [rng.dirichlet(np.ones(N_CLASSES), n) for _ in range(2)]
    return np.stack([noise[0], informative, noise[1]])


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(probabilities.argmax(axis=-1) == y))


def test_stacking_learns_to_trust_the_informative_member():
    rng = np.random.default_rng(0)
    y, y_new = rng.integers(0, N_CLASSES, 300), rng.integers(0, N_CLASSES, 300)
    fitted_on, new = classifier_members(rng, y), classifier_members(rng, y_new)

    stacker = fit_stacker(fitted_on, y, "classification")
    weights = stacker.member_weights()
    stacked = stacker.predict(new)

    assert weights.sum() == pytest.approx(1.0)
    assert weights[1] > 0.6 and weights[1] > 3 * max(weights[0], weights[2])
    np.testing.assert_allclose(stacked.sum(axis=1), 1.0)
    # As good as the informative member alone on new rows, where averaging in the noise hurts.
    assert accuracy(stacked, y_new) >= accuracy(new[1], y_new) - 0.01
    assert accuracy(stacked, y_new) > accuracy(new.mean(axis=0), y_new) + 0.1
    # Its out-of-fold predictions of the rows it was fitted on score like that too.
    assert stacker.out_of_fold.shape == (300, N_CLASSES)
    assert accuracy(stacker.out_of_fold, y) == pytest.approx(accuracy(fitted_on[1], y), abs=0.03)


def test_members_that_know_nothing_get_the_strongest_regularization():
    rng = np.random.default_rng(1)
    y = rng.integers(0, N_CLASSES, 300)
    noise = np.stack([rng.dirichlet(np.ones(N_CLASSES), 300) for _ in range(3)])

    stacker = fit_stacker(noise, y, "classification")

    assert stacker.regularization == INVERSE_STRENGTHS[0]  # the smallest C
    # Nearly flat: it predicts about the classes' frequencies, whatever the members say.
    frequencies = np.bincount(y) / len(y)
    assert np.abs(stacker.out_of_fold - frequencies).mean() < 0.05


def test_ridge_stacking_leans_on_the_member_that_tracks_the_target():
    rng = np.random.default_rng(2)

    def members(x: np.ndarray) -> np.ndarray:
        return np.stack([
            50 + 30 * rng.normal(size=x.shape),  # noise
            x + rng.normal(size=x.shape),  # the target, give or take 1
            100 + 0 * x,  # a constant
        ])

    x, x_new = 50 + 10 * rng.normal(size=(200, 1)), 50 + 10 * rng.normal(size=(200, 1))

    stacker = fit_stacker(members(x), x, "regression")
    predicted = stacker.predict(members(x_new))

    assert stacker.member_weights()[1] > 0.95
    assert predicted.shape == (200, 1)
    assert float(np.mean((predicted - x_new) ** 2)) < 1.5  # about the informative member's 1


def test_the_same_seed_deals_the_same_folds():
    rng = np.random.default_rng(3)
    y = rng.integers(0, N_CLASSES, 60)
    members = classifier_members(rng, y)

    first = fit_stacker(members, y, "classification")
    again = fit_stacker(members, y, "classification")

    np.testing.assert_array_equal(first.out_of_fold, again.out_of_fold)
    assert first.regularization == again.regularization


def test_a_class_missing_from_the_fitted_rows_gets_no_probability():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 40)  # classes 0 and 1 of three
    members = classifier_members(rng, y)

    stacked = fit_stacker(members, y, "classification").predict(members)

    assert stacked.shape == (40, N_CLASSES)
    np.testing.assert_array_equal(stacked[:, 2], 0.0)


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (np.zeros(MIN_ROWS - 1, dtype=int),
         f"needs at least {MIN_ROWS} rows; it has {MIN_ROWS - 1}"),
        (np.zeros(20, dtype=int), "which all hold class 0"),
        (np.array([0] * 10 + [1] * 9 + [2]), "class 2 has a single row there"),
    ],
)
def test_too_little_to_cross_validate_on_names_the_validation_part(y: np.ndarray, message: str):
    members = np.full((2, len(y), N_CLASSES), 1 / N_CLASSES)

    with pytest.raises(ConfigError, match=message) as error:
        fit_stacker(members, y, "classification")

    assert error.value.field == "data.val_fraction"
    assert "data.val_fraction" in str(error.value)


def test_predictions_of_the_wrong_shape_are_refused():
    rng = np.random.default_rng(5)
    y = rng.integers(0, N_CLASSES, 30)
    stacker = fit_stacker(classifier_members(rng, y), y, "classification")

    with pytest.raises(ConfigError, match="fitted on 3 members of 3 output"):
        stacker.predict(np.full((2, 5, N_CLASSES), 1 / N_CLASSES))
    with pytest.raises(ConfigError, match=r"stacking needs \(members, samples, outputs\)"):
        fit_stacker(np.zeros((3, 30)), y, "classification")
    with pytest.raises(ConfigError, match="targets has 29 rows but the predictions have 30"):
        fit_stacker(classifier_members(rng, y), y[:29], "classification")
    with pytest.raises(ConfigError, match="kind='clasification' is unknown \\(did you mean "
                                          "'classification'\\?\\)"):
        fit_stacker(classifier_members(rng, y), y, "clasification")
