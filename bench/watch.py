"""What ``tunelab.torch.watch`` costs a hand-written training loop.

The job is the digits CNN of ``bench/peers.py`` (two convolutional blocks with batch norm,
32 and 64 channels, Adam, batch 32): a small model whose steps take a millisecond or two on
a CPU, so that the hooks' fixed cost per step shows, if anywhere. One epoch is a training pass
over the 1,437 training images and a validation pass over the 360 others. Each round trains
one model plainly, one with ``watch`` without distributions (gradient norms and activation
statistics, each epoch stored with an in-memory trial) and one with all of ``watch`` (the
quantiles of each layer's weights, gradients and outputs too), in rotating order, from the
same seed; the table gives, over the rounds, the median of each round's median epoch time and
of its ratio to the same round's plain loop (a ratio within a round is immune to the machine's
load drifting between rounds).

Usage: ``python bench/watch.py [--rounds 10] [--epochs 4] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from typing import Any

BATCH_SIZE = 32
CHANNELS = 32
VARIANTS = {
    "plain": "plain loop",
    "watch-no-distributions": "watch, distributions=False",
    "watch": "watch",
}


def load() -> tuple[Any, ...]:
    from tunelab.torch.data import load_data

    split = load_data({"name": "digits_images", "val_fraction": 0.2, "seed": 0})
    mean, std = split.x_train.mean(), split.x_train.std()
    return (split.x_train - mean) / std, split.y_train, (split.x_val - mean) / std, split.y_val


def train(data: tuple[Any, ...], epochs: int, variant: str) -> list[float]:
    """Epoch times of one training run of ``variant`` (one of VARIANTS)."""
    import torch
    from torch.nn import functional as F

    import tunelab
    from tunelab.torch import build_cnn, watch

    x_train, y_train, x_val, y_val = data
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = build_cnn(tuple(x_train.shape[1:]), 10, channels=CHANNELS, depth=2, batch_norm=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    study = tunelab.create_study(direction="maximize")
    trial = study.ask()
    recorder = None
    if variant != "plain":
        recorder = watch(trial, model, validation_size=len(y_val),
                         distributions=variant == "watch")
    times = []
    if recorder is not None:
        recorder.start()
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for start in range(0, len(order), BATCH_SIZE):
            batch = order[start:start + BATCH_SIZE]
            loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            outputs = model(x_val)
            val_loss = F.cross_entropy(outputs, y_val)
            accuracy = (outputs.argmax(1) == y_val).float().mean()
        if recorder is not None:
            recorder.epoch(train_loss=loss, val_loss=val_loss, val_metric=accuracy, lr=optimizer)
        times.append(time.perf_counter() - started)
    if recorder is not None:
        recorder.close()
    study.tell(trial, float(accuracy))
    return times


def measure(rounds: int, epochs: int) -> list[dict[str, float]]:
    """Each round's median epoch time of each variant."""
    data = load()
    train(data, 1, "watch")  # warm-up: first-call costs of torch and of tunelab's imports
    medians = []
    for index in range(rounds):
        order = list(VARIANTS)
        shift = index % len(order)
        medians.append({
            variant: statistics.median(train(data, epochs, variant))
            for variant in order[shift:] + order[:shift]
        })
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rounds = measure(args.rounds, args.epochs)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {args.threads} thread(s), load {os.getloadavg()[0]:.2f}")
    print(f"{args.rounds} rounds x {args.epochs} epochs each; medians over the rounds of each "
          "round's median epoch time and of its ratio to the same round's plain loop:")
    print("| loop | epoch (ms) | ratio to plain |")
    print("|---|---:|---:|")
    for variant, label in VARIANTS.items():
        epoch = statistics.median(r[variant] for r in rounds)
        ratio = statistics.median(r[variant] / r["plain"] for r in rounds)
        print(f"| {label} | {epoch * 1e3:.1f} | {ratio:.3f} |")


if __name__ == "__main__":
    main()
