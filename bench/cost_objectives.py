"""Tuning for accuracy and cost: the fronts tunelab finds on ``examples/digits_cost.yaml`` beside
random search's, with the same budget.

The example searches a digits CNN (depth, channels, kernel size, head width, learning rate) for
three objectives: validation accuracy (maximized), parameters and inference latency (minimized),
with models over 50,000 parameters refused before they train. Each sampler runs ``--trials``
trials (default 60) per seed, in this process, on the example's task as ``tunelab run`` builds
it: ``tpe`` (multi-objective TPE, the example's sampler), ``auto`` (tunelab's default, NSGA-II
for several objectives) and ``random``, or the sampler names given with ``--samplers``. For
each seed the samplers take turns, in an order that alternates from seed to seed, so that a
change in the machine's load over the run falls on all of them alike.

Metric: the hypervolume of the front of the feasible trials (those that met the limit), each
objective normalized between a fixed ideal point and a fixed reference point, so that the unit
cube is the whole space and the hypervolume is a fraction of it:

- accuracy: ideal 1.0, reference 0.75 (an error of 25 %);
- parameters: ideal 0, reference 50,000 (the example's limit);
- inference latency: ideal 0 ms, reference ``--latency-reference`` ms (default 2.0, about the
  slowest feasible model of a first look at the space on this machine: the latency is the
  machine's, so this reference is too).

A trial beyond the reference point in any objective adds nothing. The figures at each
``--checkpoints`` budget are read from the first that many trials of each run. Also printed:
the trials that met the limit, the front's size and the wall time per run.

Usage: ``python bench/cost_objectives.py [--seeds 5] [--trials 60] [--checkpoints 30 60]
[--samplers tpe,auto,random] [--latency-reference 2.0] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import tunelab
from report import environment, load_average, markdown_table  # bench/report.py, beside this
from tunelab.config import load_study_file
from tunelab.constraints import is_feasible
from tunelab.samplers._pareto import hypervolume
from tunelab.study._ranking import pareto_front

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "digits_cost.yaml"
IDEAL = (1.0, 0.0, 0.0)  # accuracy, parameters, latency (ms)


def reference_point(latency_ms: float) -> tuple[float, float, float]:
    return (0.75, 50_000.0, latency_ms)


def normalized_hypervolume(
    trials: list[tunelab.TrialRecord], reference: tuple[float, float, float]
) -> float:
    """The hypervolume of the feasible completed trials, each objective scaled to [0, 1]
    between IDEAL and ``reference`` and minimized, as a fraction of the unit cube."""
    points = [
        [(IDEAL[0] - acc) / (IDEAL[0] - reference[0]),
         params / reference[1],
         latency / reference[2]]
        for acc, params, latency in (
            r.values for r in trials
            if r.state is tunelab.TrialState.COMPLETE and r.values and is_feasible(r)
        )
    ]
    if not points:
        return 0.0
    return hypervolume(np.array(points), np.ones(3))


def run(task: Any, config: Any, sampler: str, seed: int, n_trials: int) -> dict[str, Any]:
    study = tunelab.create_study(
        name=f"{sampler}-{seed}",
        directions=config.objective_directions,
        metric_names=config.metric_names,
        sampler=sampler,
        seed=seed,
    )
    started = time.perf_counter()
    study.optimize(task, n_trials=n_trials)
    seconds = time.perf_counter() - started
    return {"trials": study.trials, "seconds": seconds}


def measure(trials: list[tunelab.TrialRecord], budget: int, latency_ms: float) -> dict[str, Any]:
    first = [r for r in trials if r.number < budget]
    feasible = [r for r in first if r.state is tunelab.TrialState.COMPLETE and is_feasible(r)]
    return {
        "hypervolume": normalized_hypervolume(first, reference_point(latency_ms)),
        "feasible": len(feasible),
        "front": len(pareto_front(feasible, ["maximize", "minimize", "minimize"])),
    }


def table(figures: dict[str, dict[int, list[dict[str, Any]]]], seconds: dict[str, list[float]],
          checkpoints: list[int]) -> str:
    headers = ["sampler", "trials", "hypervolume median", "min", "mean ± sem", "per seed",
               "met the limit", "front size", "s / run"]
    rows = []
    for budget in checkpoints:
        for name, by_budget in figures.items():
            entries = by_budget[budget]
            hvs = [e["hypervolume"] for e in entries]
            sem = statistics.stdev(hvs) / len(hvs) ** 0.5 if len(hvs) > 1 else 0.0
            rows.append([
                name, str(budget), f"{statistics.median(hvs):.3f}", f"{min(hvs):.3f}",
                f"{statistics.fmean(hvs):.3f} ± {sem:.3f}",
                " ".join(f"{h:.3f}" for h in hvs),
                f"{statistics.fmean(e['feasible'] for e in entries):.1f}",
                f"{statistics.fmean(e['front'] for e in entries):.1f}",
                f"{statistics.fmean(seconds[name]):.0f}",
            ])
    return markdown_table(headers, rows)


def wins(figures: dict[str, dict[int, list[dict[str, Any]]]], budget: int) -> str:
    """For each sampler but random, on how many seeds its hypervolume beat random's."""
    if "random" not in figures:
        return ""
    baseline = [e["hypervolume"] for e in figures["random"][budget]]
    parts = []
    for name, by_budget in figures.items():
        if name != "random":
            mine = [e["hypervolume"] for e in by_budget[budget]]
            parts.append(f"{name} above random on {sum(m > b for m, b in zip(mine, baseline))} "
                         f"of {len(mine)} seeds")
    return f"At {budget} trials: " + "; ".join(parts) + "."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[30, 60])
    parser.add_argument("--samplers", default="tpe,auto,random")
    parser.add_argument("--latency-reference", type=float, default=2.0)
    parser.add_argument("--json")
    args = parser.parse_args()
    logging.getLogger("tunelab").setLevel(logging.ERROR)
    config, task = load_study_file(EXAMPLE)
    samplers = args.samplers.split(",")
    checkpoints = [c for c in args.checkpoints if c <= args.trials]
    env = environment(torch=__import__("torch").__version__)
    env["load average at start"] = load_average()
    figures: dict[str, dict[int, list[dict[str, Any]]]] = {
        name: {budget: [] for budget in checkpoints} for name in samplers
    }
    seconds: dict[str, list[float]] = {name: [] for name in samplers}
    for seed in range(args.seeds):
        order = samplers if seed % 2 == 0 else samplers[::-1]
        for name in order:
            outcome = run(task, config, name, seed, args.trials)
            seconds[name].append(outcome["seconds"])
            for budget in checkpoints:
                figures[name][budget].append(
                    measure(outcome["trials"], budget, args.latency_reference)
                )
            last = figures[name][checkpoints[-1]][-1]
            print(f"done: seed {seed} {name}: hypervolume {last['hypervolume']:.3f} "
                  f"({outcome['seconds']:.0f} s)", flush=True)
    env["load average at end"] = load_average()
    print()
    for key, value in env.items():
        print(f"- {key}: {value}")
    reference = reference_point(args.latency_reference)
    print(f"\nReference point: accuracy {reference[0]}, {reference[1]:,.0f} parameters, "
          f"{reference[2]} ms; ideal: accuracy 1.0, 0 parameters, 0 ms\n")
    print(table(figures, seconds, checkpoints))
    print()
    for budget in checkpoints:
        print(wins(figures, budget))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "figures": figures}, f, indent=1)


if __name__ == "__main__":
    main()
