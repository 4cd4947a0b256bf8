"""fANOVA and permutation importance."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.tree import DecisionTreeRegressor

import tunelab
from tunelab.analysis.importance import (
    encode_trials,
    fanova_importances,
    leaf_boxes,
    mean_decrease_impurity_importances,
    param_importances,
    ped_anova_importances,
    permutation_importances,
    tree_variance_fractions,
)
from tunelab.exceptions import ConfigError, TunelabError
from tunelab.space import CategoricalDistribution, FloatDistribution
from tunelab.trial import TrialRecord, TrialState

N_IRRELEVANT = 8


def quadratic_objective(trial: tunelab.Trial) -> float:
    """x0 carries almost all the variance, x1 a little, z0..z7 none."""
    x0 = trial.suggest_float("x0", 0.0, 1.0)
    x1 = trial.suggest_float("x1", 0.0, 1.0)
    for i in range(N_IRRELEVANT):
        trial.suggest_float(f"z{i}", 0.0, 1.0)
    return 10 * x0**2 + 0.1 * x1


def random_study(objective, n_trials: int, seed: int, **options) -> tunelab.Study:
    study = tunelab.create_study(sampler="random", seed=seed, **options)
    study.optimize(objective, n_trials=n_trials)
    return study


# --- fANOVA: acceptance -------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_fanova_ranks_the_important_parameter_first_and_irrelevant_ones_near_zero(seed):
    study = random_study(quadratic_objective, 60, seed)
    importances = fanova_importances(study, seed=seed)
    assert next(iter(importances)) == "x0"
    assert importances["x0"] > 0.9
    assert max(importances[f"z{i}"] for i in range(N_IRRELEVANT)) < 0.02
    assert sum(importances.values()) == pytest.approx(1.0)
    assert list(importances.values()) == sorted(importances.values(), reverse=True)


def test_fanova_is_deterministic_for_a_seed():
    study = random_study(quadratic_objective, 100, 0)
    first = fanova_importances(study, seed=3)
    assert first == fanova_importances(study, seed=3)
    assert len(first) == 2 + N_IRRELEVANT


def test_params_restricts_the_rating_to_the_named_parameters():
    study = random_study(quadratic_objective, 40, 0)
    importances = fanova_importances(study, params=["z0", "x0"])
    assert list(importances) == ["x0", "z0"]
    assert sum(importances.values()) == pytest.approx(1.0)


# --- fANOVA: the exact tree-partition decomposition ---------------------------------------


def brute_force_fractions(tree: DecisionTreeRegressor, n_features: int) -> np.ndarray:
    """Main-effect variance fractions from the tree's predictions on every cell of the grid
    its thresholds draw: exact, since the prediction is constant on each cell."""
    edges = []
    for feature in range(n_features):
        cuts = tree.tree_.threshold[tree.tree_.feature == feature]
        edges.append(np.unique(np.concatenate(([0.0, 1.0], cuts))))
    middles = [(e[:-1] + e[1:]) / 2 for e in edges]
    lengths = [np.diff(e) for e in edges]
    grid = np.array(list(itertools.product(*middles)))
    weight = np.array([math.prod(c) for c in itertools.product(*lengths)])
    shape = tuple(len(m) for m in middles)
    prediction = tree.predict(grid).reshape(shape)
    weight = weight.reshape(shape)
    mean = float((weight * prediction).sum())
    total = float((weight * (prediction - mean) ** 2).sum())
    fractions = []
    for feature in range(n_features):
        others = tuple(axis for axis in range(n_features) if axis != feature)
        marginal = (weight * prediction).sum(axis=others) / weight.sum(axis=others)
        fractions.append(float((lengths[feature] * (marginal - mean) ** 2).sum()) / total)
    return np.array(fractions)


@pytest.mark.parametrize("seed", [0, 1])
def test_tree_partition_fractions_equal_a_brute_force_integration(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((80, 3))
    y = np.sin(6 * x[:, 0]) + x[:, 1] * x[:, 2] + 0.3 * x[:, 2]
    tree = DecisionTreeRegressor(max_leaf_nodes=14, random_state=seed).fit(x, y)
    exact = tree_variance_fractions(tree.tree_, 3)
    np.testing.assert_allclose(exact, brute_force_fractions(tree, 3), rtol=1e-10, atol=1e-12)
    assert 0.0 < exact.sum() <= 1.0 + 1e-12  # main effects never exceed the total variance


def test_leaf_boxes_tile_the_unit_cube():
    rng = np.random.default_rng(0)
    x = rng.random((50, 2))
    tree = DecisionTreeRegressor(max_leaf_nodes=9, random_state=0).fit(x, x[:, 0] + x[:, 1])
    lower, upper, value = leaf_boxes(tree.tree_, 2)
    assert len(value) == 9
    assert (upper - lower).prod(axis=1).sum() == pytest.approx(1.0)
    # Each training point lies in exactly one box, whose value the tree predicts for it.
    inside = np.all((lower[None] <= x[:, None]) & (x[:, None] <= upper[None]), axis=2)
    assert (inside.sum(axis=1) == 1).all()
    np.testing.assert_allclose(value[inside.argmax(axis=1)], tree.predict(x))


# --- fANOVA: categorical and conditional parameters --------------------------------------


def record(number: int, params: dict, distributions: dict) -> TrialRecord:
    return TrialRecord(number, number, TrialState.COMPLETE, (0.0,), params, distributions)


def test_encoding_uses_unit_scales_and_random_stand_ins_for_absent_parameters():
    lr = FloatDistribution(1e-4, 1e-2, log=True)
    optimizer = CategoricalDistribution(("sgd", "adam"))
    momentum = FloatDistribution(0.0, 1.0)
    space = {"lr": lr, "optimizer": optimizer, "momentum": momentum}
    records = [
        record(0, {"lr": 1e-3, "optimizer": "sgd", "momentum": 0.0}, space),
        record(1, {"lr": 1e-4, "optimizer": "sgd", "momentum": 1.0}, space),
        record(2, {"lr": 1e-2, "optimizer": "sgd", "momentum": 0.5}, space),
        record(3, {"lr": 1e-2, "optimizer": "adam"}, {"lr": lr, "optimizer": optimizer}),
    ]
    names = ["lr", "optimizer", "momentum"]
    x = encode_trials(records, names, space, np.random.default_rng(0))
    np.testing.assert_allclose(x[:, 0], [0.5, 0.0, 1.0, 1.0])  # log scale
    np.testing.assert_allclose(x[:, 1], [0.25, 0.25, 0.25, 0.75])  # middle of each choice's bin
    np.testing.assert_allclose(x[:3, 2], [0.0, 1.0, 0.5])
    stand_ins = [encode_trials(records, names, space, np.random.default_rng(s))[3, 2]
                 for s in range(5)]
    assert all(0.0 <= v <= 1.0 for v in stand_ins) and len(set(stand_ins)) == 5


def optimizer_objective(trial: tunelab.Trial, momentum_weight: float) -> float:
    """The optimizer matters most; momentum (sgd only) as much as told; noise not at all."""
    optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
    trial.suggest_float("noise", 0.0, 1.0)
    if optimizer == "sgd":
        return 4.0 + momentum_weight * trial.suggest_float("momentum", 0.0, 0.99)
    return {"adam": 0.0, "rmsprop": 1.0}[optimizer]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fanova_rates_categorical_and_conditional_parameters(seed):
    study = random_study(lambda trial: optimizer_objective(trial, 12.0), 60, seed)
    importances = fanova_importances(study, seed=seed)
    assert list(importances) == ["optimizer", "momentum", "noise"]
    assert sum(importances.values()) == pytest.approx(1.0)
    # The exact main effects over the space: optimizer 19.97 (choice means 9.94, 0, 1);
    # momentum, which moves sgd's value by Var(12 m) = 11.76 in a third of the space, 11.76 / 9.
    assert importances["momentum"] == pytest.approx(1.307 / (19.97 + 1.307), abs=0.015)
    assert importances["noise"] < 0.005


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_switching_a_conditional_parameter_on_counts_for_the_parameter_that_does(seed):
    study = random_study(lambda trial: optimizer_objective(trial, 0.0), 60, seed)
    importances = fanova_importances(study, seed=seed)
    assert importances["optimizer"] > 0.99
    assert importances["momentum"] < 0.005


# --- fANOVA: errors ------------------------------------------------------------------------


def test_too_few_completed_trials_is_an_error_that_says_to_run_more():
    study = random_study(quadratic_objective, 1, 0)
    with pytest.raises(TunelabError, match="1 completed trial.*Run more trials"):
        fanova_importances(study)


def test_a_multi_objective_study_needs_a_target():
    def two_objectives(trial):
        x = trial.suggest_float("x", 0.0, 1.0)
        z = trial.suggest_float("z", 0.0, 1.0)
        return x, z

    study = random_study(two_objectives, 30, 0, directions=["minimize", "maximize"],
                         metric_names=["loss", "accuracy"])
    with pytest.raises(ConfigError, match="2 objectives.*target='<objective name>'") as error:
        fanova_importances(study)
    assert error.value.field == "target"
    assert next(iter(fanova_importances(study, target="loss"))) == "x"
    assert next(iter(fanova_importances(study, target=lambda t: t.values[1]))) == "z"
    with pytest.raises(ConfigError, match="did you mean 'accuracy'"):
        fanova_importances(study, target="acuracy")


def test_unknown_parameter_and_bad_options_name_the_argument():
    study = random_study(quadratic_objective, 10, 0)
    message = r"'x00' is in no completed trial \(did you mean"
    with pytest.raises(ConfigError, match=message) as error:
        fanova_importances(study, params=["x00"])
    assert error.value.field == "params"
    with pytest.raises(ConfigError, match="non-empty list"):
        fanova_importances(study, params="x0")
    with pytest.raises(ConfigError, match="n_trees=0 must be a positive integer"):
        fanova_importances(study, n_trees=0)


def test_a_constant_objective_has_no_variance_to_share():
    def flat(trial):
        trial.suggest_float("x", 0.0, 1.0)
        return 1.0

    with pytest.raises(TunelabError, match="does not vary with any single parameter"):
        fanova_importances(random_study(flat, 10, 0))


def test_a_parameter_with_two_distributions_cannot_be_encoded():
    study = tunelab.create_study(sampler="random", seed=0)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 1.0), n_trials=3)
    study.optimize(lambda t: t.suggest_float("x", 0.0, 2.0), n_trials=3)
    with pytest.raises(TunelabError, match="'x' has different distributions.*params="):
        fanova_importances(study)


def test_max_depth_is_checked_and_limits_the_trees():
    study = random_study(quadratic_objective, 40, 0)
    with pytest.raises(ConfigError, match="max_depth=0 must be a positive integer"):
        fanova_importances(study, max_depth=0)
    assert fanova_importances(study, max_depth=1) != fanova_importances(study)


# --- mean decrease in impurity ------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_mean_decrease_impurity_ranks_the_important_parameter_first(seed):
    study = random_study(quadratic_objective, 60, seed)
    importances = mean_decrease_impurity_importances(study, seed=seed)
    assert next(iter(importances)) == "x0"
    assert sum(importances.values()) == pytest.approx(1.0)
    assert list(importances.values()) == sorted(importances.values(), reverse=True)


def test_mean_decrease_impurity_names_itself_in_its_errors():
    study = random_study(quadratic_objective, 1, 0)
    with pytest.raises(TunelabError, match="^mean_decrease_impurity_importances: .*1 completed"):
        mean_decrease_impurity_importances(study)


# --- PED-ANOVA -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_ped_anova_ranks_the_important_parameter_first(seed):
    study = random_study(quadratic_objective, 100, seed)
    importances = ped_anova_importances(study)
    assert next(iter(importances)) == "x0"
    assert importances["x0"] > 5 * max(importances[f"z{i}"] for i in range(N_IRRELEVANT))
    assert list(importances.values()) == sorted(importances.values(), reverse=True)


def test_ped_anova_follows_the_direction_of_the_objective():
    def best_at_the_top(trial):
        return trial.suggest_float("x", 0.0, 1.0) + 0.01 * trial.suggest_float("z", 0.0, 1.0)

    study = random_study(best_at_the_top, 60, 0, direction="maximize")
    assert next(iter(ped_anova_importances(study))) == "x"
    # The same values read as "lower is better" through a callable: x matters all the same.
    assert next(iter(ped_anova_importances(study, target=lambda r: -r.value))) == "x"


def test_ped_anova_rates_a_choice_and_a_conditional_parameter():
    def objective(trial):
        optimizer = trial.suggest_categorical("optimizer", ["sgd", "adam", "rmsprop"])
        momentum = trial.suggest_float("momentum", 0.0, 1.0) if optimizer == "sgd" else 0.5
        trial.suggest_int("noise", 1, 500)
        return (optimizer == "rmsprop") + (momentum - 0.2) ** 2

    study = random_study(objective, 150, 0)
    importances = ped_anova_importances(study, target_quantile=0.2)
    assert list(importances)[-1] == "noise"
    assert importances["optimizer"] > 5 * importances["noise"]


def test_ped_anova_over_the_whole_range_or_a_region_rates_the_same_parameter_first():
    study = random_study(quadratic_objective, 80, 0)
    for options in ({"evaluate_on_local": False}, {"region_quantile": 0.5}):
        assert next(iter(ped_anova_importances(study, **options))) == "x0"


@pytest.mark.parametrize(("target_quantile", "region_quantile"), [(0.0, 1.0), (0.5, 0.5),
                                                                   (0.1, 1.5)])
def test_ped_anova_needs_quantiles_in_order(target_quantile, region_quantile):
    study = random_study(quadratic_objective, 4, 0)
    with pytest.raises(ConfigError, match="0 < target_quantile < region_quantile <= 1"):
        ped_anova_importances(
            study, target_quantile=target_quantile, region_quantile=region_quantile
        )


# --- param_importances: evaluators and normalization ------------------------------------


class FixedEvaluator:
    """Rates as told, and notes what it was asked."""

    def __init__(self, rated):
        self.rated, self.asked = rated, []

    def evaluate(self, study, params=None, *, target=None):
        self.asked.append((params, target))
        return dict(self.rated)


def test_param_importances_default_to_fanova():
    study = random_study(quadratic_objective, 40, 0)
    assert param_importances(study) == fanova_importances(study)


def test_an_evaluator_rates_and_the_result_is_ordered_and_normalized():
    study = random_study(quadratic_objective, 4, 0)
    evaluator = FixedEvaluator({"x1": 1.0, "x0": 3.0})
    target = lambda record: record.value  # noqa: E731
    shares = param_importances(study, evaluator=evaluator, params=["x0", "x1"], target=target)
    assert shares == {"x0": 0.75, "x1": 0.25}
    assert list(shares) == ["x0", "x1"]
    assert evaluator.asked == [(["x0", "x1"], target)]
    raw = param_importances(study, evaluator=evaluator, normalize=False)
    assert raw == {"x0": 3.0, "x1": 1.0} and list(raw) == ["x0", "x1"]


def test_all_zero_ratings_become_equal_shares_and_no_params_rate_nothing():
    study = random_study(quadratic_objective, 4, 0)
    zeros = FixedEvaluator({"x0": 0.0, "x1": 0.0})
    assert param_importances(study, evaluator=zeros) == {"x0": 0.5, "x1": 0.5}
    assert param_importances(study, params=[]) == {}


def test_an_evaluator_without_evaluate_is_refused():
    study = random_study(quadratic_objective, 4, 0)
    with pytest.raises(ConfigError, match="no evaluate") as caught:
        param_importances(study, evaluator="fanova")
    assert caught.value.field == "evaluator"


# --- permutation importance ---------------------------------------------------------------


def negative_mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return -float(np.mean((y_true.reshape(y_pred.shape) - y_pred) ** 2))


def test_permutation_importance_finds_the_informative_feature_of_a_torch_model():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(400, 4, generator=generator)
    y = 3.0 * x[:, 1] + 0.5 * x[:, 3]
    model = torch.nn.Linear(4, 1)
    with torch.no_grad():  # the exact model, so that unused features have weight exactly 0
        model.weight.copy_(torch.tensor([[0.0, 3.0, 0.0, 0.5]]))
        model.bias.zero_()
    before = x.clone()

    def predict(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(inputs)[:, 0]

    importances = permutation_importances(
        predict, x, y, negative_mse, feature_names=["a", "b", "c", "d"], n_repeats=4
    )
    assert list(importances)[:2] == ["b", "d"]
    mean_b, std_b = importances["b"]
    assert mean_b == pytest.approx(2 * 9.0, rel=0.2)  # shuffling doubles Var(3 x1) = 9
    assert 0.0 < std_b < mean_b
    assert importances["a"] == (0.0, 0.0) and importances["c"] == (0.0, 0.0)
    assert torch.equal(x, before)  # x is never shuffled in place


def test_permutation_importance_with_numpy_classifier_and_accuracy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    y = (x[:, 2] > 0).astype(int)

    def accuracy(y_true, y_pred):
        return float(np.mean(y_true == y_pred))

    importances = permutation_importances(lambda v: (v[:, 2] > 0).astype(int), x, y, accuracy,
                                          seed=5)
    assert list(importances) == ["x2", "x0", "x1"]
    assert importances["x2"][0] == pytest.approx(0.5, abs=0.1)
    again = permutation_importances(lambda v: (v[:, 2] > 0).astype(int), x, y, accuracy, seed=5)
    assert again == importances


def test_permutation_importance_checks_its_arguments():
    x, y = np.zeros((10, 2)), np.zeros(10)
    predict = lambda v: v[:, 0]  # noqa: E731
    with pytest.raises(ConfigError, match="feature_names has 1 name"):
        permutation_importances(predict, x, y, negative_mse, feature_names=["a"])
    with pytest.raises(ConfigError, match="x has 10 samples but y has 9"):
        permutation_importances(predict, x, y[:9], negative_mse)
    with pytest.raises(ConfigError, match="n_repeats=0"):
        permutation_importances(predict, x, y, negative_mse, n_repeats=0)
    with pytest.raises(ConfigError, match="features on the second"):
        permutation_importances(predict, np.zeros(10), y, negative_mse)
