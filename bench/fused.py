"""Fused population training against one-by-one training: trials per minute.

The same declarative task (a digits MLP or a digits CNN, SGD with a searched learning rate,
momentum, weight decay and dropout, no pruning) runs ``study.optimize(task, n_trials=K,
fuse=K)`` for each population size K, and ``study.optimize(task, n_trials=N)`` one trial at a
time. Both use the same seeded random sampler, so their trials are the same configurations,
trained for the same epochs on the same data with the same telemetry. One-by-one training
costs the same per trial whatever K is, so it is measured once, on N trials.

Usage::

    python bench/fused.py                                   # CPU, MLP and CNN, K in 1 8 32 128
    python bench/fused.py --device cuda --k 1 8 32 64 128   # on a GPU (its model is printed)

``--models mlp cnn``, ``--epochs E``, ``--alone N`` (one-by-one trials, default 16),
``--threads T`` (torch threads, default: every core), ``--repeat R`` (each rate is the median
of R runs, default 3). About 3 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import time

import torch

import tunelab
from tunelab.torch import Task

SEARCH = {
    "lr": {"low": 1e-3, "high": 0.3, "log": True},
    "momentum": {"low": 0.0, "high": 0.95},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "model.dropout": {"low": 0.0, "high": 0.3},
}
MODELS = {
    "mlp": ({"name": "digits"}, {"name": "mlp", "depth": 2, "width": 64}),
    "cnn": ({"name": "digits_images"}, {"name": "cnn", "depth": 2, "channels": 16}),
}


def make_task(model: str, epochs: int, device: str, threads: int) -> Task:
    data, architecture = MODELS[model]
    return Task({
        "data": data,
        "model": architecture,
        "recipe": {"epochs": epochs, "batch_size": 64, "optimizer": "sgd", "device": device},
        "search": SEARCH,
        "artifacts": False,
        "threads": threads,
    })


def median_rate(task: Task, n_trials: int, fuse: int | None, repeat: int) -> float:
    """The median over ``repeat`` seeded studies of their trials per minute."""
    return statistics.median(trials_per_minute(task, n_trials, fuse) for _ in range(repeat))


def trials_per_minute(task: Task, n_trials: int, fuse: int | None) -> float:
    """Trials per minute of one seeded study."""
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0)
    started = time.perf_counter()
    study.optimize(task, n_trials=n_trials, fuse=fuse)
    if task.recipe.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    assert all(r.state is tunelab.TrialState.COMPLETE for r in study.trials)
    return n_trials / seconds * 60.0


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} (torch {torch.__version__})"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads (torch {torch.__version__})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["mlp", "cnn"])
    parser.add_argument("--k", nargs="+", type=int, default=[1, 8, 32, 128])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--alone", type=int, default=16, help="one-by-one trials to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("tunelab").setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    print(f"Device: {describe_device(args.device)}; {args.epochs} epochs, batch 64, "
          f"median of {args.repeat} runs\n")
    print("| model | K | fused trials/min | one-by-one trials/min | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for model in args.models:
        task = make_task(model, args.epochs, args.device, args.threads)
        task.validate()
        trials_per_minute(task, 2, 2)  # warm-up: data loading, kernels, allocator
        alone = median_rate(task, args.alone, None, args.repeat)
        for size in args.k:
            fused = median_rate(task, size, size, args.repeat)
            print(f"| {model} | {size} | {fused:,.0f} | {alone:,.0f} | {fused / alone:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
