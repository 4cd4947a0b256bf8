"""Cost of one ``trial.should_prune()`` with the median pruner, beside Optuna's, in one run.

Both libraries get the same history in memory: ``--finished`` completed trials, each of which
reported ``--steps`` values (seeded random curves), then one running trial that reported half
as many steps. The running trial's ``should_prune()`` is timed ``--repeat`` times; the table
gives the median per call. The median pruner is the default of both libraries for a study that
names none, so this is what a reporting objective pays at every step.

    .venv/bin/python bench/should_prune.py                       # 1,000 trials of 20 steps
    .venv/bin/python bench/should_prune.py --finished 100 --steps 50
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import warnings
from typing import Any

import optuna

import tunelab
from report import environment, markdown_table  # bench/report.py, beside this file


def running_trial(library: Any, finished: int, steps: int) -> Any:
    """A running trial of a study with ``finished`` reported curves, and half a curve itself."""
    curves = random.Random(0)
    study = library.create_study(pruner=library.pruners.MedianPruner())
    for _ in range(finished):
        trial = study.ask()
        for step in range(steps):
            trial.report(curves.random() + 1.0 / (step + 1), step)
        study.tell(trial, curves.random())
    trial = study.ask()
    for step in range(steps // 2):
        trial.report(0.9, step)
    return trial


def seconds_per_call(trial: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        trial.should_prune()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--finished", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.simplefilter("ignore")  # Optuna's experimental warnings
    costs = {
        name: seconds_per_call(running_trial(library, args.finished, args.steps), args.repeat)
        for name, library in (("tunelab", tunelab), ("optuna", optuna))
    }
    print(environment(optuna=optuna.__version__))
    print(markdown_table(
        ["finished trials", "steps", "tunelab ms/call", "optuna ms/call", "tunelab/optuna"],
        [[f"{args.finished:,}", str(args.steps), f"{costs['tunelab'] * 1e3:.3f}",
          f"{costs['optuna'] * 1e3:.3f}", f"{costs['tunelab'] / costs['optuna']:.2f}"]],
    ))


if __name__ == "__main__":
    main()
