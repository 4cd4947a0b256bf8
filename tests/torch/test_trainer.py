from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import tunelab
from tunelab._attrs import DIVERGENCE_ATTR, PRUNER_CONSULTED_ATTR
from tunelab.exceptions import ConfigError, TrialPruned
from tunelab.study import request_prune
from tunelab.telemetry import (
    artifact_dir,
    read_divergence,
    read_telemetry,
    read_validation_size,
)
from tunelab.torch.data import DataSplit, load_data
from tunelab.torch.models import build_cnn, build_mlp
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import Trainer

FAST = {"epochs": 3, "batch_size": 128}


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data({"name": "digits", "test_fraction": 0.2})


@pytest.fixture(scope="module")
def digit_images() -> DataSplit:
    return load_data("digits_images")


@pytest.fixture(scope="module")
def diabetes() -> DataSplit:
    return load_data("diabetes")


def mlp(data: DataSplit, **options) -> nn.Module:
    torch.manual_seed(0)
    return build_mlp(data.input_shape[0], data.n_outputs, **{"depth": 1, "width": 32, **options})


def fit(data: DataSplit, model: nn.Module | None = None, **recipe):
    trainer = Trainer(model or mlp(data), data, Recipe(**{**FAST, **recipe}))
    return trainer, trainer.fit()


class GradientSpy:
    """Records the total gradient norm and largest gradient the optimizer steps with."""

    def __init__(self, trainer: Trainer) -> None:
        self.norms: list[float] = []
        self.largest: list[float] = []
        step = trainer.optimizer.step
        params = list(trainer.model.parameters())

        def spying_step(*args, **kwargs):
            grads = [p.grad for p in params if p.grad is not None]
            total = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            self.norms.append(total.item())
            self.largest.append(max(g.abs().max().item() for g in grads))
            return step(*args, **kwargs)

        trainer.optimizer.step = spying_step


def spied_fit(data: DataSplit, **recipe) -> GradientSpy:
    trainer = Trainer(mlp(data), data, Recipe(**{**FAST, "lr": 0.05, **recipe}))
    spy = GradientSpy(trainer)
    trainer.fit()
    return spy


def test_a_sensible_recipe_learns_digits(digits):
    _, result = fit(digits, epochs=10, lr=1e-2)
    assert result.best_value >= 0.95
    assert result.metric == "accuracy"
    assert result.test["accuracy"] >= 0.93
    assert result.epochs_run == 10 and not result.stopped_early


def test_training_is_reproducible_with_a_seed(digits):
    def run(seed: int) -> list[float]:
        _, result = fit(digits, mlp(digits, dropout=0.2), seed=seed, noise=0.1)
        return [e.val_loss for e in result.history]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_gradient_clipping_by_norm_bounds_the_norm_the_optimizer_sees(digits):
    free = spied_fit(digits)
    clipped = spied_fit(digits, grad_clip_norm=0.05)
    assert max(free.norms) > 0.05
    assert max(clipped.norms) <= 0.05 * (1 + 1e-4)


def test_gradient_clipping_by_value_bounds_every_component(digits):
    free = spied_fit(digits)
    clipped = spied_fit(digits, grad_clip_value=0.01)
    assert max(free.largest) > 0.01
    assert max(clipped.largest) <= 0.01


def test_l1_makes_weights_sparser_than_none(digits):
    def near_zero_share(**recipe) -> float:
        trainer, _ = fit(digits, epochs=8, lr=3e-3, **recipe)
        weights = trainer.model.blocks[0].linear.weight
        return (weights.abs() < 1e-2).float().mean().item()

    assert near_zero_share(l1=1e-3) > 3 * near_zero_share()


@pytest.mark.parametrize("scheme", ["kaiming_normal", "kaiming_uniform"])
def test_he_initialization_gives_std_sqrt_2_over_fan_in(digits, scheme):
    model = build_mlp(64, 10, depth=1, width=400)
    Trainer(model, digits, Recipe(init=scheme))
    weights = model.blocks[0].linear.weight
    assert weights.std().item() == pytest.approx(math.sqrt(2 / 64), rel=0.05)


def test_dropout_is_off_in_evaluation(digits):
    trainer = Trainer(mlp(digits, dropout=0.5), digits, Recipe(**FAST))
    first = trainer.predict(digits.x_val)
    assert torch.equal(first, trainer.predict(digits.x_val))
    trainer.model.train()
    assert not torch.equal(trainer.model(trainer.data.x_val), trainer.model(trainer.data.x_val))


