from __future__ import annotations

import pytest
import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch.data import load_digits_split
from tunelab.torch.models import build_mlp
from tunelab.torch.trainer import train_classifier

FAST = {"optimizer": "adam", "lr": 3e-3, "batch_size": 128, "epochs": 3, "seed": 0}


@pytest.fixture(scope="module")
def data():
    return load_digits_split(seed=0)


def small_mlp(dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return build_mlp(64, 10, width=32, dropout=dropout)


class InfiniteLogits(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float("inf")))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :10] * self.scale


def test_training_learns_the_digits(data):
    result = train_classifier(small_mlp(), data, **{**FAST, "batch_size": 32, "epochs": 5})

    assert result.best_val_accuracy > 0.9


def test_result_summarizes_every_epoch(data):
    result = train_classifier(small_mlp(), data, **FAST)

    assert result.epochs_run == len(result.val_accuracy) == len(result.val_loss) == 3
    assert result.best_val_accuracy == max(result.val_accuracy)
    assert result.final_val_accuracy == result.val_accuracy[-1]
    assert result.val_loss[-1] < result.val_loss[0]


@pytest.mark.parametrize(("optimizer", "momentum"), [("sgd", 0.9), ("adam", 0.0), ("rmsprop", 0.5)])
def test_same_seed_gives_identical_results(data, optimizer, momentum):
    options = {**FAST, "optimizer": optimizer, "lr": 0.01, "momentum": momentum}

    first = train_classifier(small_mlp(dropout=0.2), data, **options)
    model = small_mlp(dropout=0.2)
    torch.rand(1000)
    second = train_classifier(model, data, **options)

    assert first == second


def test_another_seed_shuffles_differently(data):
    first = train_classifier(small_mlp(), data, **FAST)
    second = train_classifier(small_mlp(), data, **{**FAST, "seed": 1})

    assert first.val_loss != second.val_loss


def test_on_epoch_is_called_once_per_epoch_with_the_validation_accuracy(data):
    calls = []

    result = train_classifier(
        small_mlp(), data, **FAST, on_epoch=lambda epoch, acc: calls.append((epoch, acc))
    )

    assert calls == list(zip([1, 2, 3], result.val_accuracy))


def test_exception_raised_in_on_epoch_stops_training_and_propagates(data):
    calls = []

    class Stop(Exception):
        pass

    def stop(epoch: int, accuracy: float) -> None:
        calls.append(epoch)
        raise Stop

    with pytest.raises(Stop):
        train_classifier(small_mlp(), data, **FAST, on_epoch=stop)
    assert calls == [1]


def test_non_finite_loss_raises_floating_point_error_naming_the_epoch(data):
    calls = []

    with pytest.raises(FloatingPointError, match="epoch 1"):
        train_classifier(InfiniteLogits(), data, **FAST, on_epoch=lambda *args: calls.append(args))
    assert calls == []


def test_diverging_learning_rate_raises_floating_point_error(data):
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        train_classifier(small_mlp(), data, **{**FAST, "optimizer": "sgd", "lr": 1e6})


def test_unknown_optimizer_is_refused_with_the_choices(data):
    with pytest.raises(ConfigError, match="optimizer") as error:
        train_classifier(small_mlp(), data, **{**FAST, "optimizer": "lbfgs"})
    for choice in ("'sgd'", "'adam'", "'rmsprop'"):
        assert choice in str(error.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lr", 0.0),
        ("lr", float("nan")),
        ("batch_size", 0),
        ("batch_size", 32.0),
        ("epochs", 0),
        ("momentum", 1.0),
        ("weight_decay", -1e-4),
    ],
)
def test_invalid_training_option_names_the_field(data, field, value):
    with pytest.raises(ConfigError, match=field):
        train_classifier(small_mlp(), data, **{**FAST, "optimizer": "sgd", field: value})


def test_momentum_with_adam_is_refused(data):
    with pytest.raises(ConfigError, match="momentum"):
        train_classifier(small_mlp(), data, **{**FAST, "momentum": 0.9})


def test_mlp_has_depth_hidden_layers_and_the_requested_activation():
    model = build_mlp(64, 10, width=16, depth=3, activation="tanh")

    linears = [layer for layer in model.modules() if isinstance(layer, nn.Linear)]
    assert [(layer.in_features, layer.out_features) for layer in linears] == [
        (64, 16),
        (16, 16),
        (16, 16),
        (16, 10),
    ]
    assert sum(isinstance(layer, nn.Tanh) for layer in model.modules()) == 3
    assert model(torch.zeros(5, 64)).shape == (5, 10)


def test_mlp_has_dropout_only_when_asked():
    def has_dropout(model: nn.Module) -> bool:
        return any(isinstance(layer, nn.Dropout) for layer in model.modules())

    assert not has_dropout(build_mlp(64, 10, width=16))
    assert has_dropout(build_mlp(64, 10, width=16, dropout=0.3))


def test_unknown_activation_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="activation") as error:
        build_mlp(64, 10, width=16, activation="swish")
    for choice in ("'relu'", "'tanh'", "'gelu'"):
        assert choice in str(error.value)


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("width", {"width": 0}),
        ("depth", {"depth": 0}),
        ("dropout", {"dropout": 1.0}),
        ("dropout", {"dropout": -0.1}),
        ("n_inputs", {"n_inputs": 0}),
    ],
)
def test_invalid_model_argument_names_the_field(field, overrides):
    arguments = {"n_inputs": 64, "n_outputs": 10, "width": 16, **overrides}

    with pytest.raises(ConfigError, match=field):
        build_mlp(**arguments)
