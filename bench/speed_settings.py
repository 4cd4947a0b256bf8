"""What the recipe's speed settings cost and give here: epoch time and accuracy of one CNN.

The same CNN (``cnn``, depth 2, 32 channels, batch norm) trains on the 8x8 digit images from the
same initial weights with the default recipe and with each speed setting alone: ``precision:
bf16``, ``channels_last``, ``compile`` (torch.compile with its default backend) and
``gradient_accumulation_steps: 4`` with a quarter of the batch (the same effective batch). For
each it prints the time ``fit()`` takes before its first epoch (for ``compile``, compiling,
which runs once per process; the compiler's on-disk cache can shorten it in a later process),
the first epoch's time, the median of the later epochs, and the best validation accuracy.
Settings the device does not offer print why.

Usage: ``python bench/speed_settings.py [--epochs E] [--batch-size B] [--device D]``; about a
minute on 2 cores, most of it compiling.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch

from report import load_average  # bench/report.py, beside this
from tunelab.exceptions import ConfigError
from tunelab.torch.data import load_data
from tunelab.torch.models import build_cnn
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import Trainer


def settings(batch_size: int) -> dict[str, dict[str, Any]]:
    return {
        "default": {},
        "precision: bf16": {"precision": "bf16"},
        "channels_last": {"channels_last": True},
        "compile": {"compile": True},
        "gradient_accumulation_steps: 4": {
            "gradient_accumulation_steps": 4,
            "batch_size": batch_size // 4,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    data = load_data({"name": "digits_images", "val_fraction": 0.2, "seed": 0})
    print(f"load average before: {load_average()}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'setting':<32} {'before s':>8} {'first epoch s':>13} {'later epochs s':>14} "
          f"{'best val acc':>12}")
    for name, changes in settings(args.batch_size).items():
        options = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": 3e-3}
        recipe = Recipe(**{**options, "device": args.device, **changes})
        torch.manual_seed(0)
        model = build_cnn((1, 8, 8), 10, depth=2, channels=32)
        try:
            trainer = Trainer(model, data, recipe, telemetry=False)
        except ConfigError as error:
            print(f"{name:<32} not on this device: {error}")
            continue
        started = time.perf_counter()
        result = trainer.fit()
        total = time.perf_counter() - started
        epochs = [epoch.epoch_time for epoch in result.history]
        print(f"{name:<32} {total - sum(epochs):8.3f} {epochs[0]:13.3f} "
              f"{statistics.median(epochs[1:]):14.3f} {result.best_value:12.4f}")
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
