"""tunelab.importance: Optuna's importance names over tunelab's forest methods."""

from __future__ import annotations

import inspect

import optuna as real_optuna
import pytest

import tunelab as optuna


def objective(trial):
    """Only x matters; y a little; the choice not at all."""
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_int("y", 0, 10)
    trial.suggest_categorical("kind", ["a", "b", "c"])
    return x**2 + 0.01 * y


@pytest.fixture(scope="module")
def study():
    study = optuna.create_study(sampler="random", seed=0)
    study.optimize(objective, n_trials=50)
    return study


@pytest.mark.parametrize(
    "evaluator",
    [
        None,
        optuna.importance.FanovaImportanceEvaluator(),
        optuna.importance.FanovaImportanceEvaluator(n_trees=16, max_depth=8, seed=2),
        optuna.importance.MeanDecreaseImpurityImportanceEvaluator(),
        optuna.importance.MeanDecreaseImpurityImportanceEvaluator(n_trees=16, seed=2),
        optuna.importance.PedAnovaImportanceEvaluator(),
        optuna.importance.PedAnovaImportanceEvaluator(target_quantile=0.2, region_quantile=0.8),
        optuna.importance.PedAnovaImportanceEvaluator(evaluate_on_local=False),
    ],
    ids=repr,
)
def test_the_parameter_that_matters_comes_first(study, evaluator):
    importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    assert list(importances) == sorted(importances, key=importances.__getitem__, reverse=True)
    assert next(iter(importances)) == "x"
    assert set(importances) == {"x", "y", "kind"}
    assert sum(importances.values()) == pytest.approx(1.0)


def test_the_evaluators_are_base_evaluators_and_deterministic(study):
    evaluator = optuna.importance.MeanDecreaseImpurityImportanceEvaluator()
    assert isinstance(evaluator, optuna.importance.BaseImportanceEvaluator)
    assert evaluator.evaluate(study) == evaluator.evaluate(study)


def test_params_and_target_are_passed_to_the_evaluator(study):
    importances = optuna.importance.get_param_importances(
        study, params=["y", "kind"], target=lambda trial: trial.params["y"]
    )
    assert next(iter(importances)) == "y"
    assert set(importances) == {"y", "kind"}


def test_a_users_evaluator_derives_from_the_base(study):
    class ByNameLength(optuna.importance.BaseImportanceEvaluator):
        def evaluate(self, study, params=None, *, target=None):
            return {name: float(len(name)) for name in params or study.best_params}

    importances = optuna.importance.get_param_importances(study, evaluator=ByNameLength())
    assert importances == pytest.approx({"kind": 4 / 6, "x": 1 / 6, "y": 1 / 6})
    assert next(iter(importances)) == "kind"
    with pytest.raises(TypeError):
        optuna.importance.BaseImportanceEvaluator()


@pytest.mark.parametrize(
    "name",
    [
        "get_param_importances",
        "FanovaImportanceEvaluator",
        "MeanDecreaseImpurityImportanceEvaluator",
        "PedAnovaImportanceEvaluator",
    ],
)
def test_optunas_keywords_are_taken(name):
    theirs = inspect.signature(getattr(real_optuna.importance, name)).parameters
    ours = inspect.signature(getattr(optuna.importance, name)).parameters
    assert {n: p.kind for n, p in theirs.items()} == {n: p.kind for n, p in ours.items()}
