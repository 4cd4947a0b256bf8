"""Do ensembles of a study's best trials, or the best trial bagged, beat the best trial?

For each data set and seed, a random-search study of ``--trials`` short MLP trainings (a search
over learning rate, width, dropout, weight decay and batch size; the data split, the sampler
and the training are seeded by the seed) keeps every trial's best weights. Then
:func:`tunelab.analysis.ensembles.build_ensembles` combines the ``--k`` best trials by every
method (average, vote, greedy selection, stacking), and
:func:`tunelab.analysis.bagging.bag_best_trial` retrains the best trial on ``--bag`` bootstrap
resamples of the training part. Everything is scored on the test part (20% of the data, never
used by the search, the combinations or the bag), beside the test accuracy of the study's best
trial (best validation accuracy).

Per data set, the summary gives each method's mean test accuracy over the seeds with its
standard error, and its paired difference from the best single trial (mean, standard error,
and seeds won/tied/lost); the method with the highest mean is named.

Usage: ``python bench/ensembles.py [--datasets digits breast_cancer] [--seeds 0 1 2 3 4]
[--trials 12] [--k 5] [--bag 5]``; about two minutes on 2 cores with the defaults.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from typing import Any

import torch

import tunelab
from tunelab.analysis.bagging import bag_best_trial
from tunelab.analysis.ensembles import METHODS, build_ensembles
from tunelab.torch import Task

EPOCHS = {"digits": 8, "breast_cancer": 20}  # breast_cancer: 364 training rows, few steps
COLUMNS = ("best single", *METHODS, "bagging")


def task_spec(dataset: str, seed: int, artifacts: str) -> dict[str, Any]:
    return {
        "data": {"name": dataset, "val_fraction": 0.2, "test_fraction": 0.2, "seed": seed},
        "model": {"name": "mlp", "depth": 1},
        "recipe": {"epochs": EPOCHS[dataset], "device": "cpu", "seed": seed},
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


def run_seed(dataset: str, seed: int, n_trials: int, k: int, n_bag: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as artifacts:
        task = Task(task_spec(dataset, seed, artifacts))
        study = tunelab.create_study(
            name=f"{dataset}-{seed}", direction=task.direction, sampler="random", seed=seed
        )
        study.optimize(task, n_trials=n_trials)
        results = build_ensembles(study, task, k=k)
        bag = bag_best_trial(study, task, n=n_bag, seed=seed)
    assert bag.best_single_test_value == results["average"].best_single_test_value
    return {
        "best single": bag.best_single_test_value,
        **{method: result.test_value for method, result in results.items()},
        "bagging": bag.test_value,
    }


def mean_and_error(values: list[float]) -> str:
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {error:.4f}"


def print_dataset(dataset: str, rows: list[dict[str, float]], seeds: list[int]) -> None:
    print(f"\n### {dataset}\n")
    print("| seed | " + " | ".join(COLUMNS) + " |")
    print("|---:|" + "---:|" * len(COLUMNS))
    for seed, row in zip(seeds, rows):
        print(f"| {seed} | " + " | ".join(f"{row[c]:.4f}" for c in COLUMNS) + " |")
    print("\n| method | test accuracy (mean ± s.e.) | minus best single (mean ± s.e.) "
          "| seeds won / tied / lost |")
    print("|---|---:|---:|---:|")
    for column in COLUMNS:
        values = [row[column] for row in rows]
        if column == "best single":
            print(f"| {column} | {mean_and_error(values)} | | |")
            continue
        differences = [row[column] - row["best single"] for row in rows]
        won = sum(d > 0 for d in differences)
        tied = sum(d == 0 for d in differences)
        print(f"| {column} | {mean_and_error(values)} | {mean_and_error(differences)} "
              f"| {won} / {tied} / {len(rows) - won - tied} |")
    means = {c: statistics.mean(row[c] for row in rows) for c in COLUMNS}
    top = max(means.values())
    # Accuracies are counts of test rows in float32: equal counts may differ in the last bits.
    winners = [c for c in COLUMNS if math.isclose(means[c], top, rel_tol=1e-6)]
    print(f"\nHighest mean test accuracy on {dataset}: {' and '.join(winners)} ({top:.4f}).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(EPOCHS), choices=list(EPOCHS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--bag", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    print(f"MLP, {args.trials} random-search trials per seed, ensembles of the best {args.k}, "
          f"bagging of the best over {args.bag} bootstrap resamples; test accuracy "
          f"(epochs: {', '.join(f'{d} {EPOCHS[d]}' for d in args.datasets)})")
    for dataset in args.datasets:
        rows = [run_seed(dataset, seed, args.trials, args.k, args.bag) for seed in args.seeds]
        print_dataset(dataset, rows, args.seeds)
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
