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


def small_mlp(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_mlp(64, 10, width=32)


class InfiniteLogits(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((len(x), 10), float("inf"), requires_grad=True)


def test_training_learns_the_digits(data):
    result = train_classifier(small_mlp(), data, **FAST)

    assert result.best_val_accuracy > 0.9


def test_result_summarizes_every_epoch(data):
    result = train_classifier(small_mlp(), data, **FAST)

    assert result.epochs_run == len(result.val_accuracy) == len(result.val_loss) == 3
    assert result.best_val_accuracy == max(result.val_accuracy)
    assert result.final_val_accuracy == result.val_accuracy[-1]
    assert result.val_loss[-1] < result.val_loss[0]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_same_seed_gives_identical_results(data, optimizer):
    options = {**FAST, "optimizer": optimizer, "lr": 0.01}
    if optimizer == "sgd":
        options["momentum"] = 0.9

    first = train_classifier(build_mlp(64, 10, 32, dropout=0.2), data, **options)
    torch.manual_seed(12345)
    model = build_mlp(64, 10, 32, dropout=0.2)
    model.load_state_dict(small_mlp_with_dropout_weights())
    second = train_classifier(model, data, **options)

    assert first == second


def small_mlp_with_dropout_weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return build_mlp(64, 10, 32, dropout=0.2).state_dict()
