"""Training from a DataLoader: the same run whatever the number of workers, tasks and fused
training on streamed data, and one epoch of data on disk in bounded memory."""

from __future__ import annotations

import functools
import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from tests.cli.helpers import python_env
from tunelab.torch.data import StreamedSplit, load_data
from tunelab.torch.models import build_cnn, build_model
from tunelab.torch.recipe import Recipe
from tunelab.torch.task import Task
from tunelab.torch.trainer import Trainer

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def digits_on_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits as uint8 8x8 images (x.npy) and labels (y.npy)."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    digits = load_digits()
    np.save(folder / "x.npy", (digits.images * 15).astype(np.uint8))
    np.save(folder / "y.npy", digits.target)
    return folder


@pytest.fixture(scope="module")
def digit_images_on_disk(tmp_path_factory: pytest.TempPathFactory) -> StreamedSplit:
    """The digits as float32 images (N, 1, 8, 8), streamed from x.npy and y.npy."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digit_images")
    digits = load_digits()
    np.save(folder / "x.npy", digits.images[:, None].astype(np.float32))
    np.save(folder / "y.npy", digits.target)
    data = load_data({"name": "npy", "x": "x.npy", "y": "y.npy", "stream": True},
                     base_dir=folder)
    assert isinstance(data, StreamedSplit)
    return data


def fit(data: StreamedSplit) -> list[float]:
    torch.manual_seed(0)
    model = build_model({"name": "mlp", "depth": 1, "width": 32}, data.input_shape, 10)
    recipe = Recipe(epochs=3, batch_size=64, lr=3e-3, normalization="standardize", noise=0.05)
    result = Trainer(model, data, recipe).fit()
    return [e.train_loss for e in result.history] + [result.best_value]


@pytest.mark.slow
def test_a_streamed_run_learns_and_does_not_depend_on_the_number_of_workers(
    digits_on_disk: Path,
) -> None:
    spec = {"name": "npy", "x": "x.npy", "y": "y.npy", "stream": True}
    alone = load_data(spec, base_dir=digits_on_disk)
    workers = load_data({**spec, "num_workers": 2}, base_dir=digits_on_disk)
    assert isinstance(alone, StreamedSplit) and isinstance(workers, StreamedSplit)

    in_process, in_workers = fit(alone), fit(workers)

    assert in_process == in_workers
    assert in_process[-1] > 0.8  # validation accuracy of an MLP on the digits


@pytest.mark.slow
def test_a_task_on_streamed_data_trains_its_trials_one_by_one_when_fused(
    digits_on_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import tunelab

    task = Task(
        {
            "data": {"name": "npy", "x": "x.npy", "y": "y.npy", "stream": True},
            "model": {"name": "mlp", "depth": 1, "width": 16},
            "recipe": {"epochs": 2, "batch_size": 128, "normalization": "minmax"},
            "search": {"lr": {"low": 1e-3, "high": 1e-2, "log": True}},
            "artifacts": None,
        },
        base_dir=digits_on_disk,
    )
    task.validate()
    study = tunelab.create_study(direction="maximize", sampler="random")

    with caplog.at_level(logging.INFO, logger="tunelab"):
        study.optimize(task, n_trials=2, fuse=2)

    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert "trains alone: its data are streamed from disk" in caplog.text
    assert all(t.system_attrs.get("telemetry") for t in study.trials)


@pytest.mark.slow
@pytest.mark.any_cpu_math
def test_one_epoch_of_an_image_folder_and_an_array_on_disk_stays_in_bounded_memory(
    tmp_path: Path,
) -> None:
    """bench/streaming_memory.py on 10 MB instead of 4 GB."""
    command = [sys.executable, str(REPO / "bench" / "streaming_memory.py"), "--gigabytes",
               "0.01", "--folder", str(tmp_path), "--stream", "true", "--workers", "1"]
    done = subprocess.run(command, capture_output=True, text=True, env=python_env(), check=False,
                          timeout=300)

    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert [row["format"] for row in report["rows"]] == ["npy", "png"]
    for row in report["rows"]:
        assert row["streamed"] and row["images"] == 3255
        assert row["tree_peak_pss_mb"] < report["target_mb"]
        assert row["self_peak_rss_mb"] < report["target_mb"]
    assert not any(tmp_path.iterdir())  # the data are deleted


def trained_linear_on_a_loader(**recipe: object) -> torch.Tensor:
    data = load_data({"name": "tests.torch.data.factories:regression", "stream": True})
    assert isinstance(data, StreamedSplit)
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    options = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "epochs": 3,
               "schedule": "cosine", "normalization": "standardize", "restore_best": False}
    Trainer(model, data, Recipe(**{**options, **recipe}), telemetry=False).fit()
    return torch.cat([model.weight.flatten(), model.bias]).detach()


def test_accumulating_batches_from_a_loader_steps_as_one_larger_batch() -> None:
    # 72 training rows in groups of 15: the last group holds batches of 5, 5 and 2 rows.
    accumulated = trained_linear_on_a_loader(batch_size=5, gradient_accumulation_steps=3)
    one_batch = trained_linear_on_a_loader(batch_size=15)

    assert torch.allclose(accumulated, one_batch, rtol=0, atol=1e-5)
    # A different grouping of the same examples would end elsewhere.
    assert not torch.allclose(trained_linear_on_a_loader(batch_size=5), one_batch, atol=1e-3)


@pytest.mark.slow
def test_compile_and_channels_last_train_streamed_images_as_the_defaults_do(
    digit_images_on_disk: StreamedSplit, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The eager backend traces the graph without generating code: seconds, same arithmetic.
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="eager"))

    def val_losses(**recipe: object) -> tuple[Trainer, list[float]]:
        torch.manual_seed(0)
        model = build_cnn((1, 8, 8), 10, depth=2, channels=8)
        options = {"epochs": 2, "batch_size": 128, "lr": 3e-3, "normalization": "standardize"}
        trainer = Trainer(model, digit_images_on_disk, Recipe(**{**options, **recipe}),
                          telemetry=False)
        return trainer, [epoch.val_loss for epoch in trainer.fit().history]

    default = val_losses()[1]
    trainer, sped_up = val_losses(compile=True, channels_last=True)

    conv = trainer.model.blocks[1].conv.weight  # 8 channels in: the layouts differ
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    # The layouts sum in different orders: equal up to rounding grown over two epochs.
    assert sped_up == pytest.approx(default, rel=1e-3)
    assert val_losses(compile=True)[1] == pytest.approx(default, rel=1e-5)
