"""Time per suggestion of tunelab's samplers beside Optuna's, as the history grows.

Both libraries run the same ask / suggest / tell loop on the same function (Ackley in ``d``
dimensions on [-32.768, 32.768]^d, minimized), one after the other in this process. The time of
trial ``n`` is the wall time of ``ask``, the ``suggest_float`` calls (where a sampler does its
work) and ``tell``, without the objective. Reported: the mean over the last ``--window`` trials
before each checkpoint (so "at 1000 trials" is the mean of trials 991-1000), and the mean over the
whole run.

Default comparisons (the issue's acceptance): TPE with 10 parameters up to 1000 trials, and
GP-BO with 5 parameters up to 300 trials. Run it on an otherwise idle machine; BLAS threads are
whatever the environment gives both libraries (``OMP_NUM_THREADS``).

Usage: ``python bench/suggestion_time.py [--pairs tpe,gp] [--seed S] [--window W]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

import tunelab
from report import environment as report_environment  # bench/report.py, beside this file
from report import markdown_table

LOW, HIGH = -32.768, 32.768


@dataclass(frozen=True)
class Pair:
    """One sampler of each library on one problem size."""

    name: str
    dims: int
    n_trials: int
    checkpoints: tuple[int, ...]
    tunelab_spec: dict[str, Any]
    optuna_sampler: Callable[[int], optuna.samplers.BaseSampler]


PAIRS = {
    "tpe": Pair("tpe", 10, 1000, (100, 300, 1000), {"name": "tpe"},
                lambda seed: optuna.samplers.TPESampler(seed=seed)),
    "gp": Pair("gp", 5, 300, (50, 100, 200, 300), {"name": "gp"},
               lambda seed: optuna.samplers.GPSampler(seed=seed)),
}


def ackley(x: np.ndarray) -> float:
    term1 = -20 * math.exp(-0.2 * math.sqrt(float((x**2).mean())))
    return term1 - math.exp(float(np.cos(2 * math.pi * x).mean())) + 20 + math.e


def timed_loop(study: Any, dims: int, n_trials: int) -> list[float]:
    """Seconds of sampler work (ask, suggest, tell) for each trial."""
    seconds = []
    for _ in range(n_trials):
        started = time.perf_counter()
        trial = study.ask()
        x = np.array([trial.suggest_float(f"x{i}", LOW, HIGH) for i in range(dims)])
        asked = time.perf_counter()
        value = ackley(x)
        evaluated = time.perf_counter()
        study.tell(trial, value)
        seconds.append((asked - started) + (time.perf_counter() - evaluated))
    return seconds


def run_pair(pair: Pair, seed: int) -> dict[str, list[float]]:
    tunelab_study = tunelab.create_study(sampler={**pair.tunelab_spec, "seed": seed})
    optuna_study = optuna.create_study(sampler=pair.optuna_sampler(seed))
    return {
        f"tunelab:{pair.name}": timed_loop(tunelab_study, pair.dims, pair.n_trials),
        f"optuna:{pair.name}": timed_loop(optuna_study, pair.dims, pair.n_trials),
    }


def table(pair: Pair, times: dict[str, list[float]], window: int) -> str:
    headers = ["sampler", *(f"ms at {c}" for c in pair.checkpoints), "mean ms (whole run)"]
    rows = []
    for key, seconds in times.items():
        at = [statistics.fmean(seconds[max(c - window, 0) : c]) * 1e3 for c in pair.checkpoints]
        rows.append([key, *(f"{t:.2f}" for t in at), f"{statistics.fmean(seconds) * 1e3:.2f}"])
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default="tpe,gp", help=f"comma-separated, of {list(PAIRS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--window", type=int, default=10, help="trials averaged per checkpoint")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.pairs.split(",") if n.strip()]
    unknown = [n for n in names if n not in PAIRS]
    if unknown or args.window < 1:
        parser.error(f"unknown pairs {unknown} (known: {list(PAIRS)}); --window must be >= 1")
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    print("# Time per suggestion: tunelab and Optuna\n")
    env = report_environment(optuna=optuna.__version__, numpy=np.__version__)
    print("\n".join(f"- {key}: {value}" for key, value in env.items()) + "\n")
    for name in names:
        pair = PAIRS[name]
        times = run_pair(pair, args.seed)
        print(f"## {name}: {pair.dims} parameters, {pair.n_trials} trials, mean of the last "
              f"{args.window} trials before each checkpoint\n\n{table(pair, times, args.window)}\n",
              flush=True)


if __name__ == "__main__":
    main()