def test_the_schedule_sets_the_learning_rate_of_every_epoch(digits):
    _, result = fit(digits, epochs=4, schedule="step", step_size=1, gamma=0.5, lr=0.01)
    assert [e.lr for e in result.history] == pytest.approx([0.01, 0.005, 0.0025, 0.00125])


def test_warmup_reaches_the_full_rate_at_the_end_of_its_epochs(digits):
    _, result = fit(digits, epochs=3, warmup_epochs=2, lr=0.01)
    assert [e.lr for e in result.history] == pytest.approx([0.005, 0.01, 0.01], rel=0.05)


def test_lr_multipliers_scale_their_groups(digits):
    trainer = Trainer(mlp(digits), digits, Recipe(lr=0.01, lr_multipliers={"head.*": 10.0}))
    rates = sorted(group["lr"] for group in trainer.optimizer.param_groups)
    assert rates == pytest.approx([0.01, 0.1])


class ScriptedValidation:
    """Makes the trainer see a given validation accuracy each epoch, and keeps the weights."""

    def __init__(self, trainer: Trainer, accuracies: list[float]) -> None:
        self.accuracies = iter(accuracies)
        self.weights: list[torch.Tensor] = []
        evaluate = trainer.evaluate

        def scripted(split="val", metrics=None):
            results = evaluate(split, metrics)
            if split == "val":
                results["accuracy"] = next(self.accuracies)
                self.weights.append(trainer.model.head.weight.detach().clone())
            return results

        trainer.evaluate = scripted


def test_early_stopping_stops_at_the_patience_and_restores_the_best_weights(digits):
    trainer = Trainer(mlp(digits), digits, Recipe(epochs=10, early_stopping_patience=2))
    script = ScriptedValidation(trainer, [0.5, 0.8, 0.79, 0.75, 0.9, 0.9])
    result = trainer.fit()
    assert result.epochs_run == 4 and result.stopped_early
    assert result.best_epoch == 2 and result.best_value == 0.8
    assert torch.equal(trainer.model.head.weight, script.weights[1])


def test_min_delta_ignores_improvements_that_are_too_small(digits):
    recipe = Recipe(epochs=10, early_stopping_patience=2, early_stopping_min_delta=0.05)
    trainer = Trainer(mlp(digits), digits, recipe)
    ScriptedValidation(trainer, [0.5, 0.52, 0.54, 0.9])
    result = trainer.fit()
    assert result.epochs_run == 3 and result.best_epoch == 1


def test_without_restore_the_last_weights_stay(digits):
    recipe = Recipe(epochs=10, early_stopping_patience=1, restore_best=False)
    trainer = Trainer(mlp(digits), digits, recipe)
    script = ScriptedValidation(trainer, [0.8, 0.7])
    trainer.fit()
    assert torch.equal(trainer.model.head.weight, script.weights[-1])


def test_frozen_layers_do_not_change_and_the_rest_does(digits):
    model = mlp(digits)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    fit(digits, model, freeze=["blocks.0.*"])
    after = dict(model.named_parameters())
    assert torch.equal(after["blocks.0.linear.weight"], before["blocks.0.linear.weight"])
    assert not torch.equal(after["head.weight"], before["head.weight"])


def test_unfreeze_after_releases_the_frozen_layers(digits):
    model = mlp(digits)
    before = model.blocks[0].linear.weight.detach().clone()
    fit(digits, model, epochs=3, freeze=["blocks.0.*"], unfreeze_after=2)
    assert not torch.equal(model.blocks[0].linear.weight, before)


def test_pretrained_weights_are_loaded_where_names_and_shapes_match(digits, tmp_path):
    source = build_mlp(64, 5, depth=1, width=32)
    torch.save(source.state_dict(), tmp_path / "source.pt")
    model = mlp(digits)
    Trainer(model, digits, Recipe(pretrained=str(tmp_path / "source.pt")))
    assert torch.equal(model.blocks[0].linear.weight, source.blocks[0].linear.weight)
    assert model.head.weight.shape == (10, 32)  # the 5-class head did not fit and was skipped


def test_augmentation_changes_what_the_model_sees_but_not_the_data(digit_images):
    torch.manual_seed(0)
    plain = Trainer(build_cnn((1, 8, 8), 10, channels=8), digit_images, Recipe(**FAST))
    torch.manual_seed(0)
    model = build_cnn((1, 8, 8), 10, channels=8)
    augmented = Trainer(model, digit_images, Recipe(**FAST, rotation=20, erasing=0.5))
    x_train = augmented.data.x_train.clone()
    assert plain.fit().history[-1].train_loss != augmented.fit().history[-1].train_loss
    assert torch.equal(augmented.data.x_train, x_train)


