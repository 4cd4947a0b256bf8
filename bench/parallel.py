"""Parallel workers on one study: throughput and correctness beside Optuna, and CPU speed-up.

1. Throughput: W worker processes (1, 2, 4, 8 by default) join one study on a shared storage
   and each runs ``--trials-per-worker`` trials of a trivial objective (random search, two
   floats), as ``tunelab worker`` processes on one machine would; the same with Optuna
   (``load_study(...).optimize`` in W processes on an RDBStorage of the same URL kind). All
   workers start together behind a barrier; the figure is trials per second of wall time from
   the barrier until the last worker ends. After each run the study is checked: every trial
   recorded, trial numbers unique, none left RUNNING, and no worker raised (SQLite's "database
   is locked" would show there). SQLite always; PostgreSQL with ``--postgres URL`` (each run
   on an emptied database).
2. Speed-up: a CPU-bound objective (pure-Python arithmetic, about ``--cpu-seconds`` per trial)
   run with ``optimize(n_jobs=1)`` and ``optimize(n_jobs=2)``; the ratio of wall times,
   process start-up included.

Usage: ``python bench/parallel.py [--workers 1 2 4 8] [--trials-per-worker 200]
[--postgres URL] [--cpu-trials 40] [--cpu-seconds 0.5]``; about 4 minutes on 2 cores with
SQLite only.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import tunelab
from tunelab.trial import TrialState

STUDY = "parallel"


def trivial(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    y = trial.suggest_float("y", -5.0, 5.0)
    return x * x + y * y


def cpu_bound(trial: Any) -> float:
    x = trial.suggest_float("x", -5.0, 5.0)
    total = 0.0
    for i in range(CPU_LOOPS):
        total += (x * i) % 7.0
    return total


LOOPS_VARIABLE = "TUNELAB_BENCH_CPU_LOOPS"
# Calibrated by main() from --cpu-seconds; spawned workers re-import this module and read it
# from the environment they inherit.
CPU_LOOPS = int(os.environ.get(LOOPS_VARIABLE, "0"))


def tunelab_worker(url: str, n_trials: int, barrier: Any, errors: Any) -> None:
    logging.getLogger("tunelab").setLevel(logging.ERROR)
    try:
        study = tunelab.load_study(STUDY, url, sampler="random")
        barrier.wait()
        study.optimize(trivial, n_trials=n_trials, catch=())
    except Exception as error:  # reported to the parent, which counts it as a failure
        errors.put(f"tunelab: {type(error).__name__}: {error}")


def optuna_worker(url: str, n_trials: int, barrier: Any, errors: Any) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        study = optuna.load_study(study_name=STUDY, storage=url,
                                  sampler=optuna.samplers.RandomSampler())
        barrier.wait()
        study.optimize(trivial, n_trials=n_trials, catch=())
    except Exception as error:
        errors.put(f"optuna: {type(error).__name__}: {error}")


def create(library: str, url: str) -> None:
    if library == "tunelab":
        tunelab.create_study(name=STUDY, storage=url)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        optuna.create_study(study_name=STUDY, storage=url)


def check(library: str, url: str, expected: int) -> str:
    """'ok' or what is wrong with the study after a run."""
    if library == "tunelab":
        records = tunelab.load_study(STUDY, url).trials
        numbers = [r.number for r in records]
        running = sum(r.state is TrialState.RUNNING for r in records)
    else:
        import optuna

        trials = optuna.load_study(study_name=STUDY, storage=url).trials
        numbers = [t.number for t in trials]
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in trials)
    problems = []
    if len(numbers) != expected:
        problems.append(f"{len(numbers)} trials recorded, not {expected}")
    if len(set(numbers)) != len(numbers):
        problems.append("duplicate trial numbers")
    if running:
        problems.append(f"{running} left RUNNING")
    return "; ".join(problems) or "ok"


def throughput(library: str, url: str, workers: int, per_worker: int) -> tuple[float, str]:
    create(library, url)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers + 1)
    errors = context.Queue()
    target = tunelab_worker if library == "tunelab" else optuna_worker
    processes = [
        context.Process(target=target, args=(url, per_worker, barrier, errors))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - started
    failures = []
    while not errors.empty():
        failures.append(errors.get())
    status = check(library, url, workers * per_worker)
    if failures:
        status = f"{len(failures)} worker(s) raised, e.g. {failures[0]}"
    return workers * per_worker / seconds, status


def fresh_sqlite(folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}.db"


def emptied_postgres(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        names = [r[0] for r in connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        for table in names:
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    engine.dispose()
    return url


def speed_up(folder: Path, n_trials: int) -> tuple[float, float]:
    times = []
    for n_jobs in (1, 2):
        study = tunelab.create_study(name=f"cpu-{n_jobs}",
                                     storage=fresh_sqlite(folder, f"cpu{n_jobs}"),
                                     sampler="random")
        started = time.perf_counter()
        study.optimize(cpu_bound, n_trials=n_trials, n_jobs=n_jobs)
        times.append(time.perf_counter() - started)
    return times[0], times[1]


def calibrate(seconds: float) -> int:
    """Loop count for about ``seconds`` of cpu_bound on this machine."""
    loops, total, start = 200_000, 0.0, time.perf_counter()
    for i in range(loops):
        total += (0.5 * i) % 7.0
    return int(loops * seconds / (time.perf_counter() - start))


def run_table(backends: list[tuple[str, Callable[[str], str]]], workers: list[int],
              per_worker: int) -> None:
    print(f"Throughput, trials/s ({per_worker} trials per worker, trivial objective)")
    print(f"{'storage':<10} {'workers':>7} {'tunelab':>9} {'optuna':>9}  check (tunelab / optuna)")
    for backend, make_url in backends:
        for count in workers:
            row = {}
            for library in ("tunelab", "optuna"):
                row[library] = throughput(library, make_url(f"{library}-{count}"), count,
                                          per_worker)
            print(f"{backend:<10} {count:>7} {row['tunelab'][0]:9.1f} {row['optuna'][0]:9.1f}  "
                  f"{row['tunelab'][1]} / {row['optuna'][1]}", flush=True)


def main() -> None:
    global CPU_LOOPS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--trials-per-worker", type=int, default=200)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--postgres-workers", type=int, nargs="+", default=None)
    parser.add_argument("--cpu-trials", type=int, default=40)
    parser.add_argument("--cpu-seconds", type=float, default=0.5)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.skip_throughput:
            run_table([("sqlite", lambda name: fresh_sqlite(folder, name))], args.workers,
                      args.trials_per_worker)
            if args.postgres:
                run_table([("postgresql", lambda name: emptied_postgres(args.postgres))],
                          args.postgres_workers or args.workers, args.trials_per_worker)
        CPU_LOOPS = calibrate(args.cpu_seconds)
        os.environ[LOOPS_VARIABLE] = str(CPU_LOOPS)
        serial, parallel = speed_up(folder, args.cpu_trials)
        print(f"CPU-bound objective, {args.cpu_trials} trials of about {args.cpu_seconds} s: "
              f"n_jobs=1 {serial:.1f} s, n_jobs=2 {parallel:.1f} s, "
              f"speed-up {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
