"""Population-based training against random search with the same number of epochs.

``examples/digits_pbt.yaml`` trains a population of ``population_size`` members for
``max_resource`` epochs. For each seed, random search runs ``population_size`` trials of the same
length with the same sampler and seed, so that its trials are exactly PBT's founding members
trained without exploit and explore: the same total number of epochs. The table shows, for the
best trial of each study, its validation accuracy (what both searches select on) and its test
accuracy (data neither saw, so selection luck does not count).

Usage: ``python bench/pbt.py [--seeds 0 1 2] [--jobs 2] [--example PATH]``; about 1 minute on 2
cores for the defaults.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

import tunelab
from tunelab.config import read_study_file
from tunelab.pruners import make_pruner
from tunelab.pruners.savings import step_savings
from tunelab.torch.task import Task

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "digits_pbt.yaml"


def run_study(example: Path, method: str, seed: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    logging.getLogger("tunelab").setLevel(logging.WARNING)
    spec = read_study_file(example)
    pbt = make_pruner({**spec["pruner"], "seed": seed})
    pruner, n_trials = (pbt, pbt.n_trials) if method == "pbt" else (None, pbt.population_size)
    with tempfile.TemporaryDirectory() as artifacts:
        task = Task({**spec["task"], "artifacts": artifacts}, base_dir=example.parent)
        study = tunelab.create_study(
            direction=task.direction, sampler={"name": "random", "seed": seed}, pruner=pruner
        )
        study.optimize(task, n_trials=n_trials)
    savings = step_savings(study.trials)
    assert savings is not None
    best = study.best_trial
    return {
        "method": method,
        "seed": seed,
        "val": best.value,
        "test": best.user_attrs["test_accuracy"],
        "epochs": savings.run,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--example", type=Path, default=EXAMPLE)
    args = parser.parse_args()
    jobs = [(args.example, m, s) for s in args.seeds for m in ("random", "pbt")]
    with ProcessPoolExecutor(args.jobs) as pool:
        results = list(pool.map(run_study, *zip(*jobs)))
    print(f"{args.example.name}: best trial of each study, validation and test accuracy")
    print(f"{'seed':>4} {'method':>7} {'val':>7} {'test':>7} {'epochs':>7}")
    for r in results:
        print(f"{r['seed']:>4} {r['method']:>7} {r['val']:7.4f} {r['test']:7.4f} {r['epochs']:>7}")
    for key in ("val", "test"):
        gains = [
            100 * (p[key] - r[key])
            for p, r in zip(results[1::2], results[0::2])
        ]
        print(f"PBT - random, {key} accuracy: " + ", ".join(f"{g:+.2f}" for g in gains)
              + f" pt (mean {statistics.mean(gains):+.2f}; PBT ahead on "
              f"{sum(g > 0 for g in gains)} of {len(gains)} seeds)")


if __name__ == "__main__":
    main()
