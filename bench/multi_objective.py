"""Multi-objective search: tunelab's TPE, NSGA-II and ``auto`` beside Optuna's TPE and NSGA-II.

Each sampler runs ``--trials`` trials (default 300) on each problem once per seed, with its
defaults: tunelab ``TPESampler(seed=s)``, ``TPESampler(seed=s, multivariate=False)``
(``tpe-independent``, the model Optuna's TPE uses for several objectives),
``NSGA2Sampler(seed=s)``, ``create_study(directions=..., seed=s)`` (``auto``) and
``RandomSampler(seed=s)``; Optuna ``TPESampler(seed=s)`` (Optuna 5's default sampler for
several objectives) and ``NSGAIISampler(seed=s)``. Named only: ``tunelab:nsga2-former``
(NSGA-II with its former defaults: 50 per generation, SBX with index 15, mutation index 20)
and ``tunelab:nsga3`` (``NSGA3Sampler(seed=s)``); and any of ``tunelab:nsga2``,
``tunelab:nsga3``, ``tunelab:tpe`` and ``optuna:nsga2`` with constructor options appended as
``+key=value`` (``tunelab:nsga2+population_size=50+crossover=sbx``). The figures at each
``--checkpoints`` budget are read from the first that many trials of the run: no sampler here
is told the budget, so they are what a run of that length gives.

Problems:

- ``quadratic-cat``: ``x`` float in [-100, 100], ``y`` categorical in {-1, 0, 1}; minimize
  ``x^2 + y``, maximize ``-((x - 2)^2 + y)`` (the example of Optuna's multi-objective
  tutorial, with a categorical). The front is ``y = -1``, ``x`` in [0, 2].
  Hypervolume reference: ``f1 = 10``, ``f2 = -10``.
- ``zdt1-5``: ZDT1 (Zitzler, Deb & Thiele 2000) on 5 floats in [0, 1], both minimized; the
  front is ``f2 = 1 - sqrt(f1)`` where ``x1 = ... = x4 = 0``. Reference (1.1, 1.1), the usual
  one (a random point has ``g`` near 5.5 and seldom counts).
- ``dtlz2-cat``: DTLZ2 (Deb, Thiele, Laumanns & Zitzler 2002) with 3 objectives, all minimized,
  on 4 floats in [0, 1] (``x0``, ``x1`` place a point on the front, ``x2``, ``x3`` its distance
  ``g = (x2 - 0.5)^2 + (x3 - 0.5)^2 + offset``) and a categorical ``kind`` in {a, b, c, d}
  adding offset 0.5, 0, 0.25, 1.0 to ``g``. The front is the unit sphere's octant, reached
  with ``kind = b``. Reference (1.1, 1.1, 1.1).
- Named only: ``zdt1-30`` and ``zdt2-30``, ZDT1 and ZDT2 on 30 floats (ZDT2's front is
  ``f2 = 1 - f1^2``, concave), reference (1.1, 1.1). A random point has ``g`` near 5.5, so
  they separate samplers only at budgets of a thousand trials or more (``--trials 2000``).

Metrics, per problem, sampler and budget, over the seeds:

- front size: the number of trials that no other trial dominates (what ``study.best_trials``
  holds in both libraries), mean;
- hypervolume of the front, objectives signed to be minimized, with the fixed reference point
  above (2-D: :func:`tunelab.samplers.nsga2.hypervolume_2d`; 3-D: slices of it), as a
  fraction of the true front's (sampled densely): median, minimum, mean ± sem (per seed in
  the ``--json`` file);
- time / fastest: wall time of the whole run per trial (objectives cost nothing here) as a
  ratio to the fastest sampler's on that problem in the same run.

Usage: ``python bench/multi_objective.py [--seeds S] [--sampler-seeds NAME=S,...] [--trials N]
[--checkpoints 100 300] [--problems A,B] [--samplers X,Y] [--json FILE]``. Defaults: 5 seeds,
300 trials, checkpoints 100 and 300, the three small problems and every sampler not marked
"named only". ``--sampler-seeds`` runs the named samplers on fewer seeds (seeds 0 to S - 1),
for samplers too slow to run every seed at a large budget.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import math
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna

import tunelab
from report import environment, load_average, markdown_table  # bench/report.py, beside this
from tunelab.samplers import NSGA2Sampler, NSGA3Sampler, RandomSampler, TPESampler
from tunelab.samplers.nsga2 import hypervolume_2d

# Problems ---------------------------------------------------------------------------------


def quadratic_cat(trial: Any) -> tuple[float, float]:
    x = trial.suggest_float("x", -100, 100)
    y = trial.suggest_categorical("y", [-1, 0, 1])
    return x**2 + y, -((x - 2) ** 2 + y)


def zdt1_shape(ratio: float) -> float:
    return 1.0 - math.sqrt(ratio)


def zdt2_shape(ratio: float) -> float:
    return 1.0 - ratio * ratio


def zdt(dims: int, shape: Callable[[float], float]) -> Callable[[Any], tuple[float, float]]:
    """ZDT on ``dims`` floats in [0, 1]: ``f1 = x0``, ``f2 = g * shape(f1 / g)`` with
    ``g = 1 + 9 * mean(x1 ...)``; the front is ``g = 1``."""

    def objective(trial: Any) -> tuple[float, float]:
        xs = [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)]
        g = 1.0 + 9.0 * sum(xs[1:]) / (dims - 1)
        return xs[0], g * shape(xs[0] / g)

    return objective


DTLZ2_OFFSET = {"a": 0.5, "b": 0.0, "c": 0.25, "d": 1.0}


def dtlz2_cat(trial: Any) -> tuple[float, float, float]:
    x0, x1, x2, x3 = (trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(4))
    kind = trial.suggest_categorical("kind", list(DTLZ2_OFFSET))
    radius = 1.0 + (x2 - 0.5) ** 2 + (x3 - 0.5) ** 2 + DTLZ2_OFFSET[kind]
    a, b = x0 * math.pi / 2, x1 * math.pi / 2
    return (
        radius * math.cos(a) * math.cos(b),
        radius * math.cos(a) * math.sin(b),
        radius * math.sin(a),
    )


@dataclass(frozen=True)
class Problem:
    name: str
    objective: Callable[[Any], Sequence[float]]
    directions: tuple[str, ...]
    reference: tuple[float, ...]  # in the minimized (signed) objectives
    true_front: Callable[[], np.ndarray]  # dense points of the true front, minimized

    def signs(self) -> np.ndarray:
        return np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])


def _quadratic_front() -> np.ndarray:
    x = np.linspace(0.0, 2.0, 20_001)
    return np.column_stack([x**2 - 1, (x - 2) ** 2 - 1])


def _zdt_front(shape: Callable[[float], float]) -> Callable[[], np.ndarray]:
    def front() -> np.ndarray:
        f1 = np.linspace(0.0, 1.0, 100_001)
        return np.column_stack([f1, np.vectorize(shape)(f1)])

    return front


def _sphere_front() -> np.ndarray:
    a, b = np.meshgrid(np.linspace(0, np.pi / 2, 301), np.linspace(0, np.pi / 2, 301))
    a, b = a.ravel(), b.ravel()
    return np.column_stack([np.cos(a) * np.cos(b), np.cos(a) * np.sin(b), np.sin(a)])


PROBLEMS = {
    p.name: p
    for p in [
        Problem("quadratic-cat", quadratic_cat, ("minimize", "maximize"), (10.0, 10.0),
                _quadratic_front),
        Problem("zdt1-5", zdt(5, zdt1_shape), ("minimize", "minimize"), (1.1, 1.1),
                _zdt_front(zdt1_shape)),
        Problem("zdt1-30", zdt(30, zdt1_shape), ("minimize", "minimize"), (1.1, 1.1),
                _zdt_front(zdt1_shape)),
        Problem("zdt2-30", zdt(30, zdt2_shape), ("minimize", "minimize"), (1.1, 1.1),
                _zdt_front(zdt2_shape)),
        Problem("dtlz2-cat", dtlz2_cat, ("minimize",) * 3, (1.1, 1.1, 1.1), _sphere_front),
    ]
}


# Hypervolume ------------------------------------------------------------------------------


def non_dominated(points: np.ndarray) -> np.ndarray:
    keep = [
        not np.any(np.all(points <= p, axis=1) & np.any(points < p, axis=1)) for p in points
    ]
    return points[np.array(keep, dtype=bool)] if len(points) else points


def hypervolume(points: np.ndarray, reference: Sequence[float]) -> float:
    """Of points minimized, against ``reference``: 2-D exactly; 3-D as slices along the last
    objective, each a 2-D hypervolume."""
    ref = np.asarray(reference, dtype=float)
    points = points[np.all(points < ref, axis=1)] if len(points) else points
    if len(points) == 0:
        return 0.0
    if len(ref) == 2:
        return hypervolume_2d(points, ref)
    assert len(ref) == 3, "only 2 or 3 objectives"
    points = non_dominated(points)
    order = np.argsort(points[:, 2], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(len(points)):
        top = points[i + 1, 2] if i + 1 < len(points) else ref[2]
        if top > points[i, 2]:
            volume += hypervolume_2d(points[: i + 1, :2], ref[:2]) * (top - points[i, 2])
    return volume


_TRUE_HV: dict[str, float] = {}


def true_hypervolume(problem: Problem) -> float:
    if problem.name not in _TRUE_HV:
        front = problem.true_front()
        if front.shape[1] == 3:  # the octant of the unit sphere: the box minus the ball's part
            ref = np.asarray(problem.reference)
            value = float(np.prod(ref)) - math.pi / 6
        else:
            value = hypervolume(front, problem.reference)
        _TRUE_HV[problem.name] = value
    return _TRUE_HV[problem.name]


# Samplers ---------------------------------------------------------------------------------


def run_tunelab(make: Callable[[int], Any]) -> Callable[[Problem, int, int], list[Any]]:
    def run(problem: Problem, seed: int, n_trials: int) -> list[Any]:
        sampler = make(seed)
        if sampler is None:  # auto, the default
            study = tunelab.create_study(directions=list(problem.directions), seed=seed)
        else:
            study = tunelab.create_study(directions=list(problem.directions), sampler=sampler)
        study.optimize(problem.objective, n_trials=n_trials, catch=())
        return [(t.number, t.values) for t in study.trials]

    return run


def run_optuna(make: Callable[[int], Any]) -> Callable[[Problem, int, int], list[Any]]:
    def run(problem: Problem, seed: int, n_trials: int) -> list[Any]:
        study = optuna.create_study(directions=list(problem.directions), sampler=make(seed))
        study.optimize(problem.objective, n_trials=n_trials)
        return [(t.number, t.values) for t in study.trials]

    return run


SAMPLERS: dict[str, Callable[[Problem, int, int], list[Any]]] = {
    "tunelab:tpe": run_tunelab(lambda s: TPESampler(seed=s)),
    "tunelab:tpe-independent": run_tunelab(lambda s: TPESampler(seed=s, multivariate=False)),
    "tunelab:nsga2": run_tunelab(lambda s: NSGA2Sampler(seed=s)),
    "tunelab:nsga2-former": run_tunelab(
        lambda s: NSGA2Sampler(seed=s, population_size=50, crossover="sbx", eta_mutation=20.0)
    ),
    "tunelab:nsga3": run_tunelab(lambda s: NSGA3Sampler(seed=s)),
    "tunelab:auto": run_tunelab(lambda s: None),
    "tunelab:random": run_tunelab(lambda s: RandomSampler(seed=s)),
    "optuna:tpe": run_optuna(lambda s: optuna.samplers.TPESampler(seed=s)),
    "optuna:nsga2": run_optuna(lambda s: optuna.samplers.NSGAIISampler(seed=s)),
}
# Samplers that take options in their bench name: ``BASE+key=value+...`` passes each
# ``key=value`` (a Python literal, else a string) to the constructor, e.g.
# ``tunelab:nsga2+population_size=50+crossover=sbx``.
WITH_OPTIONS: dict[str, Callable[..., Callable[[Problem, int, int], list[Any]]]] = {
    "tunelab:nsga2": lambda **kw: run_tunelab(lambda s: NSGA2Sampler(seed=s, **kw)),
    "tunelab:nsga3": lambda **kw: run_tunelab(lambda s: NSGA3Sampler(seed=s, **kw)),
    "tunelab:tpe": lambda **kw: run_tunelab(lambda s: TPESampler(seed=s, **kw)),
    "optuna:nsga2": lambda **kw: run_optuna(
        lambda s: optuna.samplers.NSGAIISampler(seed=s, **kw)
    ),
}


def runner(name: str) -> Callable[[Problem, int, int], list[Any]]:
    """The sampler a bench name gives: one of SAMPLERS, or a base of WITH_OPTIONS with
    options."""
    if name in SAMPLERS:
        return SAMPLERS[name]
    base, *options = name.split("+")
    if base not in WITH_OPTIONS or not options:
        raise SystemExit(f"unknown sampler {name!r}: give one of {', '.join(SAMPLERS)}, or "
                         f"one of {', '.join(WITH_OPTIONS)} followed by +key=value options")
    return WITH_OPTIONS[base](**dict(_option(text) for text in options))


def _option(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


# What runs unless --problems or --samplers name others.
DEFAULT_PROBLEMS = ("quadratic-cat", "zdt1-5", "dtlz2-cat")
DEFAULT_SAMPLERS = ("tunelab:tpe", "tunelab:tpe-independent", "tunelab:nsga2", "tunelab:auto",
                    "tunelab:random", "optuna:tpe", "optuna:nsga2")


# Measuring --------------------------------------------------------------------------------


def measure(problem: Problem, trials: list[Any], budget: int) -> tuple[int, float]:
    """Front size and hypervolume fraction of the first ``budget`` trials."""
    values = np.array([v for n, v in trials if n < budget and v is not None], dtype=float)
    losses = values * problem.signs()
    front = non_dominated(losses)
    # Equal points are all on the front (as in best_trials); count them as trials.
    on_front = sum(bool(np.any(np.all(front == p, axis=1))) for p in losses)
    return on_front, hypervolume(front, problem.reference) / true_hypervolume(problem)


def seeds_per_sampler(samplers: list[str], seeds: int, fewer: str) -> dict[str, int]:
    """Seeds each sampler runs: ``seeds``, or as ``--sampler-seeds NAME=S,...`` says."""
    counts = dict.fromkeys(samplers, seeds)
    for item in filter(None, fewer.split(",")):
        name, _, count = item.partition("=")
        if name not in counts:
            raise SystemExit(f"--sampler-seeds: {name!r} is not among --samplers")
        counts[name] = int(count)
    return counts


def run_all(
    problems: list[Problem], seeds: dict[str, int], trials: int, checkpoints: list[int]
) -> dict[str, Any]:
    """Per problem and sampler (by name, with its number of seeds): front sizes and
    hypervolume fractions per seed at each checkpoint, and the wall time of each run in ms per
    trial."""
    figures: dict[str, Any] = {}
    runners = {name: runner(name) for name in seeds}  # an unknown name stops here, first
    for problem in problems:
        for name, count in seeds.items():
            for seed in range(count):
                started = time.perf_counter()
                runs = runners[name](problem, seed, trials)
                seconds = time.perf_counter() - started
                entry = figures.setdefault(problem.name, {}).setdefault(name, {"ms": []})
                entry["ms"].append(1000 * seconds / trials)
                for budget in checkpoints:
                    size, hv = measure(problem, runs, budget)
                    entry.setdefault(f"front@{budget}", []).append(size)
                    entry.setdefault(f"hv@{budget}", []).append(hv)
            print(f"done: {problem.name} {name}", flush=True)
    return figures


def problem_table(entries: dict[str, Any], checkpoints: list[int]) -> str:
    """One row per sampler: at each checkpoint the mean front size and the hypervolume
    fraction's median, minimum and mean ± sem over the seeds; then the seeds and the wall time
    per trial as a ratio to the fastest sampler of the row set (the machine may be shared, so
    only ratios within one run are compared)."""
    fastest = min(statistics.fmean(entry["ms"]) for entry in entries.values())
    headers = ["sampler"]
    for budget in checkpoints:
        headers += [f"front @{budget} (mean)", f"HV @{budget} median", f"HV @{budget} min",
                    f"HV @{budget} mean ± sem"]
    headers += ["seeds", "time / fastest"]
    rows = []
    for name, entry in entries.items():
        row = [name]
        for budget in checkpoints:
            hvs = entry[f"hv@{budget}"]
            sem = statistics.stdev(hvs) / math.sqrt(len(hvs)) if len(hvs) > 1 else 0.0
            row += [f"{statistics.fmean(entry[f'front@{budget}']):.1f}",
                    f"{statistics.median(hvs):.3f}", f"{min(hvs):.3f}",
                    f"{statistics.fmean(hvs):.3f} ± {sem:.3f}"]
        row += [str(len(entry["ms"])), f"{statistics.fmean(entry['ms']) / fastest:.1f}"]
        rows.append(row)
    return markdown_table(headers, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sampler-seeds", default="",
                        help="fewer seeds for slow samplers: NAME=S,...")
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS))
    parser.add_argument("--samplers", default=",".join(DEFAULT_SAMPLERS))
    parser.add_argument("--json")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("tunelab").setLevel(logging.WARNING)
    warnings.simplefilter("ignore")  # Optuna's experimental-feature warnings
    problems = [PROBLEMS[name] for name in args.problems.split(",")]
    seeds = seeds_per_sampler(args.samplers.split(","), args.seeds, args.sampler_seeds)
    checkpoints = [c for c in args.checkpoints if c <= args.trials]
    env = environment(optuna=optuna.__version__)
    env["load average at start"] = load_average()
    figures = run_all(problems, seeds, args.trials, checkpoints)
    env["load average at end"] = load_average()
    print()
    for key, value in env.items():
        print(f"- {key}: {value}")
    for problem in problems:
        print(f"\n#### {problem.name} ({len(problem.directions)} objectives), "
              f"reference {problem.reference}\n")
        print(problem_table(figures[problem.name], checkpoints))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "figures": figures}, f, indent=1)


if __name__ == "__main__":
    main()
