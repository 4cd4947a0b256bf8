"""Training from a DataLoader: the same run whatever the number of workers, tasks and fused
training on streamed data, and one epoch of data on disk in bounded memory."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.cli.helpers import python_env
from tunelab.torch.data import StreamedSplit, load_data
from tunelab.torch.models import build_model
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
    assert not any(tmp_path.iterdir())  # the data are deleted