def test_regression_reports_mse_by_default_and_r2_on_request(diabetes):
    torch.manual_seed(0)
    model = build_mlp(10, 1, depth=1, width=32)
    trainer = Trainer(model, diabetes, Recipe(epochs=30, lr=1e-2, metric="r2"))
    result = trainer.fit()
    assert result.metric == "r2" and result.best_value > 0.3
    outputs = trainer.predict(trainer.data.x_val)
    # predictions and metrics are in the targets' own units, not the standardized ones
    mse = (outputs - diabetes.y_val).pow(2).mean().item()
    assert trainer.evaluate()["mse"] == pytest.approx(mse, rel=1e-5)
    assert 1000 < mse < 5000
    torch.manual_seed(0)
    model = build_mlp(10, 1, depth=1, width=32)
    assert Trainer(model, diabetes, Recipe(**FAST)).fit().metric == "mse"


def test_binary_cross_entropy_trains_a_single_logit():
    data = load_data("breast_cancer")
    torch.manual_seed(0)
    model = build_mlp(30, 1, depth=1, width=16)
    result = Trainer(model, data, Recipe(epochs=10, loss="bce", lr=3e-3)).fit()
    assert result.best_value > 0.9


def test_mixed_precision_on_the_cpu_trains_in_bfloat16(digits):
    _, result = fit(digits, epochs=5, lr=3e-3, mixed_precision=True)
    assert result.best_value > 0.85


def test_telemetry_describes_every_layer_each_epoch(digits):
    _, result = fit(digits, mlp(digits, depth=2, width=16), lr=1e-2)
    ended = [e.finished_at for e in result.history]
    assert all(isinstance(t, float) for t in ended) and ended == sorted(ended)  # epoch end times
    assert [e.epoch for e in result.history] == [1, 2, 3]
    epoch = result.history[-1]
    assert set(epoch.grad_norm) == {"blocks.0.linear", "blocks.1.linear", "head"}
    assert all(value > 0 for value in epoch.grad_norm.values())
    assert set(epoch.activations) == {"blocks.0.act", "blocks.1.act"}
    assert all(0 <= s.dead <= 1 and s.std > 0 for s in epoch.activations.values())
    assert epoch.epoch_time > 0 and epoch.peak_memory_mb > 0
    assert epoch.train_metric > 0.5 and epoch.val_loss > 0
    layers = {"weights": set(epoch.grad_norm), "gradients": set(epoch.grad_norm),
              "activations": set(epoch.activations)}
    assert {kind: set(q) for kind, q in epoch.distributions.items()} == layers
    for per_layer in epoch.distributions.values():
        assert all(q == sorted(q) and q[0] < q[-1] for q in per_layer.values())
    # ReLU outputs: nothing below zero, and the dead units' zeros at the bottom.
    assert all(q[0] == 0.0 for q in epoch.distributions["activations"].values())


def test_dead_units_are_counted(digits):
    model = mlp(digits, width=16)
    with torch.no_grad():
        model.blocks[0].linear.bias[:4] = -1e3  # these four ReLUs never fire
    trainer = Trainer(model, digits, Recipe(**FAST, lr=1e-6))
    assert trainer.fit().history[0].activations["blocks.0.act"].dead == pytest.approx(4 / 16)


def test_a_trial_gets_every_epoch_its_telemetry_and_the_best_weights(digits, tmp_path):
    study = tunelab.create_study(direction="maximize")
    trial = study.ask()
    model = mlp(digits)
    result = Trainer(model, digits, Recipe(**FAST), trial=trial, artifact_dir=tmp_path).fit()
    study.tell(trial, result.best_value)
    record = study.trials[0]
    assert dict(record.intermediate_values) == {e.epoch: e.val_metric for e in result.history}
    assert read_telemetry(record) == list(result.history)
    assert read_validation_size(record) == len(digits.x_val)
    assert record.system_attrs[PRUNER_CONSULTED_ATTR] == "median"  # it asks after each epoch
    assert artifact_dir(record) == str(tmp_path.resolve())
    saved = mlp(digits)
    saved.load_state_dict(torch.load(tmp_path / "best.pt", weights_only=True))
    assert Trainer(saved, digits, Recipe(**FAST)).evaluate()["accuracy"] == result.best_value


