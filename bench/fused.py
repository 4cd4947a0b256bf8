"""Fused population training against one-by-one training: member-epochs per second.

The same declarative task runs ``study.optimize(task, n_trials=K, fuse=K)`` for each
population size K, and ``study.optimize(task, n_trials=N)`` one trial at a time. Both use the
same seeded random sampler, so their trials are the same configurations, trained for the same
epochs on the same data with the same telemetry, no pruning. The rate is member-epochs (epochs
trained, summed over trials) per second; without pruning, trials per minute are that times 60
over the epochs.

Cases (``--models``):

* ``mlp``: a digits MLP 2×64; SGD with a searched learning rate, momentum, weight decay and
  dropout. One architecture, so one-by-one training costs the same per trial whatever K is: it
  is measured once, on ``--alone`` trials.
* ``cnn``: a digits CNN, 2 blocks of 16/32 channels, searched as ``mlp``.
* ``mlp-widths``: a digits MLP of 2 layers whose width is searched too (16 to 256, log-int),
  with the learning rate, weight decay and dropout. A trial's cost depends on its width, so for
  each K one-by-one training times the same K trials. The populations column gives the sizes of
  the populations the K trials formed (members padded to at most ``--max-padding`` times their
  weights; several values give a row each, beside the same one-by-one rate).

Usage::

    python bench/fused.py                                   # CPU, mlp and cnn, K in 1 8 32 128
    python bench/fused.py --models mlp-widths --k 8 32      # the width search
    python bench/fused.py --models mlp-widths --k 32 --max-padding 1.5 2 4 8 1000
    python bench/fused.py --device cuda --k 1 8 32 64 128   # on a GPU (its model is printed)

``--epochs E``, ``--alone N`` (one-by-one trials, default 16), ``--threads T`` (torch threads,
default: every core), ``--repeat R`` (each rate is the median of R runs, default 3). About 3
minutes on 2 CPU cores for the default cases, 2 for ``mlp-widths --k 8 32``.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any

import torch

import tunelab
from tunelab.torch import Task
from tunelab.torch.fused import padding

SEARCH = {
    "lr": {"low": 1e-3, "high": 0.3, "log": True},
    "momentum": {"low": 0.0, "high": 0.95},
    "weight_decay": {"low": 1e-6, "high": 1e-2, "log": True},
    "model.dropout": {"low": 0.0, "high": 0.3},
}
WIDTH_SEARCH = {
    "lr": SEARCH["lr"],
    "weight_decay": SEARCH["weight_decay"],
    "model.dropout": SEARCH["model.dropout"],
    "model.width": {"low": 16, "high": 256, "log": True},
}


@dataclass(frozen=True)
class Case:
    label: str
    data: dict[str, Any]
    model: dict[str, Any]
    search: dict[str, Any]
    same_trials: bool
    """Whether one-by-one training times the K trials fused (their cost differs per trial)."""


CASES = {
    "mlp": Case("digits MLP 2×64", {"name": "digits"}, {"name": "mlp", "depth": 2, "width": 64},
                SEARCH, same_trials=False),
    "cnn": Case("digits CNN 16/32 ch.", {"name": "digits_images"},
                {"name": "cnn", "depth": 2, "channels": 16}, SEARCH, same_trials=False),
    "mlp-widths": Case("digits MLP 2×(16–256)", {"name": "digits"}, {"name": "mlp", "depth": 2},
                       WIDTH_SEARCH, same_trials=True),
}


class PopulationLog(logging.Handler):
    """Keeps the sizes of the populations tunelab logs; shows its warnings on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.sizes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        found = re.match(r"Fused \d+ trials into populations of (\d+(?:, \d+)*)", message)
        if found:
            self.sizes.append(found.group(1))
        elif record.levelno >= logging.WARNING:
            print(message, file=sys.stderr)


