"""Does an ensemble of a study's best trials beat its best trial? Digits, a small MLP search.

For each seed, a random-search study of ``--trials`` short MLP trainings on scikit-learn's
digits (a search over learning rate, width, dropout, weight decay and batch size; the data
split, the sampler and the training are seeded by the seed) keeps every trial's best weights.
Then :func:`tunelab.analysis.ensembles.build_ensemble` combines the ``--k`` best trials by
each method and scores them on the test part (20% of the data, never used by the search),
beside the test accuracy of the study's best trial (best validation accuracy).

Usage: ``python bench/ensembles.py [--seeds 0 1 2] [--trials 12] [--k 5] [--epochs 8]``;
about 10 s on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import torch

import tunelab
from tunelab.analysis.ensembles import METHODS, build_ensemble
from tunelab.torch import Task


def digits_task(seed: int, epochs: int, artifacts: str) -> dict[str, Any]:
    return {
        "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "seed": seed},
        "model": {"name": "mlp", "depth": 1},
        "recipe": {"epochs": epochs, "device": "cpu", "seed": seed},
        "search": {
            "lr": {"low": 1e-3, "high": 3e-2, "log": True},
            "model.width": {"low": 16, "high": 128, "log": True},
            "model.dropout": {"low": 0.0, "high": 0.5},
            "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True},
            "batch_size": [32, 64, 128],
        },
        "artifacts": artifacts,
        "threads": 1,
    }


def run_seed(seed: int, n_trials: int, k: int, epochs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as artifacts:
        task = Task(digits_task(seed, epochs, artifacts))
        study = tunelab.create_study(
            name=f"digits-{seed}", direction=task.direction, sampler="random", seed=seed
        )
        study.optimize(task, n_trials=n_trials)
        results = {method: build_ensemble(study, task, k=k, method=method) for method in METHODS}
    greedy = results["greedy"]
    return {
        "seed": seed,
        "best_single": greedy.best_single_test_value,
        **{method: result.test_value for method, result in results.items()},
        "greedy_members": ", ".join(
            f"{trial}:{weight:.2f}" for trial, weight in zip(greedy.members, greedy.weights)
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    rows = [run_seed(seed, args.trials, args.k, args.epochs) for seed in args.seeds]
    print(f"digits MLP, {args.trials} random-search trials x {args.epochs} epochs, "
          f"ensembles of the best {args.k}; test accuracy\n")
    print("| seed | best single | " + " | ".join(METHODS) + " | greedy members (trial:weight) |")
    print("|---:|---:|" + "---:|" * len(METHODS) + "---|")
    for row in rows:
        values = " | ".join(f"{row[m]:.4f}" for m in METHODS)
        print(f"| {row['seed']} | {row['best_single']:.4f} | {values} | {row['greedy_members']} |")
    means = " | ".join(f"{statistics.mean(r[m] for r in rows):.4f}" for m in METHODS)
    print(f"| mean | {statistics.mean(r['best_single'] for r in rows):.4f} | {means} | |")
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