def test_a_pruned_trial_stops_after_the_epoch_the_pruner_refused(digits):
    pruner = {"name": "median", "n_startup_trials": 1}
    study = tunelab.create_study(direction="maximize", pruner=pruner)
    for value in (0.99, 0.99):
        finished = study.ask()
        finished.report(value, step=1)
        study.tell(finished, value)
    trial = study.ask()
    trainer = Trainer(mlp(digits), digits, Recipe(epochs=5, lr=1e-5), trial=trial)
    with pytest.raises(TrialPruned, match="after epoch 1"):
        trainer.fit()


def test_a_prune_requested_from_outside_stops_training_after_the_next_epoch(digits):
    study = tunelab.create_study(direction="maximize", pruner="none")
    trial = study.ask()
    request_prune(study, trial.number)  # as the dashboard would, from another process
    trainer = Trainer(mlp(digits), digits, Recipe(epochs=5, lr=1e-5), trial=trial)
    with pytest.warns(UserWarning, match="always False"), \
            pytest.raises(TrialPruned, match="after epoch 1"):
        trainer.fit()


def test_a_diverging_run_stops_at_the_first_non_finite_loss(digits):
    model = mlp(digits)
    with torch.no_grad():
        model.head.weight.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1.*lower the learning rate"):
        Trainer(model, digits, Recipe(**FAST, init="default")).fit()


def test_a_study_records_a_diverged_trial_as_failed_with_the_reason(digits):
    epochs_trained = []

    def objective(trial):
        model = mlp(digits)
        with torch.no_grad():
            model.head.weight.fill_(float("nan"))
        trainer = Trainer(model, digits, Recipe(**FAST, init="default"), trial=trial)
        train_epoch = trainer._train_epoch
        trainer._train_epoch = lambda epoch, *a: epochs_trained.append(epoch) or train_epoch(
            epoch, *a)
        return trainer.fit().best_value

    study = tunelab.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    record = study.trials[0]
    assert record.state is tunelab.TrialState.FAIL
    assert record.fail_reason.startswith("FloatingPointError: training loss became nan in epoch 1")
    assert epochs_trained == [1] and not record.intermediate_values


def test_a_diverged_trial_holds_where_it_diverged_in_a_json_storage(digits, tmp_path):
    def objective(trial):
        model = mlp(digits)
        with torch.no_grad():
            model.head.weight.fill_(float("nan"))
        recipe = Recipe(**FAST, init="default", lr=0.02)
        return Trainer(model, digits, recipe, trial=trial).fit().best_value

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    tunelab.create_study(name="s", storage=storage).optimize(objective, n_trials=1)
    record = tunelab.load_study(name="s", storage=storage).trials[0]
    divergence = read_divergence(record)
    assert (divergence.epoch, divergence.step, divergence.lr) == (1, 1, 0.02)
    assert math.isnan(divergence.loss)
    assert record.system_attrs[DIVERGENCE_ATTR]["loss"] == "nan"  # strict JSON has no NaN


class Fixed(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


@pytest.mark.parametrize(
    ("build", "recipe", "field", "words"),
    [
        (lambda d: Fixed(10, 10), {}, "model", ["cannot take inputs of shape (64,)"]),
        (lambda d: Fixed(64, 3), {}, "model", ["(3,)", "needs (10,)", "n_outputs=10"]),
        (lambda d: Fixed(64, 10), {"loss": "mse"}, "loss", ["does not fit a classification"]),
        (lambda d: Fixed(64, 10), {"metric": "r2"}, "metric", ["accuracy, f1"]),
        (lambda d: Fixed(64, 10), {"device": "cuda:7"}, "device", ["not available"]),
        (lambda d: Fixed(64, 10), {"freeze": ["blocks.*"]}, "freeze", ["linear.weight"]),
        (lambda d: Fixed(64, 10), {"pretrained": "/no/such.pt"}, "pretrained", ["/no/such.pt"]),
        (lambda d: Fixed(64, 10), {"rotation": 10.0}, "augment.rotation", ["rotation"]),
    ],
)
def test_a_bad_configuration_fails_before_training(digits, build, recipe, field, words):
    with pytest.raises(ConfigError) as caught:
        Trainer(build(digits), digits, Recipe(**recipe))
    assert caught.value.field == field
    for word in words:
        assert word in str(caught.value)