def make_task(case: Case, epochs: int, device: str, threads: int) -> Task:
    return Task({
        "data": case.data,
        "model": case.model,
        "recipe": {"epochs": epochs, "batch_size": 64, "optimizer": "sgd", "device": device},
        "search": case.search,
        "artifacts": False,
        "threads": threads,
    })


@dataclass(frozen=True)
class Rate:
    """Member-epochs (epochs trained, summed over a study's trials) per second."""

    wall: float
    cpu: float
    """Per second of this process's CPU time, which other work on the machine disturbs less."""


def median_rate(rates: list[Rate]) -> Rate:
    return Rate(statistics.median(r.wall for r in rates), statistics.median(r.cpu for r in rates))


def measure(task: Task, n_trials: int, fuse: int | None) -> Rate:
    """The member-epochs per second of one seeded study."""
    study = tunelab.create_study(direction="maximize", sampler="random", seed=0, pruner="none")
    started, cpu_started = time.perf_counter(), time.process_time()
    study.optimize(task, n_trials=n_trials, fuse=fuse)
    if task.recipe.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    assert all(r.state is tunelab.TrialState.COMPLETE for r in study.trials)
    member_epochs = sum(len(r.intermediate_values) for r in study.trials)
    return Rate(member_epochs / seconds, member_epochs / cpu_seconds)


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} (torch {torch.__version__})"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, " \
           f"{torch.get_num_threads()} torch threads (torch {torch.__version__})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(CASES), default=["mlp", "cnn"])
    parser.add_argument("--k", nargs="+", type=int, default=[1, 8, 32, 128])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--alone", type=int, default=16, help="one-by-one trials to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--max-padding", nargs="+", type=float, default=[padding.MAX_PADDING],
                        help="bounds on a member's padding (a multiple of its weights)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="should_prune")  # no pruning, on purpose
    log = PopulationLog()
    library_log = logging.getLogger("tunelab")
    library_log.addHandler(log)
    library_log.setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    print(f"Device: {describe_device(args.device)}; {args.epochs} epochs, batch 64, "
          f"median of {args.repeat} runs\n")
    print("| model | K | max padding | fused member-epochs/s | one-by-one member-epochs/s "
          "| speed-up | speed-up in CPU time | populations |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name in args.models:
        case = CASES[name]
        task = make_task(case, args.epochs, args.device, args.threads)
        task.validate()
        measure(task, 2, 2)  # warm-up: data loading, kernels, allocator
        alone = [] if case.same_trials else [measure(task, args.alone, None)
                                             for _ in range(args.repeat)]
        for size in args.k:
            rows = compare(task, size, args.max_padding, args.repeat, case.same_trials, log)
            for bound, (fused, alone_now, populations) in rows.items():
                one_by_one = median_rate(alone_now or alone)
                print(f"| {case.label} | {size} | {bound:g} | {fused.wall:,.0f} | "
                      f"{one_by_one.wall:,.0f} | {fused.wall / one_by_one.wall:.1f}x | "
                      f"{fused.cpu / one_by_one.cpu:.1f}x | {populations} |", flush=True)


def compare(
    task: Task, size: int, bounds: list[float], repeat: int, same_trials: bool,
    log: PopulationLog,
) -> dict[float, tuple[Rate, list[Rate], str]]:
    """For each padding bound, the fused rate of ``size`` trials, the one-by-one rates of the
    same trials (when ``same_trials``; else none) and the populations formed. Each repeat runs
    every variant once, so that they share what else the machine was doing."""
    alone: list[Rate] = []
    fused: dict[float, list[Rate]] = {bound: [] for bound in bounds}
    populations: dict[float, str] = {}
    for _ in range(repeat):
        if same_trials:
            alone.append(measure(task, size, None))
        for bound in bounds:
            padding.MAX_PADDING = bound
            log.sizes.clear()
            fused[bound].append(measure(task, size, size))
            populations[bound] = log.sizes[-1] if log.sizes else "-"
    return {bound: (median_rate(fused[bound]), alone, populations[bound]) for bound in bounds}


if __name__ == "__main__":
    main()
