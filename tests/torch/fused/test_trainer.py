"""A population member trains as it would alone; stopped members leave the population."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tunelab._attrs import DIVERGENCE_ATTR, VALIDATION_SIZE_ATTR
from tunelab.exceptions import TrialPruned
from tunelab.telemetry import Divergence, EpochTelemetry
from tunelab.torch.data import DataSplit, load_data
from tunelab.torch.fused import FusionError, PopulationTrainer
from tunelab.torch.models import build_cnn, build_mlp
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import Trainer

STEPS_PER_EPOCH = 9  # ceil(1078 training digits / 128)


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data({"name": "digits", "test_fraction": 0.2})


@pytest.fixture(scope="module")
def digits64(digits) -> DataSplit:
    splits = ("train", "val", "test")
    floats = {f"x_{split}": getattr(digits, f"x_{split}").double() for split in splits}
    return dataclasses.replace(digits, **floats)


@pytest.fixture(scope="module")
def images() -> DataSplit:
    return load_data({"name": "digits_images", "train_per_class": 30})


def mlps(
    data: DataSplit, count: int, dtype=torch.float32, widths=None, **options
) -> list[torch.nn.Module]:
    """``count`` seeded MLPs, of ``widths[k]`` units each (16 when None)."""
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        shape = {"depth": 2, "width": 16 if widths is None else widths[seed], **options}
        model = build_mlp(data.input_shape[0], data.n_outputs, **shape)
        models.append(model.to(dtype))
    return models


def recipes(count: int, **shared) -> list[Recipe]:
    lrs = (0.05, 0.01, 0.003, 0.02)
    return [Recipe(**{"epochs": 3, "batch_size": 128, "seed": k, "lr": lrs[k % 4], **shared})
            for k in range(count)]


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module, rtol: float) -> None:
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        if x.is_floating_point():
            scale = x.abs().max().clamp_min(1e-12)
            assert ((x - y).abs().max() / scale).item() <= rtol, name


EQUIVALENT = {
    "sgd": dict(optimizer="sgd", momentum=0.9, nesterov=True, weight_decay=1e-3,
                schedule="cosine", warmup_epochs=1),
    "adam": dict(optimizer="adam", weight_decay=1e-3, l1=1e-5, label_smoothing=0.1,
                 grad_clip_norm=0.5, init="kaiming_normal", init_scale=0.8),
    "adamw": dict(optimizer="adamw", weight_decay=0.05, grad_clip_value=0.1, schedule="step",
                  step_size=1, gamma=0.5),
    "rmsprop": dict(optimizer="rmsprop", momentum=0.5, lr=0.001),
    "adagrad": dict(optimizer="adagrad", weight_decay=1e-3, grad_clip_norm=1.0),
}


@pytest.mark.parametrize("optimizer", EQUIVALENT)
def test_each_member_ends_with_the_weights_it_would_have_alone(digits64, optimizer):
    options = {"restore_best": False, **EQUIVALENT[optimizer]}
    members = recipes(3, **options)
    fused = mlps(digits64, 3, torch.float64)
    outcomes = PopulationTrainer(fused, digits64, members).fit()
    for k, alone in enumerate(mlps(digits64, 3, torch.float64)):
        result = Trainer(alone, digits64, members[k]).fit()
        assert_same_weights(alone, fused[k], rtol=1e-6)  # 1e-4 is what the contract asks
        assert outcomes[k].best_value == result.best_value
        mine, theirs = outcomes[k].history[-1], result.history[-1]
        assert mine.train_loss == pytest.approx(theirs.train_loss, rel=1e-9)
        assert mine.lr == pytest.approx(theirs.lr, rel=1e-12)
        assert mine.grad_norm == pytest.approx(theirs.grad_norm, rel=1e-5)
        assert mine.activations.keys() == theirs.activations.keys()


# Members of other widths are zero-padded to the widest and masked: each must still end as it
# would alone, with telemetry of its own units only. Sigmoid is 0.5 at 0, so padded units are
# not zero; batch norm keeps statistics of padded units too. Batch norm goes with SGD only: the
# bias before it gets a gradient of rounding noise, which Adam, RMSprop and Adagrad scale up to
# full steps, so that even two runs alone that sum in another order part there.
WIDTHS = (16, 9, 24)


def assert_same_telemetry(mine: EpochTelemetry, theirs: EpochTelemetry) -> None:
    assert mine.grad_norm.keys() == theirs.grad_norm.keys()
    for layer, norm in theirs.grad_norm.items():
        assert mine.grad_norm[layer] == pytest.approx(norm, rel=1e-5), layer
    assert mine.activations.keys() == theirs.activations.keys()
    for layer, stats in theirs.activations.items():
        own = mine.activations[layer]
        assert (own.mean, own.std, own.dead) == pytest.approx(
            (stats.mean, stats.std, stats.dead), abs=1e-6
        ), layer


@pytest.mark.parametrize("optimizer", EQUIVALENT)
def test_members_of_different_widths_end_as_they_would_alone(digits64, optimizer):
    options = {"restore_best": False, **EQUIVALENT[optimizer]}
    members = recipes(3, **options)
    shape = dict(widths=WIDTHS, batch_norm=optimizer == "sgd", activation="sigmoid")
    fused = mlps(digits64, 3, torch.float64, **shape)
    outcomes = PopulationTrainer(fused, digits64, members).fit()
    for k, alone in enumerate(mlps(digits64, 3, torch.float64, **shape)):
        result = Trainer(alone, digits64, members[k]).fit()
        assert {n: t.shape for n, t in fused[k].state_dict().items()} == {
            n: t.shape for n, t in alone.state_dict().items()
        }
        assert_same_weights(alone, fused[k], rtol=1e-6)
        assert outcomes[k].best_value == result.best_value
        mine, theirs = outcomes[k].history[-1], result.history[-1]
        assert mine.train_loss == pytest.approx(theirs.train_loss, rel=1e-9)
        assert_same_telemetry(mine, theirs)


CNN_CASES = {
    "one width": ((4, 4), "relu", "sgd"),
    "mixed widths, sgd": ((4, 6), "sigmoid", "sgd"),
    "mixed widths, adam": ((6, 3), "sigmoid", "adam"),
}


@pytest.mark.parametrize(("channels", "activation", "optimizer"), CNN_CASES.values(),
                         ids=CNN_CASES)
def test_a_cnn_with_batch_norm_and_augmentation_trains_as_alone(
    images, channels, activation, optimizer
):
    floats = {f"x_{s}": getattr(images, f"x_{s}").double() for s in ("train", "val", "test")}
    data = dataclasses.replace(images, **floats)
    momentum = 0.9 if optimizer == "sgd" else 0.0
    members = [Recipe(optimizer=optimizer, lr=lr, momentum=momentum, epochs=2, batch_size=64,
                      seed=k, shift=0.1, hflip=0.5 * k, restore_best=False, weight_decay=1e-3)
               for k, lr in enumerate((0.05, 0.01))]

    def cnns():
        models = []
        for seed, width in enumerate(channels):
            torch.manual_seed(seed)
            cnn = build_cnn((1, 8, 8), 10, depth=2, channels=width, residual=True,
                            activation=activation, batch_norm=optimizer == "sgd")
            models.append(cnn.double())
        return models

    fused = cnns()
    outcomes = PopulationTrainer(fused, data, members).fit()
    for k, alone in enumerate(cnns()):
        result = Trainer(alone, data, members[k]).fit()
        assert_same_weights(alone, fused[k], rtol=1e-6)
        assert_same_telemetry(outcomes[k].history[-1], result.history[-1])


def test_the_population_narrows_to_its_widest_member_left(digits64):
    members = recipes(3, optimizer="adam", restore_best=False)
    members[1] = members[1].replace(epochs=2)
    widths = (24, 9, 16)
    trials = [ScriptedTrial(0, prune_after=1), ScriptedTrial(1), ScriptedTrial(2)]
    fused = mlps(digits64, 3, torch.float64, widths=widths)
    trainer = PopulationTrainer(fused, digits64, members, trials=trials)
    shapes: dict[int, tuple[int, ...]] = {}

    def done(index: int, outcome: object) -> None:
        shapes[index] = tuple(trainer.tensors["blocks.0.linear.weight"].shape)

    trainer.fit(done)
    # Member 0 (24 wide) left after epoch 1; from then on the population was 16 wide.
    assert shapes == {0: (3, 24, 64), 1: (2, 16, 64), 2: (1, 16, 64)}
    alone = mlps(digits64, 3, torch.float64, widths=widths)[2]
    Trainer(alone, digits64, members[2]).fit()
    assert_same_weights(alone, fused[2], rtol=1e-6)


class ScriptedTrial:
    """A trial whose pruner says stop after ``prune_after`` epochs (never when None)."""

    def __init__(self, number: int, prune_after: int | None = None) -> None:
        self.number = number
        self.prune_after = prune_after
        self.reports: dict[int, float] = {}
        self.attrs: dict[str, object] = {}

    def report(self, value: float, step: int) -> None:
        self.reports[step] = value

    def should_prune(self) -> bool:
        return self.prune_after is not None and len(self.reports) >= self.prune_after

    def set_system_attr(self, key: str, value: object) -> None:
        self.attrs[key] = value


def test_pruned_and_stopped_members_leave_and_cost_no_more_steps(digits):
    members = recipes(4, epochs=6)
    members[3] = members[3].replace(epochs=2)
    trials = [ScriptedTrial(0, prune_after=1), ScriptedTrial(1, prune_after=3), ScriptedTrial(2),
              ScriptedTrial(3)]
    done: list[int] = []
    trainer = PopulationTrainer(mlps(digits, 4), digits, members, trials=trials)
    outcomes = trainer.fit(lambda index, outcome: done.append(index))
    assert isinstance(outcomes[0], TrialPruned) and "after epoch 1" in str(outcomes[0])
    assert isinstance(outcomes[1], TrialPruned) and "after epoch 3" in str(outcomes[1])
    assert [outcomes[2].epochs_run, outcomes[3].epochs_run] == [6, 2]
    assert done == [0, 3, 1, 2]  # each told the moment it left
    assert [len(t.reports) for t in trials] == [1, 3, 6, 2]
    assert len(trials[2].attrs["telemetry"]) == 6
    assert [t.attrs[VALIDATION_SIZE_ATTR] for t in trials] == [len(digits.x_val)] * 4
    # 1 + 3 + 6 + 2 member-epochs were trained, not 4 x 6.
    assert trainer.member_steps == (1 + 3 + 6 + 2) * STEPS_PER_EPOCH


def test_each_member_stops_early_at_its_own_patience(digits):
    members = [r.replace(early_stopping_patience=1, early_stopping_min_delta=0.5)
               for r in recipes(2, epochs=5)]
    members[1] = members[1].replace(early_stopping_patience=0)
    outcomes = PopulationTrainer(mlps(digits, 2), digits, members).fit()
    assert [o.epochs_run for o in outcomes] == [2, 5]
    assert outcomes[0].stopped_early and not outcomes[1].stopped_early


def test_a_diverging_member_fails_alone_and_the_others_are_untouched(digits):
    members = recipes(3)
    members[1] = members[1].replace(optimizer="sgd", lr=1e6)
    members = [m.replace(optimizer="sgd") for m in members]
    fused = mlps(digits, 3)
    trials = [ScriptedTrial(k) for k in range(3)]
    outcomes = PopulationTrainer(fused, digits, members, trials=trials).fit()
    assert isinstance(outcomes[1], FloatingPointError)
    assert "training loss became" in str(outcomes[1]) and "lr=1e+06" in str(outcomes[1])
    # Its trial holds where, as a trial trained alone does; which step of epoch 1 overflows
    # first depends on the machine's arithmetic.
    divergence = Divergence.from_json(trials[1].attrs[DIVERGENCE_ATTR])
    assert divergence.epoch == 1 and 1 <= divergence.step <= STEPS_PER_EPOCH
    assert divergence.lr == 1e6 and not math.isfinite(divergence.loss)
    assert [DIVERGENCE_ATTR in t.attrs for t in trials] == [False, True, False]
    alone = mlps(digits, 3)[2]
    result = Trainer(alone, digits, members[2]).fit()
    assert outcomes[2].best_value == result.best_value


def test_the_best_weights_and_recipe_are_saved_per_member(digits, tmp_path):
    members = recipes(2, epochs=2)
    folders = [tmp_path / "a", None]
    widths = (16, 24)  # member 0 trains padded, and is saved in its own shapes
    models = mlps(digits, 2, widths=widths)
    outcomes = PopulationTrainer(models, digits, members, artifact_dirs=folders).fit()
    assert (tmp_path / "a" / "recipe.json").is_file() and not (tmp_path / "b").exists()
    saved = mlps(digits, 1, widths=widths)[0]
    saved.load_state_dict(torch.load(tmp_path / "a" / "best.pt", weights_only=True))
    assert Trainer(saved, digits, members[0]).evaluate()["accuracy"] == outcomes[0].best_value
    assert set(outcomes[0].test) == {"accuracy", "f1", "loss"}


def test_members_must_share_what_one_step_does(digits):
    members = recipes(2)
    members[1] = members[1].replace(batch_size=32)
    with pytest.raises(FusionError, match="'batch_size' differs between members"):
        PopulationTrainer(mlps(digits, 2), digits, members)
    with pytest.raises(FusionError, match="mixed_precision"):
        PopulationTrainer(mlps(digits, 1), digits, [Recipe(mixed_precision=True)])


def test_a_regression_population_reports_in_the_targets_units():
    data = load_data("diabetes")
    torch.manual_seed(0)
    models = [build_mlp(10, 1, depth=1, width=16) for _ in range(2)]
    members = [Recipe(epochs=2, lr=lr, seed=k, restore_best=False)
               for k, lr in enumerate((0.01, 0.001))]
    outcomes = PopulationTrainer(models, data, members).fit()
    torch.manual_seed(0)
    alone = [build_mlp(10, 1, depth=1, width=16) for _ in range(2)]
    for k in range(2):
        result = Trainer(alone[k], data, members[k]).fit()
        assert outcomes[k].metric == "mse" and math.isfinite(outcomes[k].best_value)
        assert outcomes[k].best_value == pytest.approx(result.best_value, rel=1e-4)
