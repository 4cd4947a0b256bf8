"""What early stopping saves on a real training task, and what it costs in the best result.

For each seed, the digits CNN example (``examples/digits_cnn.yaml``) runs the same number of
trials with the same random sampler (so the same configurations, trial by trial) once without
pruning and once with each pruner given: the table shows the best validation accuracy of the
study and the epochs trained, as a fraction of the epochs without pruning. Stopped trials count
the epochs they ran; continued ones (promotions) only the epochs past their resume point.

The full digits data saturate (several configurations reach 100 % validation accuracy), so
``--train-per-class N`` keeps N training images per class (the validation part is unchanged),
which spreads the configurations out and makes the comparison sharper.

Usage: ``python bench/pruning.py [--seeds 0 1 2] [--trials 40] [--jobs 2]
[--train-per-class 20] [--pruners asha hyperband]``; a pruner is a name or
``name:key=value,key=value`` (values are read as YAML). About 20 minutes on 2 cores for the
defaults, 3 with ``--train-per-class 20``.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
import yaml

import tunelab
from tunelab.config import read_study_file
from tunelab.pruners.savings import step_savings
from tunelab.torch.task import Task

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_cnn.yaml"
NO_PRUNING = "none"


def parse_pruner(text: str) -> dict[str, Any]:
    name, _, options = text.partition(":")
    spec: dict[str, Any] = {"name": name}
    for item in filter(None, options.split(",")):
        key, _, value = item.partition("=")
        spec[key] = yaml.safe_load(value)
    return spec


def run_study(
    example: Path, pruner: str, seed: int, n_trials: int, train_per_class: int | None
) -> dict[str, Any]:
    torch.set_num_threads(1)
    logging.getLogger("tunelab").setLevel(logging.WARNING)
    task_spec = read_study_file(example)["task"]
    if train_per_class is not None:
        task_spec["data"] = {**task_spec["data"], "train_per_class": train_per_class}
    with tempfile.TemporaryDirectory() as artifacts:
        task = Task({**task_spec, "artifacts": artifacts}, base_dir=example.parent)
        study = tunelab.create_study(
            direction=task.direction,
            sampler={"name": "random", "seed": seed},
            pruner=parse_pruner(pruner),
        )
        started = time.perf_counter()
        study.optimize(task, n_trials=n_trials)
        seconds = time.perf_counter() - started
    savings = step_savings(study.trials)
    assert savings is not None
    return {
        "pruner": pruner,
        "seed": seed,
        "best": study.best_value,
        "epochs": savings.run,
        "complete": sum(r.state is tunelab.TrialState.COMPLETE for r in study.trials),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--example", type=Path, default=EXAMPLE)
    parser.add_argument("--train-per-class", type=int, default=None)
    parser.add_argument(
        "--pruners", nargs="+",
        default=["asha:min_resource=1,reduction_factor=3,max_resource=25"],
    )
    args = parser.parse_args()
    pruners = [NO_PRUNING, *args.pruners]
    jobs = [
        (args.example, p, s, args.trials, args.train_per_class)
        for s in args.seeds
        for p in pruners
    ]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_study, *zip(*jobs)))
    base = {r["seed"]: r for r in results if r["pruner"] == NO_PRUNING}
    limit = f", {args.train_per_class} training images per class" if args.train_per_class else ""
    print(f"{args.example.name}{limit}: {args.trials} random-search trials per study, best "
          "validation accuracy and epochs trained")
    print(f"{'pruner':<48} {'seed':>4} {'best':>7} {'vs none':>8} {'epochs':>7} "
          f"{'fraction':>8} {'complete':>8} {'time s':>7}")
    for r in results:
        ref = base[r["seed"]]
        print(f"{r['pruner']:<48} {r['seed']:>4} {r['best']:7.4f} "
              f"{100 * (r['best'] - ref['best']):+7.2f}pt {r['epochs']:>7} "
              f"{r['epochs'] / ref['epochs']:8.3f} {r['complete']:>8} {r['seconds']:7.1f}")
    for pruner in args.pruners:
        rows = [r for r in results if r["pruner"] == pruner]
        gaps = [100 * (base[r["seed"]]["best"] - r["best"]) for r in rows]
        fractions = [r["epochs"] / base[r["seed"]]["epochs"] for r in rows]
        print(f"{pruner}: largest loss of best accuracy {max(gaps):+.2f} pt, epochs "
              f"{statistics.mean(fractions):.3f} of no pruning on average "
              f"(at most {max(fractions):.3f})")


if __name__ == "__main__":
    main()
