"""Epoch time of tunelab's trainer beside a plain hand-written PyTorch loop on the same work.

Both sides train the same model from the same initial weights on the same normalized tensors,
with the same optimizer (Adam), batch size, shuffling and loss, and evaluate on the validation
split after every epoch. The plain loop is what a user writes by hand: shuffle, forward, loss,
``loss.item()`` for the running loss, backward, step, then an evaluation pass. The trainer runs
with telemetry on (per-layer gradient norms every step, activation statistics every epoch) and
reports nothing to a trial, so the difference is the engine's own cost.

Epoch time is the median over the epochs after the first (warm-up) of each run; runs alternate
between the two sides so that a busy machine slows both alike. The ratio trainer/plain should
be at most 1.10.

``--feed loader`` does the same with the data on disk (the normalized digits written as .npy
files) read by ``DataLoader``s with ``--workers`` processes: the trainer streams them
(``stream: true``), the plain loop iterates a ``DataLoader`` over the same rows with the same
workers, batch size and shuffling, copies each batch to the device and converts it to float32,
as a user's loop does; ``both`` measures both feeds.

Usage: ``python bench/engine_overhead.py [--model mlp|cnn|both] [--feed memory|loader|both]
[--workers N ...] [--epochs E] [--repeat R] [--batch-size B] [--threads T] [--json FILE]``.
The default run takes about 15 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader

from tunelab.torch.data import DataSplit, StreamedSplit, load_data, normalize
from tunelab.torch.models import build_cnn, build_mlp
from tunelab.torch.recipe import Recipe
from tunelab.torch.trainer import Trainer

MODELS: dict[str, tuple[str, Callable[[], nn.Module]]] = {
    "mlp": ("digits", lambda: build_mlp(64, 10, depth=2, width=128)),
    "cnn": ("digits_images", lambda: build_cnn((1, 8, 8), 10, depth=2, channels=32)),
}


def plain_epochs(model: nn.Module, data: DataSplit, epochs: int, batch_size: int) -> list[float]:
    """A hand-written loop; returns the wall time of each epoch (training + evaluation)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    generator = torch.Generator().manual_seed(0)
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        running_loss = 0.0
        order = torch.randperm(len(data.x_train), generator=generator)
        for batch in order.split(batch_size):
            loss = F.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
            running_loss += loss.item() * len(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(data.x_val)
            _accuracy = (logits.argmax(dim=1) == data.y_val).float().mean().item()
            _val_loss = F.cross_entropy(logits, data.y_val).item()
        times.append(time.perf_counter() - started)
    return times


def plain_loader_epochs(
    model: nn.Module, data: StreamedSplit, epochs: int, batch_size: int, workers: int
) -> list[float]:
    """A hand-written loop over DataLoaders of the same rows, as a user writes it."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    options = {"num_workers": workers, "persistent_workers": workers > 0}
    train = DataLoader(data.train, batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0), **options)
    val = DataLoader(data.val, batch_size=batch_size, **options)
    device = torch.device("cpu")
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        model.train()
        running_loss = 0.0
        for x, y in train:
            x, y = x.to(device, non_blocking=True).float(), y.to(device, non_blocking=True)
            loss = F.cross_entropy(model(x), y)
            running_loss += loss.item() * len(y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            outputs, targets = [], []
            for x, y in val:
                outputs.append(model(x.to(device, non_blocking=True).float()))
                targets.append(y.to(device, non_blocking=True))
            logits, labels = torch.cat(outputs), torch.cat(targets)
            _accuracy = (logits.argmax(dim=1) == labels).float().mean().item()
            _val_loss = F.cross_entropy(logits, labels).item()
        times.append(time.perf_counter() - started)
    return times


def trainer_epochs(
    model: nn.Module, data: DataSplit | StreamedSplit, epochs: int, batch_size: int
) -> list[float]:
    recipe = Recipe(epochs=epochs, batch_size=batch_size, lr=1e-3, normalization="none")
    result = Trainer(model, data, recipe, telemetry=True).fit()
    return [epoch.epoch_time for epoch in result.history]


def measure(
    name: str, epochs: int, repeat: int, batch_size: int, workers: int | None
) -> dict[str, Any]:
    """Memory-fed when ``workers`` is None, else DataLoader-fed with that many workers."""
    dataset, build = MODELS[name]
    data = normalize(load_data(dataset), "standardize")
    with tempfile.TemporaryDirectory() as folder:
        sides: dict[str, Callable[[nn.Module], list[float]]] = {
            "plain": lambda model: plain_epochs(model, data, epochs, batch_size),
            "trainer": lambda model: trainer_epochs(model, data, epochs, batch_size),
        }
        if workers is not None:
            streamed = _on_disk(data, Path(folder), workers)
            sides = {
                "plain": lambda model: plain_loader_epochs(
                    model, streamed, epochs, batch_size, workers),
                "trainer": lambda model: trainer_epochs(model, streamed, epochs, batch_size),
            }
        runs: dict[str, list[float]] = {"plain": [], "trainer": []}
        for _ in range(repeat):
            for side, run in sides.items():
                torch.manual_seed(0)
                runs[side].extend(run(build())[1:])
    plain = statistics.median(runs["plain"])
    trainer = statistics.median(runs["trainer"])
    feed = "memory" if workers is None else f"loader/{workers}w"
    return {"model": name, "feed": feed, "plain_ms": plain * 1e3, "trainer_ms": trainer * 1e3,
            "ratio": trainer / plain}


def _on_disk(data: DataSplit, folder: Path, workers: int) -> StreamedSplit:
    """The split's training and validation rows as .npy files, streamed back, unshuffled."""
    x = torch.cat([data.x_train, data.x_val]).numpy()
    y = torch.cat([data.y_train, data.y_val]).numpy()
    np.save(folder / "x.npy", x)
    np.save(folder / "y.npy", y)
    spec = {"name": "npy", "x": str(folder / "x.npy"), "y": str(folder / "y.npy"),
            "stream": True, "num_workers": workers, "val_fraction": len(data.x_val) / len(x)}
    streamed = load_data(spec)
    assert isinstance(streamed, StreamedSplit)
    return streamed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--feed", choices=["memory", "loader", "both"], default="memory")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    names = list(MODELS) if args.model == "both" else [args.model]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
          f" | {args.epochs} epochs x {args.repeat} runs, batch {args.batch_size}, telemetry on")
    feeds: list[int | None] = [] if args.feed == "loader" else [None]
    if args.feed != "memory":
        feeds += args.workers
    print(f"{'model':6} {'feed':>11} {'plain ms/epoch':>15} {'trainer ms/epoch':>17} "
          f"{'ratio':>7}")
    rows = []
    for name in names:
        for workers in feeds:
            row = measure(name, args.epochs, args.repeat, args.batch_size, workers)
            rows.append(row)
            print(f"{name:6} {row['feed']:>11} {row['plain_ms']:15.2f} "
                  f"{row['trainer_ms']:17.2f} {row['ratio']:7.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"date": datetime.now(timezone.utc).isoformat(), "args": vars(args),
                       "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    main()
