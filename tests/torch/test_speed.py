from __future__ import annotations

import functools
import logging

import pytest
import torch
from torch import nn

from tunelab.exceptions import ConfigError
from tunelab.torch import speed
from tunelab.torch.data import DataSplit, load_data
from tunelab.torch.fused.trainer import fusion_blocker
from tunelab.torch.models import build_cnn, build_mlp
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import Trainer

REAL_COMPILE = torch.compile


@pytest.fixture(scope="module")
def digits() -> DataSplit:
    return load_data("digits")


@pytest.fixture(scope="module")
def digit_images() -> DataSplit:
    return load_data({"name": "digits_images", "val_fraction": 0.5})


def linear_regression(n: int) -> DataSplit:
    """A float64 linear regression problem, for gradients that compare to rounding error."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n + 10, 3, generator=generator, dtype=torch.float64)
    y = x @ torch.tensor([[1.5], [-2.0], [0.5]], dtype=torch.float64) + 0.1
    empty = x[:0]
    return DataSplit(x[:n], y[:n], x[n:], y[n:], empty, y[:0], "regression", None, (3,))


def trained_linear(data: DataSplit, **recipe) -> torch.Tensor:
    torch.manual_seed(0)
    model = nn.Linear(3, 1).double()
    options = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "epochs": 3,
               "schedule": "cosine", "normalization": "none", "restore_best": False}
    Trainer(model, data, Recipe(**{**options, **recipe}), telemetry=False).fit()
    return torch.cat([model.weight.flatten(), model.bias])


@pytest.mark.parametrize("n", [24, 26])  # 26: a last group, and batch, of 2
def test_accumulating_k_batches_of_b_steps_as_one_batch_of_k_times_b(n):
    data = linear_regression(n)
    accumulated = trained_linear(data, batch_size=4, gradient_accumulation_steps=3)
    one_batch = trained_linear(data, batch_size=12)

    assert torch.allclose(accumulated, one_batch, rtol=0, atol=1e-12)
    # A different grouping of the same examples would end elsewhere.
    assert not torch.allclose(trained_linear(data, batch_size=4), one_batch, atol=1e-6)


def test_the_schedule_steps_once_per_optimizer_step(digits):
    recipe = Recipe(epochs=2, batch_size=100, gradient_accumulation_steps=3, warmup_epochs=1,
                    lr=0.01)
    steps = []
    trainer = Trainer(build_mlp(64, 10, depth=1, width=8), digits, recipe, telemetry=False)
    original = trainer.optimizer.step

    def counted_step(*args, **kwargs):
        steps.append(trainer.optimizer.param_groups[0]["lr"])
        return original(*args, **kwargs)

    trainer.optimizer.step = counted_step
    trainer.fit()

    # 1437 training rows in groups of 300: 5 optimizer steps an epoch, warming up over the first 5.
    assert len(steps) == 10
    assert steps[:5] == pytest.approx([0.01 * k / 5 for k in range(1, 6)])
    assert steps[5:] == pytest.approx([0.01] * 5)


def test_bf16_trains_an_easy_model(digits):
    torch.manual_seed(0)
    trainer = Trainer(build_mlp(64, 10, depth=1, width=32), digits,
                      Recipe(epochs=5, lr=3e-3, precision="bf16", device="cpu"))

    assert trainer.autocast_dtype == torch.bfloat16
    assert trainer.fit().best_value > 0.85


def test_fp16_on_the_cpu_is_refused_before_training(digits):
    with pytest.raises(ConfigError, match="on the CPU use precision: bf16") as caught:
        Trainer(build_mlp(64, 10), digits, Recipe(precision="fp16", device="cpu"))
    assert caught.value.field == "precision"


def test_channels_last_trains_images_as_the_default_layout_does(digit_images):
    def fit(channels_last: bool) -> tuple[Trainer, float]:
        torch.manual_seed(0)
        model = build_cnn((1, 8, 8), 10, depth=2, channels=8)
        recipe = Recipe(epochs=2, batch_size=64, lr=3e-3, channels_last=channels_last)
        trainer = Trainer(model, digit_images, recipe, telemetry=False)
        return trainer, trainer.fit().history[-1].val_loss

    trainer, loss = fit(True)
    conv = trainer.model.blocks[1].conv.weight  # 8 channels in: the layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert loss == pytest.approx(fit(False)[1], rel=1e-4)


def test_channels_last_on_vectors_is_refused(digits):
    with pytest.raises(ConfigError, match=r"samples have shape \(64,\); set channels_last") as e:
        Trainer(build_mlp(64, 10), digits, Recipe(channels_last=True))
    assert e.value.field == "channels_last"


def fit_cnn(data: DataSplit, **recipe) -> list[float]:
    torch.manual_seed(0)
    model = build_cnn((1, 8, 8), 10, depth=1, channels=8)  # with batch norm, whose statistics
    options = {"epochs": 2, "batch_size": 128, "lr": 3e-3, **recipe}  # the probe must not move
    history = Trainer(model, data, Recipe(**options), telemetry=False).fit().history
    return [epoch.val_loss for epoch in history]


def test_a_compiled_model_trains_as_the_eager_one(digit_images, monkeypatch):
    # The eager backend traces and runs the graph without generating code: seconds, not a
    # minute of C++ compilation, and the same arithmetic.
    monkeypatch.setattr(torch, "compile", functools.partial(REAL_COMPILE, backend="eager"))
    compiled = fit_cnn(digit_images, compile=True)
    assert compiled == pytest.approx(fit_cnn(digit_images), rel=1e-5)


def test_a_compiler_that_fails_leaves_the_trial_training_without_it(
    digit_images, monkeypatch, caplog
):
    def broken_compile(model):
        def forward(*args):
            raise RuntimeError("no C++ compiler found\nmore details")
        return forward

    monkeypatch.setattr(torch, "compile", broken_compile)
    with caplog.at_level(logging.WARNING, logger="tunelab"):
        losses = fit_cnn(digit_images, compile=True)

    assert losses == fit_cnn(digit_images)
    assert "recipe field 'compile': compiling failed (RuntimeError: no C++ compiler found)" in (
        caplog.text
    )
    assert "trains without torch.compile" in caplog.text


def test_compile_is_skipped_with_the_reason_where_it_is_unsupported(
    digit_images, monkeypatch, caplog
):
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    monkeypatch.setattr(torch, "compile", lambda model: pytest.fail("compiled anyway"))
    with caplog.at_level(logging.WARNING, logger="tunelab"):
        fit_cnn(digit_images, compile=True)
    assert "not supported by this Python or platform" in caplog.text


@pytest.mark.parametrize(
    "changes",
    [{"precision": "bf16"}, {"compile": True}, {"channels_last": True},
     {"gradient_accumulation_steps": 2}],
)
def test_speed_settings_train_one_by_one_rather_than_fused(changes):
    assert "speed settings" in fusion_blocker(Recipe(**changes))


def test_in_layout_leaves_inputs_alone_unless_asked():
    x = torch.zeros(2, 3, 4, 4)
    assert speed.in_layout(x, Recipe()) is x
    assert speed.in_layout(x, Recipe(channels_last=True)).is_contiguous(
        memory_format=torch.channels_last
    )
